/** What the bench (bench/side-worker.ts) and each side's worker process (bench/worker.ts) say to each other. */

export type Side = 'ours' | 'base';

/** What the bench asks; every request gets one reply with the same `id`. */
export type Request =
  | { id: number; type: 'marks' }
  | { id: number; type: 'record'; on: boolean }
  | { id: number; type: 'memory' }
  | { id: number; type: 'stop' }
  /**
   * Ours only: submit these runs from the worker's own process, on its NativeConnection (so they
   * start eagerly), `concurrency` at a time, each awaited to its end.
   */
  | { id: number; type: 'batch'; ids: string[]; steps: number; concurrency: number; runner: string };

export interface Memory {
  /** Resident set size after a full GC, bytes. */
  rss: number;
  heapUsed: number;
  /** The highest RSS seen since start (sampled every 100 ms), bytes. */
  peakRss: number;
}

export type Reply =
  /** Unasked (`id` 0), every 20 ms while it changes: how many steps have started so far. */
  | { id: 0; type: 'progress'; steps: number }
  | { id: number; type: 'marks'; marks: Array<[string, number[]]> }
  | { id: number; type: 'memory'; memory: Memory }
  /** When each run was submitted, and how many of them the server started eagerly. */
  | { id: number; type: 'batch'; submitted: Array<[string, number]>; eager: number }
  | { id: number; type: 'ok' };

/** What the stream workload (bench/workloads/streams.ts) asks our worker's `streamer` step for. */
export interface StreamBenchPayload {
  chunks: number;
  /** Chunks pushed back to back before the step yields. */
  batch: number;
  /** The pause after each batch (ms); 0 only yields to the event loop. */
  everyMs: number;
}

/** What an agent-shaped run (bench/workloads/agent.ts) ends with: how long each step's memo took to record (ms). */
export interface AgentResult {
  memoRecordMs: number[];
}

/** The same worker settings for both sides. */
export const TUNING = {
  maxConcurrentActivityTaskExecutions: 200,
  maxConcurrentWorkflowTaskExecutions: 200,
  maxCachedWorkflows: 1000,
} as const;

/** Wall-clock ms with sub-ms precision, comparable with the bench process's `now()`. */
export const now = () => performance.timeOrigin + performance.now();
