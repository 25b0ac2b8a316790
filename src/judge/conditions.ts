import { toBindings, type ConditionInput } from "../policies/cel.js";
import type { CelRun } from "../policies/condition-runner.js";
import type { CelResult } from "../policies/cel-worker.js";
import type { RuleDecision } from "../policies/policy-schema.js";
import type { ActivePolicy } from "../policies/policy-store.js";
import { UNVERIFIED_AGENT } from "../tenancy/agent-identity.js";
import { failClosedVerdict, type JudgeInput, type Verdict } from "./judge.js";

// deny beats review beats approve
const strength: Record<RuleDecision, number> = { approve: 0, review: 1, deny: 2 };

/** What one policy's CEL conditions say about a request. */
export interface PolicyOutcome {
  policy: ActivePolicy;
  decision: RuleDecision;
  matched: { id: string; reason: string }[];
  /** No condition matched: `decision` is only the policy's default. */
  fromDefault: boolean;
  errored: boolean;
}

/** What conditions read, as plain JSON: it is copied to a worker thread (src/policies/cel-pool.ts). */
export function conditionInputFor(input: JudgeInput): ConditionInput {
  return {
    tool: input.tool,
    args: input.args,
    context: input.context,
    agent_id: input.agentId,
    session_id: input.sessionId,
    human_principal: input.humanPrincipal ?? "",
    // Unsigned: verified false and empty strings, so `agent.verified` is always readable.
    agent: agentOf(input),
  };
}

/** The `agent` map conditions read: only the fields the identity defines, copied (it crosses to a worker). */
function agentOf(input: JudgeInput): ConditionInput["agent"] {
  const a = input.agent ?? UNVERIFIED_AGENT;
  return { verified: a.verified === true, key: a.key, namespace: a.namespace, subject: a.subject, claim_id: a.claim_id, services: [...a.services] };
}

/** The CEL bindings on this thread: for measuring CEL alone (bench/judge-bench.ts). */
export function bindingsFor(input: JudgeInput) {
  return toBindings(conditionInputFor(input));
}

/** Every condition of every applicable policy, in order: one task for the pool. */
export function expressionsOf(applicable: ActivePolicy[]): string[] {
  return applicable.flatMap((p) => p.conditions.map(({ condition }) => condition.when));
}

/** Splits the pool's results (in expressionsOf order) back into one outcome per policy. */
export function outcomesFrom(applicable: ActivePolicy[], results: CelResult[]): PolicyOutcome[] {
  let next = 0;
  return applicable.map((policy) => outcomeOf(policy, results.slice(next, (next += policy.conditions.length))));
}

function outcomeOf(policy: ActivePolicy, results: CelResult[]): PolicyOutcome {
  const matches: { id: string; decision: RuleDecision; reason: string }[] = [];
  let errored = false;
  policy.conditions.forEach(({ condition }, i) => {
    const result = results[i];
    if (result === true) matches.push({ id: condition.id, decision: condition.decision, reason: condition.reason });
    else if (result !== false) {
      // A condition that cannot be evaluated on this input (or has no result) fails closed: it forces review.
      errored = true;
      const why = result?.error ?? "no result";
      matches.push({ id: condition.id, decision: "review", reason: `Condition ${condition.id} could not be evaluated (${why})` });
    }
  });
  if (matches.length === 0) return { policy, decision: policy.doc.default_decision, matched: [], fromDefault: true, errored };
  const top = matches.reduce((a, b) => (strength[b.decision] > strength[a.decision] ? b : a)).decision;
  return { policy, decision: top, matched: matches.filter((m) => m.decision === top), fromDefault: false, errored };
}

/**
 * The verdict when the conditions were not all evaluated: review, never approve, whatever any policy's
 * default. The reason names the code because the ledger event commits to the reason, not the code.
 */
export function unevaluatedVerdict(run: Exclude<CelRun, { kind: "done" }>, applicable: ActivePolicy[]): Verdict {
  const code = run.kind === "timeout" ? "condition_timeout" : "condition_unavailable";
  const reason =
    run.kind === "timeout"
      ? run.waitedForWorker
        ? `Policy conditions could not start within their time budget (${code}: every condition worker was busy); sent to human review`
        : `Policy conditions did not finish within ${run.timeoutMs} ms (${code}); sent to human review`
      : `Policy conditions could not be evaluated (${code}: ${run.detail}); sent to human review`;
  const verdict = failClosedVerdict(code, reason);
  return { ...verdict, applied_policies: appliedPolicies(applicable), trace: { steps: ["conditions"], failed_closed: code } };
}

/**
 * Whether the conditions alone decide: some policy's condition matched, and either it binds (deny or
 * review beats anything later) or no policy is left to its default. Otherwise retrieval (and the LLM)
 * decide among the policies still open (those whose conditions did not match).
 */
export function decidedByConditions(outcomes: PolicyOutcome[]): boolean {
  const settled = outcomes.filter((o) => !o.fromDefault);
  return settled.length > 0 && (strongest(settled).decision !== "approve" || settled.length === outcomes.length);
}

export function strongest<T extends { decision: RuleDecision }>(items: T[]): T {
  return items.reduce((a, b) => (strength[b.decision] > strength[a.decision] ? b : a));
}

/** When no policy applies: review, with a reason that tells the caller what is missing. */
export function noApplicablePolicy(all: ActivePolicy[], tool: string, named: unknown): Verdict {
  if (typeof named !== "string" || named === "") {
    return failClosedVerdict("no_applicable_policy", `No policy covers tool ${tool}; sent to human review`);
  }
  return all.some((p) => p.policyId === named)
    ? failClosedVerdict("policy_not_applicable", `Policy ${named} does not cover tool ${tool}; sent to human review`)
    : failClosedVerdict("policy_not_found", `Policy ${named} is not registered; sent to human review`);
}

export function appliedPolicies(applicable: ActivePolicy[]) {
  return applicable.map((p) => ({ policy_id: p.policyId, policy_version_id: p.versionId, policy_content_hash: p.contentHash }));
}

/**
 * The deterministic verdict over every applicable policy: deny beats review beats approve, and a
 * policy whose conditions did not match contributes its default decision.
 */
export function conditionsVerdict(outcomes: PolicyOutcome[], applicable: ActivePolicy[]): Omit<Verdict, "citations" | "evidence_chunks" | "trace"> {
  const winner = strongest(outcomes);
  const binding = outcomes.filter((o) => o.decision === winner.decision);
  return {
    decision: winner.decision,
    reason: describe(winner),
    // Any binding review that an error took part in is condition_error, whichever policy is listed
    // first: a caller that trusts "condition_matched" (an edit judged by docs/grants.md) must not
    // get it for a review that an unevaluated deny condition may have hidden.
    reason_code: winner.decision === "review" && binding.some((o) => o.errored) ? "condition_error" : winner.fromDefault ? "policy_default" : "condition_matched",
    confidence_bucket: "extra_high",
    policy_id: winner.policy.policyId,
    policy_version_id: winner.policy.versionId,
    policy_content_hash: winner.policy.contentHash,
    applied_policies: appliedPolicies(applicable),
    matched_condition_ids: binding.flatMap((o) => o.matched.map((m) => `${o.policy.policyId}/${m.id}`)),
  };
}

/** One policy's answer in words: its matched conditions' reasons, or that its default applied. */
export function describe(o: PolicyOutcome): string {
  if (o.fromDefault) return `No condition of policy ${o.policy.policyId} matched; its default decision is ${o.decision}`;
  return o.matched.map((m) => m.reason || `Condition ${m.id} of policy ${o.policy.policyId} matched (${o.decision})`).join("; ");
}
