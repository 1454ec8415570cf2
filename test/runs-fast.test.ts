/**
 * The run-model suite (`test/runs.test.ts`) in fast mode: every runner registered with
 * fastSteps(), so every step runs as a local activity. Same promises, same assertions, except
 * where the suite says fast mode differs.
 */
process.env.DURABLE_RUNS_TEST_STEPS = 'fast';
require('./runs.test');
