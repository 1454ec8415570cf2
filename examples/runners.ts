/**
 * The runners `durable-runs dev` starts with: `agent` (also `default`), `pipeline`, `approval` and
 * `agent-ai-sdk` (streams its answer: `durable-runs watch <runId> --stream`).
 */
import type { StepRunner } from '../src';
import { agentRunner } from './agent';
import { aiSdkAgentRunner } from './agent-ai-sdk';
import { approvalRunner } from './approval';
import { pipelineRunner } from './pipeline';

const agent = agentRunner() as StepRunner;

const runners: Record<string, StepRunner> = {
  default: agent,
  agent,
  pipeline: pipelineRunner() as StepRunner,
  approval: approvalRunner() as StepRunner,
  'agent-ai-sdk': aiSdkAgentRunner() as StepRunner,
};

export default runners;
