import type { Logger } from "pino";
import type { Sql } from "../db/sql.js";
import type { ConditionRunner } from "../policies/condition-runner.js";
import { applicablePolicies, type ActivePolicy, type PolicyCache } from "../policies/policy-store.js";
import { canonicalJson } from "../tokens/canonical-json.js";
import {
  appliedPolicies,
  conditionInputFor,
  conditionsVerdict,
  expressionsOf,
  noApplicablePolicy,
  outcomesFrom,
  strongest,
  unevaluatedVerdict,
  type PolicyOutcome,
} from "./conditions.js";
import { failClosedVerdict, type EvidenceChunk, type Judge, type JudgeInput, type Verdict } from "./judge.js";
import type { LlmEvaluator } from "./llm/llm-evaluator.js";
import { judgeMessages } from "./llm/prompt.js";
import { judgeMetrics, timedStep } from "./metrics.js";
import type { ModelCredentials } from "./model-credentials.js";
import type { PolicyRetriever, RetrievedChunk } from "./retrieval.js";

const EXCERPT_CHARS = 1000;
const QUERY_CHARS = 4000;

/**
 * The judge, in order: CEL conditions (a matching deny or review binds, nothing later can turn it
 * into an approval), retrieval of the policy text nearest the request, then the LLM when one is
 * configured, else each policy's default decision with the retrieved text as citations. Conditions
 * run in worker threads with a time budget (src/policies/cel-pool.ts); conditions that did not all
 * finish send the request to review (condition_timeout) before anything else is consulted.
 */
export class EvaluationJudge implements Judge {
  constructor(
    private readonly deps: {
      tenantSql: (tenantId: string) => Promise<Sql>;
      policies: PolicyCache;
      conditions: ConditionRunner;
      retriever: PolicyRetriever;
      llm: LlmEvaluator | null;
      /** The tenant's own model keys (its bundle), else the vault's. */
      credentials: ModelCredentials;
      log: Logger;
    },
  ) {}

  async evaluate(input: JudgeInput): Promise<Verdict> {
    const sql = await this.deps.tenantSql(input.tenantId);
    const all = await this.deps.policies.active(input.tenantId, sql);
    const applicable = applicablePolicies(all, input.tool, input.context.policy_id);
    if (applicable.length === 0) return noApplicablePolicy(all, input.tool, input.context.policy_id);

    const run = await timedStep("conditions", () => this.deps.conditions.evaluate(expressionsOf(applicable), conditionInputFor(input), input.tenantId));
    if (run.kind !== "done") {
      judgeMetrics.failClosed.inc({ reason: run.kind === "timeout" ? "condition_timeout" : "condition_unavailable" });
      return unevaluatedVerdict(run, applicable);
    }
    const outcomes = outcomesFrom(applicable, run.results);
    const open = outcomes.filter((o) => o.fromDefault);
    const settled = outcomes.filter((o) => !o.fromDefault);
    if (settled.length > 0 && (strongest(settled).decision !== "approve" || open.length === 0)) {
      return { ...conditionsVerdict(outcomes, applicable), citations: [], evidence_chunks: [], trace: { steps: ["conditions"] } };
    }

    // After tenantSql: opening the tenant's database read its bundle, so its own keys are known.
    const keys = this.deps.credentials.for(input.tenantId);
    let retrieved: RetrievedChunk[];
    try {
      retrieved = await timedStep("retrieval", () =>
        this.deps.retriever.retrieve(input.tenantId, sql, open.map((o) => o.policy.versionId), requestQuery(input), keys.embeddingApiKey),
      );
    } catch (err) {
      this.deps.log.error({ err, requestId: input.requestId, tenantId: input.tenantId }, "policy retrieval failed");
      // Without an LLM a deny never depended on the evidence: it stands (deny beats review).
      const deterministic = conditionsVerdict(outcomes, applicable);
      if (!this.deps.llm && deterministic.decision === "deny") {
        return { ...deterministic, citations: [], evidence_chunks: [], trace: { steps: ["conditions", "retrieval"], retrieval_failed: true } };
      }
      judgeMetrics.failClosed.inc({ reason: "retrieval_unavailable" });
      return failClosedVerdict("retrieval_unavailable", "Policy text could not be searched; sent to human review");
    }
    const evidence = retrieved.map(toEvidence);
    const trace = { steps: ["conditions", "retrieval"], embedding_model: this.deps.retriever.embeddings.model, retrieved: evidence.length };
    if (!this.deps.llm) {
      return { ...conditionsVerdict(outcomes, applicable), citations: evidence, evidence_chunks: evidence, trace };
    }
    return this.askLlm(input, applicable, open, retrieved, evidence, trace, keys.llmApiKey);
  }

  /** Stops the condition workers. */
  close(): Promise<void> {
    return this.deps.conditions.close();
  }

  private async askLlm(
    input: JudgeInput,
    applicable: ActivePolicy[],
    open: PolicyOutcome[],
    retrieved: RetrievedChunk[],
    evidence: EvidenceChunk[],
    baseTrace: Record<string, unknown>,
    apiKey: string | undefined,
  ): Promise<Verdict> {
    const llm = this.deps.llm!;
    const policiesInForce = open.map((o) => ({ policy_id: o.policy.policyId, policy_version_id: o.policy.versionId, default_decision: o.policy.doc.default_decision }));
    const outcome = await timedStep("llm", () => llm.decide(judgeMessages(input, policiesInForce, retrieved), new Set(retrieved.map((c) => c.id)), apiKey));
    const trace = { ...baseTrace, steps: ["conditions", "retrieval", "llm"], llm_model: llm.settings.model, llm_attempts: outcome.attempts };
    const common = { applied_policies: appliedPolicies(applicable), matched_condition_ids: [], evidence_chunks: evidence };
    if (!outcome.ok) {
      judgeMetrics.failClosed.inc({ reason: outcome.code });
      this.deps.log.warn({ requestId: input.requestId, tenantId: input.tenantId, code: outcome.code, detail: outcome.detail }, "LLM judge failed closed");
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
}

function policyFields(p: ActivePolicy) {
  return { policy_id: p.policyId, policy_version_id: p.versionId, policy_content_hash: p.contentHash };
}

function toEvidence(c: RetrievedChunk): EvidenceChunk {
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

/** The retrieval query: what is about to happen, in the words the request uses. */
export function requestQuery(input: JudgeInput): string {
  const text = `Tool: ${input.tool.replace(/[_.:-]+/g, " ")}\nArguments: ${canonicalJson(input.args)}\nContext: ${canonicalJson(input.context)}`;
  return text.slice(0, QUERY_CHARS);
}
