import { z } from "zod";
import type { AgentIdentity } from "../tenancy/agent-identity.js";

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
  /** The verified Sigilum signer (src/agents/); null or absent when the request was not signed. */
  agent?: AgentIdentity | null;
}

export const appliedPolicySchema = z.object({
  policy_id: z.string(),
  policy_version_id: z.string(),
  policy_content_hash: z.string(),
});
export type AppliedPolicy = z.infer<typeof appliedPolicySchema>;

/** One retrieved policy chunk, as stored with the decision and committed to by the ledger. */
export const evidenceChunkSchema = z.object({
  chunk_id: z.string(),
  policy_id: z.string(),
  policy_version_id: z.string(),
  source: z.enum(["description", "rule", "document"]),
  heading: z.string(),
  excerpt: z.string(),
  score: z.number(),
});
export type EvidenceChunk = z.infer<typeof evidenceChunkSchema>;

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
  /** The chunks the decision relied on (the LLM's citations, or every retrieved chunk without an LLM). */
  citations: z.array(evidenceChunkSchema),
  /** Everything retrieval returned, with scores. */
  evidence_chunks: z.array(evidenceChunkSchema),
  /** Steps taken and models used, for audits: never read back to decide anything. */
  trace: z.record(z.string(), z.unknown()),
});
export type Verdict = z.infer<typeof verdictSchema>;

/** The Judge port: the in-process evaluation, or the HTTP client of `countersign judge`. */
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
    citations: [],
    evidence_chunks: [],
    trace: { failed_closed: reasonCode },
  };
}
