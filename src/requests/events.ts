import type { Sql } from "../db/sql.js";
import type { ClearanceRequest } from "./clearance-request.js";

/**
 * The one vocabulary of what happens to a request that the outside world hears about: webhook
 * event types and review notifications. The lifecycle (lifecycle.ts) writes them in the same
 * transaction as the change they report; src/outbox delivers them (webhooks, Slack, email).
 */
export const webhookEventTypes = [
  "request.submitted",
  "request.pending_review",
  "request.approved",
  "request.denied",
  "request.expired",
  "request.cancelled",
  "token.consumed",
  "token.executed",
  // Not a request's: a scoped grant revoked (src/grants/). Its data is the grant, not a request.
  "grant.revoked",
  // Not a request's: a C2SP witness refused one of the ledger's checkpoints (a fork, an inconsistent
  // tree, a key it does not trust). Its data is the refusal (src/ledger/witnessing/).
  "ledger.witness_refused",
  // Not a request's: a policy's or the tenant's mode switched between enforce and shadow (log-only).
  // Its data is the change (src/policies/policy-mode-service.ts).
  "policy.mode_changed",
  // Not a request's: a reviewer's passkey enrolled or removed (src/passkeys/). Its data is the passkey,
  // who did it and (enrolment) which passkey stepped it up: a passkey enrolled with a stolen reviewer
  // key is visible to the tenant at once.
  "passkey.enrolled",
  "passkey.removed",
] as const;
export type WebhookEventType = (typeof webhookEventTypes)[number];

// policy.mode_changed: a policy or the tenant switched to (or from) shadow mode, sent to the review channels.
export const notificationKinds = ["review.requested", "review.reminder", "review.escalation", "policy.mode_changed"] as const;
export type NotificationKind = (typeof notificationKinds)[number];

/** The request fields an event's payload may carry. */
export type OutboxRequest = Pick<
  ClearanceRequest,
  | "id" | "status" | "decision_status" | "reason" | "reason_code" | "tool_name" | "tool_args" | "agent_id" | "human_principal"
  | "policy_id" | "confidence_bucket" | "citations" | "evidence_chunks" | "created_at" | "decided_at"
  // Edit-on-approve and scoped grants (docs/grants.md): set on some approved requests only.
  | "approved_tool_args" | "approved_tool_args_hash" | "grant_id"
>;

/** What a pending review looks like to a notification. */
export interface ReviewProgress {
  approvals_required: number;
  received: number;
  expires_at: string | null;
  console_url: string;
}

/** The port the lifecycle writes events through; src/outbox/outbox.ts implements it. */
export interface OutboxWriter {
  webhookEvent(tx: Sql, tenantId: string, type: WebhookEventType, request: OutboxRequest, extra?: Record<string, unknown>): Promise<void>;
  notifyReview(tx: Sql, tenantId: string, kind: NotificationKind, request: OutboxRequest, review: ReviewProgress): Promise<void>;
}
