/** Workflow entry points registered on the worker (sandboxed, deterministic code only). */
export { durableRun } from './durable-run';
export type { RunCarry } from './durable-run';
export { webhookDelivery } from './webhook-delivery';
export type { WebhookDelivered, WebhookNotDelivered } from './webhook-delivery';
