import { z } from "zod";

export const confidenceBuckets = ["extra_high", "high", "medium", "low", "none"] as const;
export type ConfidenceBucket = (typeof confidenceBuckets)[number];

/** What the judge is asked: one clearance request of one tenant. */
export interface JudgeInput {
  tenantId: string;
  requestId: string;
  tool: string;
  args: Record<string, unknown>;
  context: Record<string, unknown>;
  agentId: string;
  sessionId: string;
  humanPrincipal: string | null;
}

export const appliedPolicySchema = z.object({
  policy_id: z.string(),
  policy_version_id: z.string(),
  policy_content_hash: z.string(),
});
export type AppliedPolicy = z.infer<typeof appliedPolicySchema>;

/** The judge's answer. Validated with zod whatever the judge's transport, so a bad answer fails closed. */
export const verdictSchema = z.object({
  decision: z.enum(["approve", "deny", "review"]),
  reason: z.string(),
  reason_code: z.string().nullable(),
  confidence_bucket: z.enum(confidenceBuckets),
  policy_id: z.string().nullable(),
  policy_version_id: z.string().nullable(),
  policy_content_hash: z.string().nullable(),
  applied_policies: z.array(appliedPolicySchema),
  matched_condition_ids: z.array(z.string()),
});
export type Verdict = z.infer<typeof verdictSchema>;

/** The Judge port: in-process today; an HTTP client to `countersign judge` plugs in here. */
export interface Judge {
  evaluate(input: JudgeInput): Promise<Verdict>;
}

/** The verdict used whenever the judge cannot be trusted to have decided: review, never approve. */
export function failClosedVerdict(reasonCode: string, reason: string): Verdict {
  return {
    decision: "review",
    reason,
    reason_code: reasonCode,
    confidence_bucket: "none",
    policy_id: null,
    policy_version_id: null,
    policy_content_hash: null,
    applied_policies: [],
    matched_condition_ids: [],
  };
}
