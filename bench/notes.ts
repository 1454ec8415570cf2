/**
 * What each performance change did, newest last, as measured by `npm run bench`. Written into
 * every results file so that a table can be read with its history.
 */
export const NOTES: readonly string[] = [
  '2026-11-22: terminal hooks run as a local activity and Completed runs skip the outcome memo: per run one marker event instead of an activity (6 events) and a memo event; history events per step 7.20 → 6.60 (baseline 6.50), short-run steps/s 0.87× → 0.94× of the baseline at reduced sizes.',
];
