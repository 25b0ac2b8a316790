import type { Logger } from "pino";
import type { Sql } from "../../db/sql.js";
import type { ConditionRunner } from "../../policies/condition-runner.js";
import { decodeVector } from "../../policies/policy-chunks.js";
import { policyTextChunks } from "../../policies/policy-text.js";
import type { PolicyMode } from "../../policies/policy-modes.js";
import type { RuleDecision } from "../../policies/policy-schema.js";
import type { ActivePolicy } from "../../policies/policy-store.js";
import { conditionInputFor, conditionsVerdict, decidedByConditions, expressionsOf, noApplicablePolicy, outcomesFrom, unevaluatedVerdict } from "../conditions.js";
import { requestQuery } from "../evaluation-judge.js";
import { packVectors, scanTopK, type ChunkMeta, type PackedVectors } from "../exact-scan.js";
import type { JudgeInput, Verdict } from "../judge.js";
import type { LlmEvaluator } from "../llm/llm-evaluator.js";
import { askLlm, toEvidence } from "../llm-step.js";
import type { ModelCredentials } from "../model-credentials.js";
import type { PolicyRetriever, RetrievedChunk } from "../retrieval.js";
import { decidingPolicies, shadowDefaultVerdict } from "../shadow.js";

/**
 * One recorded request judged again with a candidate policy in place of its current version
 * (docs/shadow-mode.md#replay), by the live judge's own rules: conditions through the same CEL pool,
 * the conditions-decide rule (decidedByConditions), the shadow default, and (only with_llm) retrieval
 * and the LLM step (llm-step.ts). The candidate's text is embedded in memory: nothing is stored.
 * The candidate enforces; the other policies keep their own mode; the tenant's own shadow mode is not
 * applied (replay answers "what would this policy decide if it were enforced").
 */

/** What replay evaluates with: the judge's parts when it runs in this process; else a pool of its own and no LLM. */
export interface ReplayParts {
  conditions: ConditionRunner;
  retriever: PolicyRetriever | null;
  llm: LlmEvaluator | null;
  credentials: ModelCredentials | null;
  log: Logger;
}

export interface ReplaySetup {
  tenantId: string;
  sql: Sql;
  /** The active policies with the candidate in place of its policy's current version. */
  policies: ActivePolicy[];
  candidate: ActivePolicy;
  modes: ReadonlyMap<string, PolicyMode>;
  shadowDefault: RuleDecision;
  withLlm: boolean;
  /** The candidate's own text embedded in memory, plus the current version's documents (with_llm only). */
  candidateVectors: PackedVectors | null;
  /** The pool's fair-queue key: a replay waits its turn as if it were one more tenant. */
  poolKey: string;
}

export interface ReplayedVerdict {
  verdict: Verdict;
  reliedOnLlm: boolean;
  /** The live judge would have asked its LLM, and replay did not (no with_llm). */
  llmSkipped: boolean;
}

const plain = (verdict: Verdict): ReplayedVerdict => ({ verdict, reliedOnLlm: false, llmSkipped: false });

export async function replayRequest(parts: ReplayParts, setup: ReplaySetup, input: JudgeInput): Promise<ReplayedVerdict> {
  // The live judge's choice of deciding policies (shadow.ts), with the candidate enforcing and the tenant's own mode left out.
  const view = { policies: setup.policies, modes: candidateEnforcing(setup), tenant: { mode: "enforce" as const, shadow_default: setup.shadowDefault, changed_at: null, changed_by: null } };
  const { applicable, enforcing } = decidingPolicies(view, input.tool, input.context.policy_id);
  if (applicable.length === 0) return plain(noApplicablePolicy(setup.policies, input.tool, input.context.policy_id));
  if (enforcing.length === 0) return plain(shadowDefaultVerdict(view, applicable));
  const run = await evaluateConditions(parts, setup, expressionsOf(enforcing), input);
  if (run.kind !== "done") return plain(unevaluatedVerdict(run, enforcing));
  const outcomes = outcomesFrom(enforcing, run.results);
  const deterministic: Verdict = { ...conditionsVerdict(outcomes, enforcing), citations: [], evidence_chunks: [], trace: { steps: ["conditions"] } };
  if (decidedByConditions(outcomes)) return plain(deterministic);
  // Undecided by conditions: the live judge asks its LLM here when it has one; without it, the defaults decide.
  if (!setup.withLlm || !parts.llm || !parts.retriever) return { verdict: deterministic, reliedOnLlm: false, llmSkipped: parts.llm !== null };
  const open = outcomes.filter((o) => o.fromDefault);
  let retrieved: RetrievedChunk[];
  try {
    retrieved = await retrieve(parts.retriever, parts, setup, open.map((o) => o.policy), input);
  } catch (err) {
    // Not the candidate's decision: the request is counted as an error (skipped), not as a review.
    throw new Error(`policy retrieval failed: ${err instanceof Error ? err.message : String(err)}`);
  }
  const evidence = retrieved.map(toEvidence);
  const trace = { steps: ["conditions", "retrieval"], embedding_model: parts.retriever.embeddings.model, retrieved: evidence.length, replay: true };
  const keys = parts.credentials?.for(setup.tenantId);
  const verdict = await askLlm({ llm: parts.llm, log: parts.log }, input, enforcing, open, retrieved, evidence, trace, keys?.llmApiKey);
  // A model that failed (timeout, refusal, malformed answer) decided nothing: an error, not a review.
  if (typeof verdict.trace.failed_closed === "string") throw new Error(`the LLM could not decide (${verdict.trace.failed_closed})`);
  return { verdict, reliedOnLlm: true, llmSkipped: false };
}

/** The policies' modes with the candidate's policy enforcing, whatever mode its current version is in. */
function candidateEnforcing(setup: ReplaySetup): ReadonlyMap<string, PolicyMode> {
  if (setup.modes.get(setup.candidate.policyId) !== "shadow") return setup.modes;
  const modes = new Map(setup.modes);
  modes.delete(setup.candidate.policyId);
  return modes;
}

const POOL_RETRIES = 3;

/**
 * The conditions through the pool. A task that timed out before any worker took it says the pool was
 * busy (live traffic comes first), not what the policy decides: it is tried again a few times, then
 * the request is counted as an error rather than as a review the policy never asked for. A task that
 * ran over its budget is the candidate's own cost: review, as live.
 */
async function evaluateConditions(parts: ReplayParts, setup: ReplaySetup, expressions: string[], input: JudgeInput) {
  for (let attempt = 1; ; attempt++) {
    const run = await parts.conditions.evaluate(expressions, conditionInputFor(input), setup.poolKey);
    if (run.kind !== "timeout" || !run.waitedForWorker) return run;
    if (attempt >= POOL_RETRIES) throw new Error("the condition pool stayed busy");
    await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
  }
}

/** The nearest policy text among the open policies: stored chunks for the others, the in-memory candidate for it. */
async function retrieve(retriever: PolicyRetriever, parts: ReplayParts, setup: ReplaySetup, open: ActivePolicy[], input: JudgeInput): Promise<RetrievedChunk[]> {
  const keys = parts.credentials?.for(setup.tenantId);
  const query = requestQuery(input);
  const others = open.filter((p) => p !== setup.candidate).map((p) => p.versionId);
  const stored = others.length > 0 ? await retriever.retrieve(setup.tenantId, setup.sql, others, query, keys?.embeddingApiKey) : [];
  let own: RetrievedChunk[] = [];
  if (open.includes(setup.candidate) && setup.candidateVectors && setup.candidateVectors.metas.length > 0) {
    const vector = await retriever.embedQuery(query, keys?.embeddingApiKey ? { apiKey: keys.embeddingApiKey, scope: setup.tenantId } : undefined);
    own = scanTopK(vector, [setup.candidateVectors], retriever.topK).map(({ meta, score }) => ({ ...meta, score }));
  }
  return [...stored, ...own].sort((a, b) => b.score - a.score).slice(0, retriever.topK);
}

/**
 * The candidate's searchable text, embedded now and kept in memory: its description and rules (as
 * registration would chunk them) and the documents attached to the policy's current version (which
 * registration would carry over), read from their stored vectors.
 */
export async function embedCandidate(retriever: PolicyRetriever, parts: ReplayParts, setup: Pick<ReplaySetup, "tenantId" | "sql" | "candidate">, currentVersionId: string | null): Promise<PackedVectors> {
  const chunks = policyTextChunks(setup.candidate.doc);
  const keys = parts.credentials?.for(setup.tenantId);
  const vectors = chunks.length > 0 ? (await retriever.embeddings.embed(chunks.map((c) => c.text), keys?.embeddingApiKey ? { apiKey: keys.embeddingApiKey } : undefined)).vectors : [];
  const rows: { meta: ChunkMeta; vector: Float32Array }[] = chunks.map((c, i) => ({
    meta: { id: `candidate:${c.source}:${c.ordinal}`, policy_id: setup.candidate.policyId, policy_version_id: "candidate", source: c.source, heading: c.heading, text: c.text },
    vector: vectors[i]!,
  }));
  if (currentVersionId) {
    const documents = await setup.sql.query<ChunkMeta & { embedding: unknown }>(
      `SELECT id, policy_id, policy_version_id, source, heading, text, embedding FROM policy_chunks
        WHERE policy_version_id = $1 AND embedding_model = $2 AND is_current AND source = 'document' ORDER BY id`,
      [currentVersionId, retriever.embeddings.model],
    );
    for (const { embedding, ...meta } of documents) rows.push({ meta: { ...meta, policy_version_id: "candidate" }, vector: decodeVector(embedding) });
  }
  return packVectors(rows);
}
