import type { OutboxRequest, WebhookEventType } from "../requests/events.js";

// The vocabulary is the request lifecycle's (src/requests/events.ts); delivery adds only what it alone uses.
export { notificationKinds, webhookEventTypes, type NotificationKind, type OutboxRequest, type ReviewProgress, type WebhookEventType } from "../requests/events.js";

/**
 * The events a `sigilum` endpoint may subscribe to: an agent claim submitted, approved, rejected or
 * revoked (src/agents/), under Sigilum's names. They go to sigilum endpoints only, and the lifecycle's
 * own events go to countersign endpoints only.
 */
export const sigilumEventTypes = ["request.submitted", "request.approved", "request.rejected", "request.revoked"] as const;
export type SigilumEventType = (typeof sigilumEventTypes)[number];

/** Sigilum's delivery body (reference §8): `{event, timestamp, data}`, stored and sent unchanged on every attempt (`ping`: a test delivery). */
export function sigilumWebhookBody(event: SigilumEventType | "ping", at: Date, data: Record<string, unknown>): string {
  return JSON.stringify({ event, timestamp: at.toISOString(), data });
}

/** `ping` is sent only by POST /webhooks/{id}/test; endpoints cannot subscribe to it. */
export type DeliveryEventType = WebhookEventType | "ping";

/** `callback`: a StepAuth decision POSTed to the SP's callback URL (src/stepauth/ delivers it through CallbackDeliverer). */
export type OutboxKind = "webhook" | "slack" | "email" | "callback";
export const outboxKinds: readonly OutboxKind[] = ["webhook", "slack", "email", "callback"];
export type OutboxStatus = "pending" | "delivered" | "dead";

const iso = (d: Date | string | null): string | null => (d === null ? null : d instanceof Date ? d.toISOString() : new Date(d).toISOString());

/** A webhook's `data`: the request fields under their wire names (request_id, ISO timestamps). */
export function requestData(r: OutboxRequest): Record<string, unknown> {
  return {
    request_id: r.id,
    status: r.status,
    decision_status: r.decision_status,
    reason: r.reason,
    reason_code: r.reason_code,
    tool_name: r.tool_name,
    tool_args: r.tool_args,
    agent_id: r.agent_id,
    human_principal: r.human_principal,
    policy_id: r.policy_id,
    confidence_bucket: r.confidence_bucket,
    citations: r.citations,
    evidence_chunks: r.evidence_chunks,
    created_at: iso(r.created_at),
    decided_at: iso(r.decided_at),
    // An approval for edited arguments: a receiver acting on `tool_args` alone would run the action
    // the reviewers did not approve. Only when set, so other events keep their exact shape.
    ...(r.approved_tool_args_hash ? { edited_tool_args: r.approved_tool_args ?? {}, edited_tool_args_hash: r.approved_tool_args_hash } : {}),
    ...(r.grant_id ? { grant_id: r.grant_id } : {}),
  };
}

/**
 * The exact body of one webhook delivery. Its text is stored in the outbox and sent unchanged on
 * every attempt, so the signature, and any receiver-side dedup on `id`, see the same bytes.
 */
export function webhookBody(deliveryId: string, type: DeliveryEventType, createdAt: Date, data: Record<string, unknown>): string {
  return JSON.stringify({ id: deliveryId, type, created_at: createdAt.toISOString(), data });
}
