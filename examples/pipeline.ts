/**
 * A document pipeline: fetch → wait for an external system (a durable `continueAfter` timer
 * that holds no worker) → summarise. Submit it with a `callback_url` header to get the
 * terminal webhook when it ends.
 */
import { StepOutcome, type StepRunner } from '../src';

export interface PipelineState {
  document: string;
  pages?: number;
  checks?: number;
}

export function pipelineRunner(pollDelay: number | string = '2s'): StepRunner<PipelineState> {
  return async ({ stepNumber, payload }) => {
    if (stepNumber === 0)
      return StepOutcome.continue({ ...payload, pages: (payload.document.length % 7) + 1, checks: 0 });
    if ((payload.checks ?? 0) < 2)
      return StepOutcome.continueAfter({ ...payload, checks: (payload.checks ?? 0) + 1 }, pollDelay);
    return StepOutcome.succeed({
      document: payload.document,
      pages: payload.pages,
      summary: `${payload.document}: ${payload.pages} page(s), OCR ready`,
    });
  };
}
