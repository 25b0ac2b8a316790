import type { Sql } from "../db/sql.js";
import type { ClearanceRow } from "../requests/request-store.js";

/**
 * What the review workflow tells the outside world, written in the same transaction as the change
 * it reports (src/outbox implements it: webhooks, Slack, email).
 */
export type WebhookEventType =
  | "request.submitted"
  | "request.pending_review"
  | "request.approved"
  | "request.denied"
  | "request.expired"
  | "request.cancelled"
  | "token.consumed";
export type NotificationKind = "review.requested" | "review.reminder" | "review.escalation";

export type OutboxRequest = Pick<
  ClearanceRow,
  | "id" | "status" | "decision_status" | "reason" | "reason_code" | "tool_name" | "tool_args" | "agent_id" | "human_principal"
  | "policy_id" | "confidence_bucket" | "citations" | "evidence_chunks" | "created_at" | "decided_at"
>;

export interface ReviewOutbox {
  /** Whether the tenant has any webhook endpoint (cached): lets the hot path skip a transaction. */
  wantsWebhooks(tenantId: string): Promise<boolean>;
  webhookEvent(tx: Sql, tenantId: string, type: WebhookEventType, request: OutboxRequest, extra?: Record<string, unknown>): Promise<void>;
  notifyReview(
    tx: Sql,
    tenantId: string,
    kind: NotificationKind,
    request: OutboxRequest,
    review: { approvals_required: number; received: number; expires_at: string | null; console_url: string },
  ): Promise<void>;
}

/** Until an outbox is configured: nothing to deliver. */
export const noOutbox: ReviewOutbox = {
  wantsWebhooks: async () => false,
  webhookEvent: async () => {},
  notifyReview: async () => {},
};
