/**
 * What each performance change did, oldest first, as measured by `npm run bench` on the 2-core
 * machine of the results files. Written into every results file so a table can be read with its
 * history.
 */
export const NOTES: readonly string[] = [
  '2026-11-22: terminal hooks run as a local activity and Completed runs skip the outcome memo: per run one marker event instead of an activity (6 events) and a memo event; history events per step 7.20 → 6.60 (baseline 6.50), short-run steps/s 0.87× → 0.94× of the baseline at reduced sizes.',
  "2026-11-23: found why one run never went past 20 steps/s on either side: the dev server reads its transfer queue at most 20 times a second (history.transferProcessorMaxPollRPS), so every workflow task waited ~35 ms for that read while the server's CPU was mostly idle (event times: WorkflowTaskScheduled → Started 3.6 ms for the first steps, 34.7 ms after the rate limiter's burst). Raised to 1000 for the bench and `durable-runs dev`: a 300-step loop 50 → 16 ms per step.",
  '2026-11-23: the bench server keeps its SQLite in memory (it was a file, synchronous writes): baseline short-run steps/s 43 → 110–150 on the same machine. Both sides gain; ratios are unchanged in kind, but the runs are server-CPU-bound rather than fsync-bound, as a production cluster would be.',
  '2026-11-23: each side now has a worker process of its own with a prebuilt bundle, so RSS, CPU seconds and CPU profiles are per side; short runs and webhooks run in rounds base, ours, ours, base (the old fixed order had flattered ours by ~1.17×).',
  "2026-11-23: measured CPU per step (short runs, 400 × 10): server 8.7 vs 9.0 ms (equal), worker 6.8–8.0 vs 4.8–6.5 ms (ours 1.24–1.41×); the machine was CPU-bound (1.75 of 2 cores busy), so the worker gap was the steps/s gap (0.84–0.90×). --cpu-prof showed the difference in @temporalio/worker vm-shared.js `init` and `prepareStackTrace`: the SDK captures a stack trace for every promise a workflow creates, and our step loop made ~5× the baseline's promises (a cancellation scope, a condition and a finally() per step).",
  "2026-11-23: the step loop now waits on a condition once per cancel instead of once per step (same semantics: a cancel still lands after the activation's other jobs): worker CPU per step 1.24× → 1.02× of the baseline, short-run steps/s 0.90× → 1.05× (400 × 10, same run order).",
  '2026-11-23: tried GOGC=400 for the dev server (less Go GC): one-step runs/s 16.9+17.5 → 16.1+16.0, i.e. no gain; not kept.',
];
