import type { ConfidenceBucket, Verdict } from "../judge/judge.js";
import { DEFAULT_REVIEW_RULES, type ReviewRules } from "./review-rules.js";
import type { DecisionFields } from "./clearance-request.js";

/**
 * Maps a judge verdict onto the request's lifecycle fields. A request sent to review takes the
 * review rules in force now, and its expiry from them.
 */
export function decisionFromVerdict(v: Verdict, minimumBucket: ConfidenceBucket, review: { rules?: ReviewRules; now: Date }): DecisionFields {
  const rules = v.decision === "review" ? (review.rules ?? DEFAULT_REVIEW_RULES) : null;
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
    review_rules: rules,
    expires_at: rules ? new Date(review.now.getTime() + rules.expiry_seconds * 1000) : null,
  };
}
