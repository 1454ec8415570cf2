/**
 * The JSON nesting bound (MAX_JSON_DEPTH): the payload converter refuses deeper values and JSON in
 * both directions by name, the same in every thread; the client refuses a value that nests past
 * MAX_VALUE_DEPTH at the door; and the workflow's check of a step result's shape. Pure: no server.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { ValueError } from '@temporalio/common';
import fc from 'fast-check';
import { encode } from '@temporalio/common/lib/encoding';
import { RunsClient } from '../src';
import { jsonDeeperThan, MAX_VALUE_DEPTH, MAX_JSON_DEPTH } from '../src/shared/limits';
import { isUndecodable, lenientPayloadConverter, payloadConverter } from '../src/shared/payload-converter';
import { stepResultProblem } from '../src/shared/step-result';
import { validateOutcome, ValidationError, valueTooDeep } from '../src/shared/validate';

/** `depth` arrays inside one another around `inner`. */
const nested = (depth: number, inner: unknown = 1): unknown => {
  let value = inner;
  for (let i = 0; i < depth; i++) value = [value];
  return value;
};
const nestedText = (depth: number) => `${'['.repeat(depth)}1${']'.repeat(depth)}`;
const json = (text: string) => ({ metadata: { encoding: encode('json/plain') }, data: encode(text) });
const TOO_DEEP = `nested deeper than ${MAX_JSON_DEPTH} levels of arrays and objects (the MAX_JSON_DEPTH limit)`;

/** The reference: how deep a parsed JSON value nests (a scalar 0, `[]` 1). */
function depthOf(value: unknown): number {
  if (typeof value !== 'object' || value === null) return 0;
  const children = Array.isArray(value) ? value : Object.values(value);
  return 1 + children.reduce<number>((max, child) => Math.max(max, depthOf(child)), 0);
}

describe('the depth scan', () => {
  test('agrees with a reference for arbitrary JSON, strings with brackets, quotes and escapes included', () => {
    const text = fc.oneof(
      fc.json({ depthSize: 'large', maxDepth: 12 }),
      fc.jsonValue({ maxDepth: 12 }).map((v) => JSON.stringify(v, null, 1)),
      fc.constantFrom('"[[[[[[[[[[[["', '["\\"[[[[[[[[", [[["\\\\"]]]]', '{"a":{"b":"}}}}{{{{\\u005b"}}'),
    );
    fc.assert(
      fc.property(text, fc.nat(14), (t, max) => {
        assert.equal(jsonDeeperThan(t, max), depthOf(JSON.parse(t)) > max, `${t} at ${max}`);
      }),
      { numRuns: 2000 },
    );
  });

  test('texts of at most 2·max + 1 characters are not scanned: none can be deeper', () => {
    assert.equal(jsonDeeperThan(nestedText(3).replace('1', ''), 2), true); // 6 characters
    assert.equal(jsonDeeperThan('[[[', 1), false); // malformed and short: left to JSON.parse
  });
});

describe(`the payload converter refuses JSON deeper than MAX_JSON_DEPTH (${MAX_JSON_DEPTH})`, () => {
  test('reading: depth N passes, N + 1 is a ValueError naming the limit; the lenient converter marks it', () => {
    assert.deepEqual(payloadConverter.fromPayload(json(nestedText(MAX_JSON_DEPTH))), nested(MAX_JSON_DEPTH));
    assert.throws(
      () => payloadConverter.fromPayload(json(nestedText(MAX_JSON_DEPTH + 1))),
      (err: Error) => err instanceof ValueError && err.message === `JSON ${TOO_DEEP}`,
    );
    const marker = lenientPayloadConverter.fromPayload(json(nestedText(MAX_JSON_DEPTH + 1)));
    assert.ok(isUndecodable(marker));
    assert.equal(marker.reason, `payload with encoding "json/plain" could not be decoded: JSON ${TOO_DEEP}`);
    // Brackets inside strings do not count.
    const inString = `{"a":"${'['.repeat(5000)}"}`;
    assert.deepEqual(payloadConverter.fromPayload(json(inString)), { a: '['.repeat(5000) });
  });

  test('writing: depth N passes, N + 1 is refused naming the limit, and so is a value far past any stack', () => {
    const ok = payloadConverter.toPayload(nested(MAX_JSON_DEPTH));
    assert.equal(Buffer.from(ok.data!).toString(), nestedText(MAX_JSON_DEPTH));
    for (const depth of [MAX_JSON_DEPTH + 1, 200_000]) {
      assert.throws(
        () => payloadConverter.toPayload(nested(depth)),
        (err: Error) => err instanceof ValueError && err.message === `value ${TOO_DEEP}`,
        `depth ${depth}`,
      );
    }
    // Bytes are written as {"$bytes": …}: one level more.
    assert.throws(() => payloadConverter.toPayload(nested(MAX_JSON_DEPTH, new Uint8Array([1]))), /MAX_JSON_DEPTH/);
    assert.ok(payloadConverter.toPayload(nested(MAX_JSON_DEPTH - 1, new Uint8Array([1]))));
  });

  test('a value that is not JSON is still refused the way it was (the SDK cannot convert it)', () => {
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    assert.throws(() => payloadConverter.toPayload(cycle), /Unable to convert/);
  });
});

describe(`an input deeper than MAX_VALUE_DEPTH (${MAX_VALUE_DEPTH}) is refused at the door`, () => {
  test('valueTooDeep: N passes; N + 1, and far deeper, are refused naming the limits', () => {
    assert.equal(valueTooDeep('input', nested(MAX_VALUE_DEPTH)), undefined);
    const message = `input nests arrays and objects deeper than ${MAX_VALUE_DEPTH} levels, the most a run carries: it wraps a value up to 4 levels further down, within the ${MAX_JSON_DEPTH} levels a payload may nest (MAX_JSON_DEPTH)`;
    for (const depth of [MAX_VALUE_DEPTH + 1, 200_000]) assert.equal(valueTooDeep('input', nested(depth)), message);
    assert.equal(valueTooDeep('input', nested(MAX_VALUE_DEPTH, new Uint8Array([1]))), message);
    const cycle: Record<string, unknown> = {};
    cycle.self = cycle;
    assert.equal(valueTooDeep('input', cycle), undefined, 'not JSON: the converter names it');
    for (const shallow of [undefined, null, 'text', new Uint8Array([1])])
      assert.equal(valueTooDeep('data', shallow), undefined);
  });

  test('submit and sendEvent refuse it with a ValidationError before they reach a server', async () => {
    // A client without a connection (its constructor is private): the refusal comes before any call.
    const Unconnected = RunsClient as unknown as new (temporal: unknown, taskQueue: string) => RunsClient;
    const client = new Unconnected({}, 'durable-runs');
    await assert.rejects(
      client.submit({ input: { deep: nested(MAX_VALUE_DEPTH) } }),
      (err: Error) =>
        err instanceof ValidationError && /^input nests .* deeper than 996 levels.*MAX_JSON_DEPTH/.test(err.message),
    );
    await assert.rejects(
      client.sendEvent('r', 'approve', nested(MAX_VALUE_DEPTH + 1)),
      (err: Error) => err instanceof ValidationError && /^the event's data nests .* deeper than 996/.test(err.message),
    );
  });
});

describe("a step result's shape", () => {
  test('every outcome a runner can return passes, with the fields the step activity adds', () => {
    const outcomes = [
      { kind: 'continue', payload: 1 },
      { kind: 'continueAfter', payload: null, delay: '1s' },
      { kind: 'waitForEvent', payload: null, events: 'approve', timeout: '1h' },
      { kind: 'waitForEvent', payload: null, events: ['a', 'b'] },
      { kind: 'succeed', result: 42 },
      { kind: 'succeed' },
      { kind: 'fail', reason: 'no' },
      { kind: 'cancel', reason: 'stop' },
    ].map((o) => validateOutcome(o));
    const extras = { elapsedMs: 3, hooks: false, fast: true, chained: 2, nextFailed: { type: 'T', message: 'm' } };
    const children = [{ runId: 'r-0-0', spec: { input: 1, runner: 'default', headers: {} } }];
    const results = [
      ...outcomes,
      ...outcomes.map((o) => ({ ...o, ...extras })),
      { kind: 'runChildren', payload: null, children, maxConcurrent: 1 },
    ];
    for (const result of results) assert.equal(stepResultProblem(result), undefined, JSON.stringify(result));
  });

  test('anything else is named, with what arrived', () => {
    const table: Array<[unknown, string]> = [
      [{}, '{} (it has no "kind")'],
      ['ok', '"ok" (it is the string "ok", not an object with a "kind")'],
      [null, 'null (it is null, not an object with a "kind")'],
      [[1], '[1] (it is an array, not an object with a "kind")'],
      [{ kind: 'done' }, '{"kind":"done"} ("kind" "done" is not a step outcome\'s kind)'],
      [{ kind: 1 }, '{"kind":1} ("kind" 1 is not a step outcome\'s kind)'],
      [{ kind: 'fail' }, '{"kind":"fail"} ("fail" needs "reason", a string)'],
      [
        { kind: 'continueAfter' },
        '{"kind":"continueAfter"} ("continueAfter" needs "delayMs", a number of milliseconds)',
      ],
      [
        { kind: 'waitForEvent', events: [] },
        '{"kind":"waitForEvent","events":[]} ("waitForEvent" needs "events", a non-empty list of event names)',
      ],
      [
        { kind: 'runChildren', children: [{ runId: 'x' }], maxConcurrent: 1 },
        '{"kind":"runChildren","children":[{"runId":"x"}],"maxConcurrent":1} (child 0 must be {"runId": string, "spec": {…}})',
      ],
      [
        { kind: 'continue', nextFailed: 'x' },
        '{"kind":"continue","nextFailed":"x"} ("nextFailed" must be {"type": string, "message": string})',
      ],
    ];
    for (const [value, expected] of table) assert.equal(stepResultProblem(value), expected);
    assert.match(stepResultProblem({ big: 'x'.repeat(1000) })!, /^\{"big":"x{192}… \(it has no "kind"\)$/);
  });
});
