import type { Logger } from "pino";
import type { Sql } from "../db/sql.js";
import type { ConditionRunner } from "../policies/condition-runner.js";
import { applicablePolicies, type ActivePolicy, type PolicyCache } from "../policies/policy-store.js";
import { canonicalJson } from "../tokens/canonical-json.js";
import { conditionInputFor, conditionsVerdict, decidedByConditions, expressionsOf, noApplicablePolicy, outcomesFrom, unevaluatedVerdict } from "./conditions.js";
import { failClosedVerdict, type Judge, type JudgeInput, type Verdict } from "./judge.js";
import type { LlmEvaluator } from "./llm/llm-evaluator.js";
import { askLlm, toEvidence } from "./llm-step.js";
import { judgeMetrics, timedStep } from "./metrics.js";
import type { ModelCredentials } from "./model-credentials.js";
import type { PolicyRetriever, RetrievedChunk } from "./retrieval.js";
import { decidingPolicies, shadowDecisions, shadowDefaultVerdict, shadowInPlay, withShadow } from "./shadow.js";

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
    const cached = await this.deps.policies.snapshot(input.tenantId, sql);
    const applicable = applicablePolicies(cached.policies, input.tool, input.context.policy_id);
    if (applicable.length === 0) return noApplicablePolicy(cached.policies, input.tool, input.context.policy_id);
    // A shadow mode is honoured only as the database holds it now (PolicyCache.confirmModes): never a stale one.
    const view = shadowInPlay(applicable, cached) ? await this.deps.policies.confirmModes(input.tenantId, sql, cached) : cached;
    const { enforcing, shadow } = decidingPolicies(view, input.tool, input.context.policy_id);
    // Without shadow policies, exactly the path (and the verdict) of before shadow mode existed.
    if (shadow.length === 0) return this.decide(input, sql, enforcing);
    const [verdict, decisions] = await Promise.all([
      enforcing.length > 0 ? this.decide(input, sql, enforcing) : shadowDefaultVerdict(view, shadow),
      shadowDecisions(this.deps.conditions, shadow, input),
    ]);
    return withShadow(verdict, decisions);
  }

  /** The parts replay (src/judge/replay/) evaluates a candidate policy with: the same pool, retrieval and LLM. */
  get parts(): { conditions: ConditionRunner; retriever: PolicyRetriever; llm: LlmEvaluator | null; credentials: ModelCredentials } {
    const { conditions, retriever, llm, credentials } = this.deps;
    return { conditions, retriever, llm, credentials };
  }

  /** The decision of the enforcing policies: conditions, then retrieval, then the LLM or the defaults. */
  private async decide(input: JudgeInput, sql: Sql, applicable: ActivePolicy[]): Promise<Verdict> {
    const run = await timedStep("conditions", () => this.deps.conditions.evaluate(expressionsOf(applicable), conditionInputFor(input), input.tenantId));
    if (run.kind !== "done") {
      judgeMetrics.failClosed.inc({ reason: run.kind === "timeout" ? "condition_timeout" : "condition_unavailable" });
      return unevaluatedVerdict(run, applicable);
    }
    const outcomes = outcomesFrom(applicable, run.results);
    const open = outcomes.filter((o) => o.fromDefault);
    if (decidedByConditions(outcomes)) {
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
    return askLlm({ llm: this.deps.llm, log: this.deps.log }, input, applicable, open, retrieved, evidence, trace, keys.llmApiKey);
  }

  /** Stops the condition workers. */
  close(): Promise<void> {
    return this.deps.conditions.close();
  }
}

/** The retrieval query: what is about to happen, in the words the request uses. */
export function requestQuery(input: JudgeInput): string {
  const text = `Tool: ${input.tool.replace(/[_.:-]+/g, " ")}\nArguments: ${canonicalJson(input.args)}\nContext: ${canonicalJson(input.context)}`;
  return text.slice(0, QUERY_CHARS);
}
