import { randomBytes } from "node:crypto";
import type { Sql } from "../../src/db/sql.js";
import type { ClearanceRequest } from "../../src/requests/clearance-request.js";
import { DEFAULT_REVIEW_RULES } from "../../src/requests/review-rules.js";
import { insertLeasedRequest, insertRequest } from "../../src/requests/store/request-store.js";
import { toolArgsHash } from "../../src/tokens/canonical-json.js";

/**
 * A recorded request history for replay tests and the replay bench: rows in exactly the shape the
 * lifecycle stores (written through the request store's own insert), decided as the judge and the
 * reviewers would have decided them, without running thousands of real clearances first.
 */
export type RecordedEnd =
  | "approved" // the judge approved
  | "denied" // the judge denied
  | "pending" // sent to review, still pending
  | "review_approved" // sent to review, a reviewer approved
  | "review_denied" // sent to review, a reviewer denied
  | "processing" // not decided yet
  | "cancelled" // withdrawn by the agent before the judge answered
  | "failed_closed" // the judge could not decide (its conditions timed out): a fail-closed review
  | "no_policy"; // no policy covered the tool: a fail-closed review that is still the policies' answer

export interface RecordedSpec {
  tool: string;
  args: Record<string, unknown>;
  end: RecordedEnd;
  createdAt: Date;
  kind?: ClearanceRequest["kind"];
  policyId?: string | null;
  context?: Record<string, unknown>;
}

const requestId = () => `req_${randomBytes(16).toString("hex")}`;

export function recordedRow(spec: RecordedSpec): ClearanceRequest {
  const failedClosed = spec.end === "failed_closed" ? "condition_timeout" : spec.end === "no_policy" ? "no_applicable_policy" : null;
  const reviewed = spec.end === "pending" || spec.end === "review_approved" || spec.end === "review_denied" || failedClosed !== null;
  const status: ClearanceRequest["status"] =
    spec.end === "approved" || spec.end === "review_approved"
      ? "approved"
      : spec.end === "denied" || spec.end === "review_denied" || spec.end === "cancelled"
        ? "denied"
        : spec.end === "pending" || failedClosed !== null
          ? "pending_review"
          : "processing";
  const reasonCode: Record<RecordedEnd, string | null> = {
    approved: "condition_matched",
    denied: "condition_matched",
    pending: "policy_default",
    review_approved: "review_approved",
    review_denied: "review_denied",
    processing: null,
    cancelled: "cancelled_by_agent",
    failed_closed: "condition_timeout",
    no_policy: "no_applicable_policy",
  };
  return {
    id: requestId(),
    kind: spec.kind ?? "clearance",
    idempotency_key: null,
    body_hash: "0".repeat(64),
    api_key_id: "key_history",
    tool_name: spec.tool,
    tool_args: spec.args,
    tool_args_hash: toolArgsHash(spec.args),
    agent_id: "history-bot",
    session_id: "",
    human_principal: null,
    parent_jti: null,
    context: spec.context ?? {},
    extras: {},
    status,
    decision_status: status === "processing" ? null : status === "pending_review" ? "approved_pending_review" : status,
    reason: spec.end,
    reason_code: reasonCode[spec.end],
    confidence_bucket: status === "processing" ? "none" : "extra_high",
    policy_id: spec.policyId ?? null,
    policy_version_id: null,
    policy_content_hash: null,
    applied_policies: [],
    matched_condition_ids: [],
    minimum_confidence_bucket: "high",
    citations: [],
    evidence_chunks: [],
    judge_trace: failedClosed ? { failed_closed: failedClosed } : {},
    review_rules: reviewed ? DEFAULT_REVIEW_RULES : null,
    expires_at: null,
    original_request_id: null,
    agent_identity: null,
    created_at: spec.createdAt,
    decided_at: status === "processing" ? null : spec.createdAt,
  };
}

/**
 * Inserts the rows through the request store, 1,000 to a transaction. Undecided rows are leased to a
 * live-looking owner for a day: an unleased `processing` row is one a dead process left, and the lease
 * sweeper would take it over and judge it.
 */
export async function recordHistory(sql: Sql, specs: RecordedSpec[]): Promise<string[]> {
  const rows = specs.map(recordedRow);
  for (let i = 0; i < rows.length; i += 1000) {
    await sql.transaction(async (tx) => {
      for (const row of rows.slice(i, i + 1000)) {
        if (row.status === "processing") await insertLeasedRequest(tx, row, { owner: "history-holder", seconds: 86_400 });
        else await insertRequest(tx, row);
      }
    });
  }
  return rows.map((r) => r.id);
}
