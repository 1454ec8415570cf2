/**
 * A peer on the same box (issue 15): taquba-workflow, an embedded Rust workflow runtime on Taquba's
 * local-filesystem object store, running the bench's short-run workload (runs of no-op steps, a
 * pool of `concurrency` runs in flight). The Rust program is bench/peers/taquba (pinned versions,
 * Cargo.lock committed); it times the work alone, from the first submit to the end of the last run,
 * in a fresh store directory per invocation, and prints one JSON line.
 *
 * Settings: "default" leaves the crates' own (SlateDB's 100 ms WAL flush, a 250 ms worker poll);
 * "fastest" sets `OpenOptions::flush_interval` and `WorkflowRuntimeBuilder::poll_interval` to 1 ms.
 *
 *   node --import tsx bench/peers.ts [--rounds 3] [--runs 200] [--steps 10] [--concurrency 50]
 *                                    [--sequential-runs 20]
 *
 * prints the median (min–max) over the rounds of: default, fastest, one run at a time at each, and
 * the same runs submitted all at once (the worker's step slots the only bound). bench/run.ts uses
 * `buildTaquba`, bench/workloads/short-runs.ts `runTaquba`. Needs cargo (a Rust toolchain); the
 * first build takes minutes.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';

const MANIFEST = join(__dirname, 'peers', 'taquba', 'Cargo.toml');
const BINARY_NAME = 'taquba-peer-bench';
/** A run longer than this is stuck, not slow: 20 runs one at a time take about 25 s at defaults. */
const RUN_TIMEOUT_MS = 10 * 60_000;

export type TaqubaSettings = 'default' | 'fastest';

export interface TaqubaOptions {
  runs: number;
  steps: number;
  /** Runs in flight at once, and the worker's step slots (`max_concurrent_steps`). */
  concurrency: number;
  settings: TaqubaSettings;
  /** One run at a time, each submitted when the previous one has ended. */
  sequential?: boolean;
  /** Every run submitted first, then all awaited: the worker's step slots are the only bound. */
  allAtOnce?: boolean;
}

export interface TaqubaResult {
  stepsPerSecond: number;
  /** From the first submit to the end of the last run. */
  seconds: number;
  /** The taquba-workflow version that ran. */
  version: string;
  /** The taquba (queue) version under it. */
  taqubaVersion: string;
  /** Opening the queue and starting the worker; not in `seconds`. */
  setupSeconds: number;
}

/** The program's JSON line. */
interface Line {
  runs: number;
  steps: number;
  seconds: number;
  stepsPerSecond: number;
  settings: TaqubaSettings;
  version: string;
  taquba: string;
  setupSeconds: number;
}

/** `cargo` from PATH, else rustup's default place (a shell that has not sourced ~/.cargo/env). */
function cargoCommand(): string {
  const rustup = join(process.env.CARGO_HOME ?? join(homedir(), '.cargo'), 'bin', 'cargo');
  const onPath = (process.env.PATH ?? '').split(':').some((dir) => dir && existsSync(join(dir, 'cargo')));
  return onPath || !existsSync(rustup) ? 'cargo' : rustup;
}

/** Runs a command; resolves with its stdout, rejects with its exit and the end of its stderr. */
function run(
  command: string,
  args: string[],
  opts: { stderr: 'inherit' | 'pipe'; timeoutMs?: number },
): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['ignore', 'pipe', opts.stderr], timeout: opts.timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr = (stderr + chunk).slice(-4000)));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (code === 0) resolve(stdout);
      else reject(new Error(`${command} ${args.join(' ')} ended ${signal ?? `with exit ${code}`}\n${stderr}`.trim()));
    });
  });
}

let built: Promise<string> | undefined;

/**
 * Builds bench/peers/taquba in release mode (a debug build is several times slower) against its
 * committed Cargo.lock, and returns the binary's path. Built once per process; cargo's own
 * progress goes to stderr. Rejects with a clear message when cargo is missing.
 */
export function buildTaquba(): Promise<string> {
  built ??= (async () => {
    const cargo = cargoCommand();
    const args = ['build', '--release', '--locked', '--message-format=json-render-diagnostics'];
    let stdout: string;
    try {
      stdout = await run(cargo, [...args, '--manifest-path', MANIFEST], { stderr: 'inherit' });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') {
        throw new Error(
          'cargo not found: the taquba peer bench needs a Rust toolchain (https://rustup.rs), ' +
            'with cargo on PATH or in ~/.cargo/bin',
          { cause: err },
        );
      }
      throw err;
    }
    // cargo reports where it put the executable (CARGO_TARGET_DIR and the like are its business).
    for (const line of stdout.split('\n')) {
      if (!line.startsWith('{')) continue;
      const message = JSON.parse(line) as { reason?: string; target?: { name?: string }; executable?: string | null };
      if (message.reason === 'compiler-artifact' && message.target?.name === BINARY_NAME && message.executable) {
        return message.executable;
      }
    }
    throw new Error(`cargo built ${MANIFEST} but reported no ${BINARY_NAME} executable`);
  })();
  built.catch(() => (built = undefined));
  return built;
}

/** One invocation of the taquba peer, in a fresh store directory that is removed afterwards. */
export async function runTaquba(opts: TaqubaOptions): Promise<TaqubaResult> {
  if (opts.sequential && opts.allAtOnce) throw new Error('sequential and allAtOnce exclude each other');
  for (const key of ['runs', 'steps', 'concurrency'] as const) {
    if (!Number.isInteger(opts[key]) || opts[key] < 1) throw new Error(`${key} must be a whole number ≥ 1`);
  }
  const binary = await buildTaquba();
  const store = mkdtempSync(join(tmpdir(), 'taquba-peer-'));
  try {
    const args = [
      ['--runs', opts.runs],
      ['--steps', opts.steps],
      ['--concurrency', opts.concurrency],
      ['--settings', opts.settings],
      ['--store', store],
    ].flatMap(([flag, value]) => [String(flag), String(value)]);
    if (opts.sequential) args.push('--sequential');
    if (opts.allAtOnce) args.push('--all-at-once');
    const stdout = await run(binary, args, { stderr: 'pipe', timeoutMs: RUN_TIMEOUT_MS });
    const line = JSON.parse(stdout.trim().split('\n').at(-1) ?? '') as Line;
    return {
      stepsPerSecond: line.stepsPerSecond,
      seconds: line.seconds,
      version: line.version,
      taqubaVersion: line.taquba,
      setupSeconds: line.setupSeconds,
    };
  } finally {
    rmSync(store, { recursive: true, force: true });
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor((xs.length - 1) / 2)]!;
/** Steps/s to print: whole above 100, one decimal below (one run at a time at defaults is about 9). */
const rate = (x: number) => x.toFixed(x >= 100 ? 0 : 1);

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      rounds: { type: 'string', default: '3' },
      runs: { type: 'string', default: '200' },
      steps: { type: 'string', default: '10' },
      concurrency: { type: 'string', default: '50' },
      'sequential-runs': { type: 'string', default: '20' },
    },
  });
  const [rounds, runs, steps, concurrency, sequentialRuns] = (
    ['rounds', 'runs', 'steps', 'concurrency', 'sequential-runs'] as const
  ).map((k) => {
    const n = Number(values[k]);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${k} must be a whole number ≥ 1, got ${values[k]}`);
    return n;
  }) as [number, number, number, number, number];

  const t0 = performance.now();
  await buildTaquba();
  const buildSeconds = (performance.now() - t0) / 1000;

  const figures: Array<{ name: string; opts: TaqubaOptions }> = [
    { name: 'default', opts: { runs, steps, concurrency, settings: 'default' } },
    { name: 'fastest (1 ms flush and poll)', opts: { runs, steps, concurrency, settings: 'fastest' } },
    {
      name: 'one run at a time, default',
      opts: { runs: sequentialRuns, steps, concurrency, settings: 'default', sequential: true },
    },
    {
      name: 'one run at a time, fastest',
      opts: { runs: sequentialRuns, steps, concurrency, settings: 'fastest', sequential: true },
    },
    {
      name: 'all submitted at once, default',
      opts: { runs, steps, concurrency, settings: 'default', allAtOnce: true },
    },
    {
      name: 'all submitted at once, fastest',
      opts: { runs, steps, concurrency, settings: 'fastest', allAtOnce: true },
    },
  ];
  const rates = figures.map(() => [] as number[]);
  let version = '';
  let taqubaVersion = '';
  // Round by round, so drift on a shared machine falls on every figure alike.
  for (let r = 0; r < rounds; r++) {
    for (const [i, { opts }] of figures.entries()) {
      const result = await runTaquba(opts);
      rates[i]!.push(result.stepsPerSecond);
      ({ version, taqubaVersion } = result);
    }
  }
  console.log(
    `taquba-workflow ${version} (taquba ${taqubaVersion}), local-filesystem store; ${runs} runs × ${steps} steps, ` +
      `${concurrency} in flight; one at a time: ${sequentialRuns} runs; ${rounds} rounds; build ${buildSeconds.toFixed(1)} s\n`,
  );
  console.log('| figure | steps/s, median | min–max |\n| --- | --- | --- |');
  for (const [i, { name }] of figures.entries()) {
    const xs = rates[i]!;
    console.log(`| ${name} | ${rate(median(xs))} | ${rate(Math.min(...xs))}–${rate(Math.max(...xs))} |`);
  }
}

if (require.main === module) {
  main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
}
