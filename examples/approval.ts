/**
 * An approval flow: the agent drafts a refund email, then waits (durably, holding no worker) up
 * to 24 hours for a person to `approve` or `reject` it — from a link in an email (with
 * `DURABLE_RUNS_LINK_SECRET` and `DURABLE_RUNS_PUBLIC_URL` set on the worker, the step makes signed
 * approve and reject links, shows them in its progress and hands them to `askApprover`), the UI's
 * "Send Signal" (signal `event`, input `{"name": "approve"}`), `durable-runs send`, or `runs.sendEvent`. A rejection
 * with a note makes it redraft; an approval refunds and sends, each journaled with `step.memo`
 * so a retried or re-run step never refunds twice; no answer in time escalates.
 */
import { StepOutcome, type StepRunner } from '../src';

export interface ApprovalState {
  order: string;
  amount: number;
  draft?: string;
  revision?: number;
  notes?: string[];
}

/** Stand-ins for a payment API and a mailer: replace them with yours. */
export interface ApprovalServices {
  refund(order: string, amount: number): Promise<{ refundId: string }>;
  sendEmail(to: string, body: string): Promise<{ messageId: string }>;
  /** Mails a person the draft with its approve and reject links (only when links are set up). */
  askApprover?(order: string, draft: string, links: ApprovalLinks): Promise<{ messageId: string }>;
}

/** The signed links of one draft: each sends its event once, after a confirm page. */
export interface ApprovalLinks {
  approve: string;
  reject: string;
}

export const demoServices: ApprovalServices = {
  async refund(order) {
    return { refundId: `re_${order}` };
  },
  async sendEmail(to) {
    return { messageId: `msg_${to}` };
  },
  async askApprover(order, draft, links) {
    console.log(`approval for order ${order}: ${draft}\n  approve: ${links.approve}\n  reject:  ${links.reject}`);
    return { messageId: `msg_approver-of-${order}` };
  },
};

/** Whether this worker can sign links (both variables set); otherwise the flow works without them. */
const linksSetUp = () => Boolean(process.env.DURABLE_RUNS_LINK_SECRET && process.env.DURABLE_RUNS_PUBLIC_URL);

function draft(state: ApprovalState): string {
  const tone = state.notes?.length ? ` (${state.notes.join('; ')})` : '';
  return `Dear customer, we are refunding ${state.amount} EUR for order ${state.order}.${tone}`;
}

export function approvalRunner(
  services: ApprovalServices = demoServices,
  timeout: string | number = '24h',
): StepRunner<ApprovalState> {
  return async (step) => {
    const state = step.payload;
    // A step that follows a wait: act on the decision.
    if (step.event?.name === 'approve') {
      const refund = await step.memo('refund', () => services.refund(state.order, state.amount));
      const email = await step.memo('email', () => services.sendEmail(`customer-of-${state.order}`, state.draft!));
      return StepOutcome.succeed({ order: state.order, ...refund, ...email, draft: state.draft });
    }
    if (step.timedOut) return StepOutcome.fail(`no decision on order ${state.order} within ${timeout}: escalate`);
    const notes =
      step.event?.name === 'reject'
        ? [...(state.notes ?? []), String((step.event.data as { note?: unknown } | null)?.note ?? 'rejected')]
        : state.notes;
    // Draft (or redraft) and wait for a person.
    const next: ApprovalState = { ...state, ...(notes ? { notes } : {}), revision: (state.revision ?? 0) + 1 };
    next.draft = draft(next);
    // Links that work as long as the wait: the mail scanner that opens one sees a confirm page only.
    const links: ApprovalLinks | undefined = linksSetUp()
      ? {
          approve: step.eventUrl('approve', { expiresIn: timeout }),
          reject: step.eventUrl('reject', { expiresIn: timeout, data: { note: 'rejected from the email link' } }),
        }
      : undefined;
    step.progress({ drafted: next.revision, ...(links ? { links } : {}) });
    // Journaled: a retried step does not mail again (the links of the first mail still work).
    if (links && services.askApprover)
      await step.memo('ask', () => services.askApprover!(state.order, next.draft!, links));
    return StepOutcome.waitForEvent(next, { events: ['approve', 'reject'], timeout });
  };
}
