/**
 * The run-model suite (`test/runs.test.ts`) in fast mode: every runner registered with
 * fastSteps(), behind a first step that ends the first chain, so that the runner's own steps run
 * as local activities (in chains) and its retries, cancels and sleeps happen there. Each test
 * checks the history for it: `runStep` local-activity markers, one `runStep` activity. Same
 * promises, same assertions, except where the suite says fast mode differs (step numbers one
 * higher: OFFSET).
 */
process.env.DURABLE_RUNS_TEST_STEPS = 'fast';
require('./runs.test');
