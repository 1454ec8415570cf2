/** The runners `durable-runs dev` starts with: `agent` (also `default`) and `pipeline`. */
import type { StepRunner } from '../src';
import { agentRunner } from './agent';
import { pipelineRunner } from './pipeline';

const agent = agentRunner() as StepRunner;

const runners: Record<string, StepRunner> = {
  default: agent,
  agent,
  pipeline: pipelineRunner() as StepRunner,
};

export default runners;
