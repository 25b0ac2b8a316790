import type { ConfidenceBucket } from "../judge/judge.js";
import type { ClearanceRequest } from "./clearance-request.js";

// Legacy float midpoints per bucket (protocol doc §6.8), sent for 0.3.x SDKs.
const bucketMidpoint: Record<ConfidenceBucket, number> = { extra_high: 0.95, high: 0.85, medium: 0.6, low: 0.2, none: 0 };

/**
 * The /request-clearance and /clearance-status body. snake_case; never null where the SDK's schema
 * has a non-nullable default (reason, request_id, buckets), decision_status always present.
 */
export function clearanceResponse(row: ClearanceRequest, token: string | null, expiresAt: Date | null) {
  const decisionStatus = row.decision_status ?? "denied";
  return {
    request_id: row.id,
    status: row.status,
    decision_status: row.status === "processing" ? "denied" : decisionStatus,
    requires_manual_review: row.status === "pending_review",
    token: row.status === "approved" ? token : null,
    token_expires_at: row.status === "approved" && expiresAt ? expiresAt.toISOString() : null,
    reason: row.status === "processing" ? "Decision in progress" : row.reason,
    reason_code: row.reason_code,
    confidence_bucket: row.confidence_bucket,
    minimum_confidence_bucket: row.minimum_confidence_bucket,
    policy_id: row.policy_id,
    // The SDK caches approvals that carry a policy_version_id and re-issues them via /mint-token;
    // a human approval cannot be re-issued, so it is sent without one (kept in decided_under_*).
    // A grant's approval is not re-issued either: a re-issue would outlive the grant's revoke.
    policy_version_id: row.reason_code === "review_approved" || row.reason_code === "grant_approved" ? null : row.policy_version_id,
    decided_under_policy_version_id: row.policy_version_id,
    policy_content_hash: row.policy_content_hash,
    matched_condition_ids: row.matched_condition_ids,
    citations: row.citations,
    evidence_chunks: row.evidence_chunks,
    tool_name: row.tool_name,
    tool_args_hash: row.tool_args_hash,
    // Edit-on-approve: what the reviewers approved instead (the token binds this hash); only when edited.
    ...(row.approved_tool_args_hash ? { edited_tool_args: row.approved_tool_args ?? {}, edited_tool_args_hash: row.approved_tool_args_hash } : {}),
    // The grant that approved the request, when one did (docs/grants.md).
    ...(row.grant_id ? { grant_id: row.grant_id } : {}),
    created_at: row.created_at.toISOString(),
    decided_at: row.decided_at ? row.decided_at.toISOString() : null,
    // Legacy fields read by 0.3.x SDKs (protocol doc §6.10).
    approved: row.status === "approved",
    confidence: bucketMidpoint[row.confidence_bucket],
    minimum_confidence_score: bucketMidpoint[row.minimum_confidence_bucket],
  };
}

export type ClearanceResponse = ReturnType<typeof clearanceResponse>;
