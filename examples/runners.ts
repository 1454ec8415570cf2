/** The runners `durable-runs dev` starts with: `agent` (also `default`), `pipeline` and `approval`. */
import type { StepRunner } from '../src';
import { agentRunner } from './agent';
import { approvalRunner } from './approval';
import { pipelineRunner } from './pipeline';

const agent = agentRunner() as StepRunner;

const runners: Record<string, StepRunner> = {
  default: agent,
  agent,
  pipeline: pipelineRunner() as StepRunner,
  approval: approvalRunner() as StepRunner,
};

export default runners;
