/**
 * Worker start time: from process start until `createWorker` has returned a worker ready to run,
 * with `npm run build`'s prebuilt workflow bundle ("prebuilt") and without it, when the worker
 * bundles its workflows with webpack at start ("bundled at start", what every start did before
 * the prebuilt bundle). Both from the compiled package against one dev server, in fresh
 * processes, alternating (ABBA) over the rounds; medians with min and max.
 *
 *   npm run build && node --import tsx bench/worker-start.ts [--rounds 6]
 */
import { execFile } from 'node:child_process';
import { cpSync, existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, promisify } from 'node:util';
import { startDevServer } from '../src/local/dev-server';

const exec = promisify(execFile);
const ROOT = join(__dirname, '..');
const { values } = parseArgs({ options: { rounds: { type: 'string', default: '6' } } });
const rounds = Number(values.rounds);

const LIB = join(ROOT, 'lib');
// A copy of lib/ without bundles, beside it so that its requires resolve the same way.
const BARE = join(ROOT, '.bench-lib-without-bundles');

function childScript(lib: string): string {
  return `
const { createWorker } = require(${JSON.stringify(join(lib, 'worker'))});
createWorker({
  runners: { default: async () => ({ kind: 'succeed', result: null }) },
  taskQueue: 'worker-start',
  webhook: false,
}).then((worker) => {
  const ms = performance.now();
  return worker.runUntil(Promise.resolve()).then(() => console.log(JSON.stringify({ ms })));
});`;
}

async function once(lib: string, address: string): Promise<number> {
  const { stdout } = await exec(process.execPath, ['-e', childScript(lib)], {
    cwd: ROOT,
    env: { ...process.env, TEMPORAL_ADDRESS: address },
    timeout: 300_000,
  });
  const line = stdout.trim().split('\n').at(-1)!;
  return (JSON.parse(line) as { ms: number }).ms;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;

async function main(): Promise<void> {
  if (!existsSync(join(LIB, 'bundles', 'workflows.js'))) throw new Error('run `npm run build` first');
  rmSync(BARE, { recursive: true, force: true });
  cpSync(LIB, BARE, { recursive: true });
  rmSync(join(BARE, 'bundles'), { recursive: true, force: true });
  const server = await startDevServer({ dbFile: false });
  const times = { prebuilt: [] as number[], 'bundled at start': [] as number[] };
  try {
    for (let r = 0; r < rounds; r++) {
      const order =
        r % 2 === 0 ? (['prebuilt', 'bundled at start'] as const) : (['bundled at start', 'prebuilt'] as const);
      for (const mode of order) times[mode].push(await once(mode === 'prebuilt' ? LIB : BARE, server.address));
    }
  } finally {
    await server.stop();
    rmSync(BARE, { recursive: true, force: true });
  }
  const row = (mode: keyof typeof times) => {
    const xs = times[mode];
    return `| ${mode} | ${median(xs).toFixed(0)} | ${Math.min(...xs).toFixed(0)}–${Math.max(...xs).toFixed(0)} |`;
  };
  console.log(`worker start, ${rounds} rounds, ${new Date().toISOString().slice(0, 10)}\n`);
  console.log('| workflow bundle | median ms from process start to worker ready | min–max |\n| --- | --- | --- |');
  console.log(row('bundled at start'));
  console.log(row('prebuilt'));
  console.log(
    `\nratio prebuilt / bundled at start: ${(median(times.prebuilt) / median(times['bundled at start'])).toFixed(2)}`,
  );
}

void main();
