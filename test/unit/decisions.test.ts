import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { confidenceBuckets, failClosedVerdict, type Verdict } from "../../src/judge/judge.js";
import { decisionFromVerdict } from "../../src/requests/decisions.js";
import { DEFAULT_REVIEW_RULES, reviewRulesSchema } from "../../src/requests/review-rules.js";
import { applyConfidenceThreshold } from "../../src/requests/review-settings.js";

const NOW = new Date("2026-12-04T12:00:00.000Z");
const chunk = { chunk_id: "c1", policy_id: "p1", policy_version_id: "pv1", source: "rule" as const, heading: "Rule 1", excerpt: "No wires over 1000", score: 0.9 };

const verdict = (decision: Verdict["decision"], over: Partial<Verdict> = {}): Verdict => ({
  decision,
  reason: `the judge said ${decision}`,
  reason_code: "condition_matched",
  confidence_bucket: "extra_high",
  policy_id: "p1",
  policy_version_id: "pv1",
  policy_content_hash: "sha256:ab",
  applied_policies: [{ policy_id: "p1", policy_version_id: "pv1", policy_content_hash: "sha256:ab" }],
  matched_condition_ids: ["p1/big"],
  citations: [chunk],
  evidence_chunks: [chunk, { ...chunk, chunk_id: "c2", score: 0.4 }],
  trace: { steps: ["conditions"] },
  ...over,
});

describe("decisionFromVerdict: a verdict onto the request's lifecycle fields", () => {
  it("maps approve, deny and review onto status and decision_status", () => {
    expect(decisionFromVerdict(verdict("approve"), "high", { now: NOW })).toMatchObject({ status: "approved", decision_status: "approved" });
    expect(decisionFromVerdict(verdict("deny"), "high", { now: NOW })).toMatchObject({ status: "denied", decision_status: "denied" });
    expect(decisionFromVerdict(verdict("review"), "high", { now: NOW })).toMatchObject({ status: "pending_review", decision_status: "approved_pending_review" });
  });

  it("carries the verdict's reason, policy, matches and evidence unchanged, and the judge trace as judge_trace", () => {
    const v = verdict("deny");
    const fields = decisionFromVerdict(v, "medium", { now: NOW });
    expect(fields).toEqual({
      status: "denied",
      decision_status: "denied",
      reason: v.reason,
      reason_code: v.reason_code,
      confidence_bucket: v.confidence_bucket,
      policy_id: v.policy_id,
      policy_version_id: v.policy_version_id,
      policy_content_hash: v.policy_content_hash,
      applied_policies: v.applied_policies,
      matched_condition_ids: v.matched_condition_ids,
      minimum_confidence_bucket: "medium",
      citations: v.citations,
      evidence_chunks: v.evidence_chunks,
      judge_trace: v.trace,
      review_rules: null,
      expires_at: null,
    });
  });

  it("attaches review rules and an expiry only to a review: the rules given, or the defaults", () => {
    const rules = reviewRulesSchema.parse({ approvals_required: 2, expiry_seconds: 3600 });
    const review = decisionFromVerdict(verdict("review"), "high", { rules, now: NOW });
    expect(review.review_rules).toEqual(rules);
    expect(review.expires_at).toEqual(new Date("2026-12-04T13:00:00.000Z"));

    const byDefault = decisionFromVerdict(verdict("review"), "high", { now: NOW });
    expect(byDefault.review_rules).toEqual(DEFAULT_REVIEW_RULES);
    expect(byDefault.expires_at).toEqual(new Date("2026-12-05T12:00:00.000Z"));

    for (const decision of ["approve", "deny"] as const) {
      const settled = decisionFromVerdict(verdict(decision), "high", { rules, now: NOW });
      expect(settled.review_rules, decision).toBeNull();
      expect(settled.expires_at, decision).toBeNull();
    }
  });

  it("records the minimum bucket it was given and does not apply the threshold itself", () => {
    // The threshold is applyConfidenceThreshold's (the caller runs it first): a low approval stays an approval here.
    const low = verdict("approve", { confidence_bucket: "low", reason_code: "llm_approved" });
    expect(decisionFromVerdict(low, "extra_high", { now: NOW })).toMatchObject({ status: "approved", confidence_bucket: "low", minimum_confidence_bucket: "extra_high", review_rules: null });
  });

  it("with the threshold applied first, an approval under the minimum becomes a review with rules and an expiry", () => {
    const rules = reviewRulesSchema.parse({ expiry_seconds: 60 });
    const held = decisionFromVerdict(applyConfidenceThreshold(verdict("approve", { confidence_bucket: "medium" }), "high"), "high", { rules, now: NOW });
    expect(held).toMatchObject({
      status: "pending_review",
      decision_status: "approved_pending_review",
      reason_code: "below_confidence_threshold",
      confidence_bucket: "medium",
      minimum_confidence_bucket: "high",
      review_rules: rules,
      expires_at: new Date(NOW.getTime() + 60_000),
    });
  });

  it("a fail-closed verdict goes to review, never approval", () => {
    expect(decisionFromVerdict(failClosedVerdict("judge_timeout", "the judge did not answer"), "none", { now: NOW })).toMatchObject({
      status: "pending_review",
      reason_code: "judge_timeout",
      confidence_bucket: "none",
      review_rules: DEFAULT_REVIEW_RULES,
    });
  });

  it("property: status follows the decision alone, and only reviews expire, at now + expiry_seconds", () => {
    fc.assert(
      fc.property(
        fc.constantFrom("approve", "deny", "review" as const),
        fc.constantFrom(...confidenceBuckets),
        fc.constantFrom(...confidenceBuckets),
        fc.integer({ min: 1, max: 90 * 86_400 }),
        fc.date({ min: new Date("2000-01-01"), max: new Date("2100-01-01"), noInvalidDate: true }),
        (decision, bucket, minimum, expiry, now) => {
          const rules = reviewRulesSchema.parse({ expiry_seconds: expiry });
          const fields = decisionFromVerdict(verdict(decision, { confidence_bucket: bucket }), minimum, { rules, now });
          const expected = { approve: "approved", deny: "denied", review: "pending_review" }[decision];
          expect(fields.status).toBe(expected);
          expect(fields.minimum_confidence_bucket).toBe(minimum);
          if (decision === "review") expect(fields.expires_at!.getTime() - now.getTime()).toBe(expiry * 1000);
          else expect(fields.expires_at).toBeNull();
        },
      ),
    );
  });
});
