import type { Sql } from "../db/sql.js";
import { latestCallbackFor } from "../outbox/outbox-store.js";
import { fromUtf8Strict } from "../protocols/encoding.js";
import { readDecision } from "../protocols/stepauth/decision.js";
import { stepAuthRequestOfClearance, type StepAuthRequestRow } from "./request-store.js";

/**
 * The `stepauth` member of GET /reviews/{id} for a request of kind stepauth: what the SP asked,
 * as the console shows it (the summary first, the principal chain and the details with their
 * labels, as sent), and where its callback, decision and execution result stand. Null for any
 * other request.
 */
export async function stepAuthReviewMember(sql: Sql, clearanceRequestId: string) {
  const row = await stepAuthRequestOfClearance(sql, clearanceRequestId);
  if (!row) return null;
  const request = storedRequest(row);
  const action = (request.action ?? {}) as Record<string, unknown>;
  const callback = await latestCallbackFor(sql, clearanceRequestId);
  const decision = row.decision_payload ? readDecision(row.decision_payload) : null;
  return {
    sender: row.sender_id,
    request_id: row.request_id,
    summary: typeof action.summary === "string" ? action.summary : "",
    category: typeof action.category === "string" ? action.category : "",
    name: typeof action.name === "string" ? action.name : null,
    principal: request.principal ?? null,
    details: Array.isArray(action.details) ? action.details : [],
    target: action.target ?? null,
    approver: typeof action.approver === "string" && action.approver !== "" ? action.approver : null,
    expires_at: row.expires_at.toISOString(),
    // Before the decision there is no outbox entry yet: the URL it will go to, `awaiting_decision`.
    callback: callback
      ? { url: callback.target, status: callback.status, attempts: callback.attempts, last_error: callback.last_error }
      : row.callback_url
        ? { url: row.callback_url, status: "awaiting_decision", attempts: 0, last_error: null }
        : null,
    decision: decision ? { decision: decision.decision, decided_by: decision.decidedBy, decided_at: decision.decidedAt } : null,
    execution: row.execution ? { status: row.execution.status, error: row.execution.error } : null,
  };
}

export type StepAuthReviewMember = NonNullable<Awaited<ReturnType<typeof stepAuthReviewMember>>>;

/** The stored request bytes as JSON (they were validated on the way in). */
function storedRequest(row: StepAuthRequestRow): Record<string, unknown> {
  const text = fromUtf8Strict(row.payload);
  try {
    const value: unknown = text === null ? null : JSON.parse(text);
    return value !== null && typeof value === "object" ? (value as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
