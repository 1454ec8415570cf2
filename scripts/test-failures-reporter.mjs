// A node:test reporter that prints nothing while the suite runs and, at its end, one line per
// failed test with its file and the first line of its error. The tap output of a 25-minute run
// is long and CI logs keep only its tail, so the names of the failures come last.
export default async function* failuresReporter(source) {
  const failures = [];
  for await (const event of source) {
    if (event.type !== 'test:fail') continue;
    const { name, nesting, file, details } = event.data;
    // A suite fails when a test in it fails; name the test, not the suite again.
    if (details?.type === 'suite') continue;
    const error = details?.error;
    const cause = error?.cause ?? error;
    const message = String(cause?.message ?? cause ?? 'failed').split('\n')[0];
    failures.push({ name, nesting, file, message });
  }
  if (failures.length === 0) return;
  yield `\n# failed tests (${failures.length}):\n`;
  for (const f of failures) {
    yield `# not ok: ${f.file ?? '?'} :: ${f.name} :: ${f.message.slice(0, 300)}\n`;
  }
}
