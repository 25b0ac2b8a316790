import type { LedgerEventType } from "../ledger/core/wire.js";
import type { ClearanceStatus } from "./clearance-request.js";
import type { WebhookEventType } from "./events.js";

/**
 * Every way a stored request can end after the judge: the states it may leave, the state it enters,
 * its reason code, the ledger event that records it and the webhook event that reports it. The
 * lifecycle (lifecycle.ts) applies them; the table is the one place to read what each one does.
 * (The judge's own decision is `decide`: its ledger and webhook events follow the decided status.)
 */
export interface Transition {
  from: readonly ClearanceStatus[];
  to: "approved" | "denied";
  reasonCode: string;
  ledgerEvent: LedgerEventType;
  webhook: WebhookEventType;
}

export const TRANSITIONS = {
  /** The submitting agent (or StepAuth sender: src/stepauth/) withdraws a request that is not finished. */
  cancel: { from: ["processing", "pending_review"], to: "denied", reasonCode: "cancelled_by_agent", ledgerEvent: "review.cancelled_by_agent", webhook: "request.cancelled" },
  /** A reviewer denies: one deny ends the request, even before the judge finished. */
  reviewDeny: { from: ["processing", "pending_review"], to: "denied", reasonCode: "review_denied", ledgerEvent: "review.denied", webhook: "request.denied" },
  /** The last approval the request's rules need. */
  reviewApprove: { from: ["pending_review"], to: "approved", reasonCode: "review_approved", ledgerEvent: "review.approved", webhook: "request.approved" },
  /** Nobody decided within the rules' expiry. */
  expire: { from: ["pending_review"], to: "denied", reasonCode: "review_expired", ledgerEvent: "review.expired", webhook: "request.expired" },
} as const satisfies Record<string, Transition>;

export type TransitionName = keyof typeof TRANSITIONS;
