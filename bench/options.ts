/** `npm run bench`'s flags (see bench/run.ts), parsed once: the sizes of the workloads and the switches. */
import { parseArgs } from 'node:util';

export const { values: flags } = parseArgs({
  options: {
    rounds: { type: 'string', default: '5' },
    runs: { type: 'string', default: '150' },
    steps: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '50' },
    sequential: { type: 'string', default: '5' },
    long: { type: 'string', default: '1500' },
    webhooks: { type: 'string', default: '60' },
    memory: { type: 'string', default: '10000' },
    fairness: { type: 'string', default: '200' },
    streams: { type: 'string', default: '5000' },
    http: { type: 'string', default: '10' },
    limited: { type: 'string', default: '40' },
    waking: { type: 'string', default: '30' },
    agent: { type: 'string', default: '100' },
    waiting: { type: 'string' },
    peers: { type: 'boolean', default: false },
    'no-fast': { type: 'boolean', default: false },
    soak: { type: 'boolean', default: false },
    'cpu-prof': { type: 'boolean', default: false },
    out: { type: 'string' },
  },
});
const SIZE_FLAGS = [
  'rounds',
  'runs',
  'steps',
  'concurrency',
  'sequential',
  'long',
  'webhooks',
  'memory',
  'fairness',
  'streams',
  'http',
  'limited',
  'waking',
  'agent',
  'waiting',
] as const;
/**
 * The default sizes keep `npm run bench` (no --peers) within 10 minutes on a slow 2-core machine
 * (issue 26); the README's table gives the sizes it was measured at.
 */
/** Sizes whose default differs in the soak: there, issue 26's 10,000 waiting runs. */
const DEFAULTS: Partial<Record<(typeof SIZE_FLAGS)[number], string>> = { waiting: flags.soak ? '10000' : '1000' };
export const N = Object.fromEntries(
  SIZE_FLAGS.map((k) => {
    const n = Number(flags[k] ?? DEFAULTS[k]);
    if (!Number.isInteger(n) || n < 0) throw new Error(`--${k} must be a whole number ≥ 0, got ${flags[k]}`);
    return [k, n];
  }),
) as Record<(typeof SIZE_FLAGS)[number], number>;
if (N.concurrency < 1) throw new Error('--concurrency must be at least 1');
if (N.rounds < 1) throw new Error('--rounds must be at least 1');
