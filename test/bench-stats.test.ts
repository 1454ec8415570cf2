/** Unit tests for the benchmark's arithmetic (bench/stats.ts); the benchmark itself is `npm run bench`. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  areaOf,
  edgeRates,
  frontendRequests,
  latencies,
  meets,
  percentile,
  spread,
  summarizeProfile,
  type CpuProfile,
} from '../bench/stats';

test('percentile is nearest-rank and NaN when there is nothing to rank', () => {
  const xs = [5, 1, 4, 2, 3, 6, 7, 8, 9, 10];
  assert.equal(percentile(xs, 50), 5);
  assert.equal(percentile(xs, 95), 10);
  assert.equal(percentile(xs, 10), 1);
  assert.equal(percentile(xs, 0), 1);
  assert.equal(percentile([42], 95), 42);
  assert.ok(Number.isNaN(percentile([], 50)));
  assert.deepEqual(xs, [5, 1, 4, 2, 3, 6, 7, 8, 9, 10], 'the input is not reordered');
});

test('latencies: submit → first step, and step → step within each run', () => {
  const submitted = new Map([
    ['a', 100],
    ['b', 200],
  ]);
  const starts = new Map([
    ['a', [110, 130, 160]],
    ['b', [240, 250]],
    ['c', [1000, 1005]],
  ]);
  const l = latencies(['a', 'b', 'c'], submitted, starts);
  // First steps: a 10, b 40 (c has no submit time). Gaps: a 20, 30; b 10; c 5.
  assert.equal(l.firstP50, 10);
  assert.equal(l.firstP95, 40);
  assert.equal(l.stepP50, 10);
  assert.equal(l.stepP95, 30);
  assert.ok(Number.isNaN(latencies(['x'], submitted, starts).firstP50), 'a run that never started has no latency');
});

test('edgeRates compares the first and last tenth of a run', () => {
  // 100 steps: 10 ms apart for the first half, 20 ms apart after.
  const times: number[] = [];
  for (let i = 0, t = 0; i < 100; i++, t += i <= 50 ? 10 : 20) times.push(t);
  const { first, last } = edgeRates(times);
  assert.ok(Math.abs(first - 100) < 1e-9, `first tenth at 100 steps/s, got ${first}`);
  assert.ok(Math.abs(last - 50) < 1e-9, `last tenth at 50 steps/s, got ${last}`);
  assert.ok(Number.isNaN(edgeRates([1, 2, 3]).first), 'too few steps');
});

test('meets: >= and <= limits, and NaN for a workload that did not run', () => {
  assert.equal(meets({ name: 'x', value: 0.95, op: '>=', limit: 0.95 }), true);
  assert.equal(meets({ name: 'x', value: 0.94, op: '>=', limit: 0.95 }), false);
  assert.equal(meets({ name: 'x', value: 1.1, op: '<=', limit: 1.1 }), true);
  assert.equal(meets({ name: 'x', value: 1.2, op: '<=', limit: 1.1 }), false);
  assert.equal(meets({ name: 'x', value: NaN, op: '<=', limit: 1.1 }), undefined);
});

test('areaOf groups code by where it lives', () => {
  assert.equal(areaOf('(idle)', ''), 'idle');
  assert.equal(areaOf('(garbage collector)', ''), 'gc');
  assert.equal(areaOf('f', 'file:///w/node_modules/@temporalio/worker/lib/x.js'), '@temporalio/worker');
  assert.equal(areaOf('f', 'file:///w/node_modules/undici/lib/x.js'), 'undici');
  assert.equal(areaOf('f', 'file:///w/src/activities/run-step.ts'), 'durable-runs');
  assert.equal(areaOf('f', 'node:internal/timers'), 'node');
});

test('summarizeProfile adds self time across threads, by area and by function', () => {
  const frame = (functionName: string, url: string) => ({ functionName, url, lineNumber: 9 });
  const main: CpuProfile = {
    nodes: [
      { id: 1, callFrame: frame('(root)', '') },
      { id: 2, callFrame: frame('runStep', 'file:///w/src/activities/run-step.ts') },
      { id: 3, callFrame: frame('(idle)', '') },
    ],
    // Each sample lasts until the next: runStep 3 ms, idle 1 ms, runStep 2 ms (the last sample has no length).
    samples: [2, 3, 2, 2],
    timeDeltas: [0, 3000, 1000, 2000],
  };
  const thread: CpuProfile = {
    nodes: [{ id: 7, callFrame: frame('init', 'file:///w/node_modules/@temporalio/worker/lib/vm-shared.js') }],
    samples: [7, 7],
    timeDeltas: [0, 4000],
  };
  const s = summarizeProfile([main, thread]);
  assert.equal(s.totalMs, 10);
  assert.equal(s.busyMs, 9, 'idle time is not busy time');
  assert.deepEqual(
    s.byArea.map((a) => [a.area, a.ms]),
    [
      ['durable-runs', 5],
      ['@temporalio/worker', 4],
    ],
  );
  assert.deepEqual(s.top[0], { fn: 'runStep', where: 'src/activities/run-step.ts:10', ms: 5, share: 5 / 9 });
  assert.ok(!s.top.some((f) => f.fn === '(idle)'));
});

test('spread: median of an odd and an even count, min and max, NaN rounds left out', () => {
  assert.deepEqual(spread([3, 1, 2, 5, 4]), { median: 3, min: 1, max: 5 });
  assert.deepEqual(spread([0.9, 1.1, 1.0, 1.3]), { median: 1.05, min: 0.9, max: 1.3 });
  assert.deepEqual(spread([2, NaN, 4]), { median: 3, min: 2, max: 4 });
  const empty = spread([]);
  assert.ok(Number.isNaN(empty.median) && Number.isNaN(empty.min) && Number.isNaN(empty.max));
});

test("frontendRequests: the frontend's request counters in one namespace, by operation", () => {
  const text = [
    '# HELP service_requests service_requests counter',
    '# TYPE service_requests counter',
    'service_requests{namespace="default",operation="RecordActivityTaskHeartbeat",service_name="frontend"} 26',
    'service_requests{namespace="default",operation="RecordActivityTaskHeartbeat",service_name="history"} 26',
    'service_requests{namespace="temporal_system",operation="RecordActivityTaskHeartbeat",service_name="frontend"} 3',
    'service_requests{operation="DescribeWorkflowExecution",service_name="frontend",namespace="default"} 1.5e+01',
    'service_latency_count{namespace="default",operation="DescribeWorkflowExecution",service_name="frontend"} 99',
  ].join('\n');
  assert.deepEqual(
    [...frontendRequests(text)],
    [
      ['RecordActivityTaskHeartbeat', 26],
      ['DescribeWorkflowExecution', 15],
    ],
  );
  assert.deepEqual([...frontendRequests(text, 'temporal_system')], [['RecordActivityTaskHeartbeat', 3]]);
  assert.equal(frontendRequests('').size, 0);
});
