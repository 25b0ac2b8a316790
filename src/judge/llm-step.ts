import type { Logger } from "pino";
import type { ActivePolicy } from "../policies/policy-store.js";
import { appliedPolicies, type PolicyOutcome } from "./conditions.js";
import { failClosedVerdict, type EvidenceChunk, type JudgeInput, type Verdict } from "./judge.js";
import type { LlmEvaluator } from "./llm/llm-evaluator.js";
import { judgeMessages } from "./llm/prompt.js";
import { judgeMetrics, timedStep } from "./metrics.js";
import type { RetrievedChunk } from "./retrieval.js";

const EXCERPT_CHARS = 1000;

/**
 * The judge's last step: the LLM decides among the policies no condition settled, on the retrieved
 * policy text. Shared by the live judge (evaluation-judge.ts) and replay (replay/), so a replayed
 * LLM decision is made exactly as a live one. A failed call fails closed to review.
 */
export async function askLlm(
  deps: { llm: LlmEvaluator; log: Logger },
  input: JudgeInput,
  applicable: ActivePolicy[],
  open: PolicyOutcome[],
  retrieved: RetrievedChunk[],
  evidence: EvidenceChunk[],
  baseTrace: Record<string, unknown>,
  apiKey: string | undefined,
): Promise<Verdict> {
  const { llm } = deps;
  const policiesInForce = open.map((o) => ({ policy_id: o.policy.policyId, policy_version_id: o.policy.versionId, default_decision: o.policy.doc.default_decision }));
  const outcome = await timedStep("llm", () => llm.decide(judgeMessages(input, policiesInForce, retrieved), new Set(retrieved.map((c) => c.id)), apiKey));
  const trace = { ...baseTrace, steps: ["conditions", "retrieval", "llm"], llm_model: llm.settings.model, llm_attempts: outcome.attempts };
  const common = { applied_policies: appliedPolicies(applicable), matched_condition_ids: [], evidence_chunks: evidence };
  if (!outcome.ok) {
    judgeMetrics.failClosed.inc({ reason: outcome.code });
    deps.log.warn({ requestId: input.requestId, tenantId: input.tenantId, code: outcome.code, detail: outcome.detail }, "LLM judge failed closed");
    const first = open[0]!.policy;
    return {
      ...failClosedVerdict(outcome.code, `The LLM judge could not decide (${outcome.code}); sent to human review`),
      ...policyFields(first),
      ...common,
      citations: [],
      trace: { ...trace, failed_closed: outcome.code },
    };
  }
  const { answer } = outcome;
  const cited = new Set(answer.cited_chunk_ids);
  const citations = evidence.filter((e) => cited.has(e.chunk_id));
  // The policy the decision rests on: the one its first citation comes from.
  const decidedBy = open.find((o) => o.policy.policyId === citations[0]?.policy_id)?.policy ?? open[0]!.policy;
  return {
    decision: answer.decision === "yes" ? "approve" : answer.decision === "no" ? "deny" : "review",
    reason: answer.reasoning,
    reason_code: answer.decision === "yes" ? "llm_approved" : answer.decision === "no" ? "llm_denied" : "llm_review",
    confidence_bucket: answer.confidence_bucket,
    ...policyFields(decidedBy),
    ...common,
    citations,
    trace,
  };
}

export function policyFields(p: ActivePolicy) {
  return { policy_id: p.policyId, policy_version_id: p.versionId, policy_content_hash: p.contentHash };
}

export function toEvidence(c: RetrievedChunk): EvidenceChunk {
  return {
    chunk_id: c.id,
    policy_id: c.policy_id,
    policy_version_id: c.policy_version_id,
    source: c.source,
    heading: c.heading,
    excerpt: c.text.length > EXCERPT_CHARS ? `${c.text.slice(0, EXCERPT_CHARS)}…` : c.text,
    score: Math.round(c.score * 1e6) / 1e6,
  };
}
