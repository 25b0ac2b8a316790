import type { ConfidenceBucket, Verdict } from "../judge/judge.js";
import type { DecisionFields } from "./request-store.js";

/** Maps a judge verdict onto the request's lifecycle fields. */
export function decisionFromVerdict(v: Verdict, minimumBucket: ConfidenceBucket): DecisionFields {
  const lifecycle =
    v.decision === "approve"
      ? ({ status: "approved", decision_status: "approved" } as const)
      : v.decision === "deny"
        ? ({ status: "denied", decision_status: "denied" } as const)
        : ({ status: "pending_review", decision_status: "approved_pending_review" } as const);
  return {
    ...lifecycle,
    reason: v.reason,
    reason_code: v.reason_code,
    confidence_bucket: v.confidence_bucket,
    policy_id: v.policy_id,
    policy_version_id: v.policy_version_id,
    policy_content_hash: v.policy_content_hash,
    applied_policies: v.applied_policies,
    matched_condition_ids: v.matched_condition_ids,
    minimum_confidence_bucket: minimumBucket,
    citations: v.citations,
    evidence_chunks: v.evidence_chunks,
    judge_trace: v.trace,
  };
}
