import type { Sql } from "../db/sql.js";
import { toBindings, ConditionEvalError } from "../policies/cel.js";
import type { RuleDecision } from "../policies/policy-schema.js";
import { applicablePolicies, type ActivePolicy, type PolicyCache } from "../policies/policy-store.js";
import { failClosedVerdict, type Judge, type JudgeInput, type Verdict } from "./judge.js";

// deny beats review beats approve
const strength: Record<RuleDecision, number> = { approve: 0, review: 1, deny: 2 };

interface PolicyOutcome {
  policy: ActivePolicy;
  decision: RuleDecision;
  matched: { id: string; reason: string }[];
  fromDefault: boolean;
  errored: boolean;
}

function evaluatePolicy(policy: ActivePolicy, bindings: ReturnType<typeof toBindings>): PolicyOutcome {
  const matches: { id: string; decision: RuleDecision; reason: string }[] = [];
  let errored = false;
  for (const { condition, test } of policy.conditions) {
    try {
      if (test(bindings)) matches.push({ id: condition.id, decision: condition.decision, reason: condition.reason });
    } catch (err) {
      // A condition that cannot be evaluated on this input fails closed: it forces review.
      errored = true;
      const why = err instanceof ConditionEvalError ? err.message : "evaluation failed";
      matches.push({ id: condition.id, decision: "review", reason: `Condition ${condition.id} could not be evaluated (${why})` });
    }
  }
  if (matches.length === 0) return { policy, decision: policy.doc.default_decision, matched: [], fromDefault: true, errored };
  const top = matches.reduce((a, b) => (strength[b.decision] > strength[a.decision] ? b : a)).decision;
  return { policy, decision: top, matched: matches.filter((m) => m.decision === top), fromDefault: false, errored };
}

/**
 * The deterministic judge: CEL conditions of every applicable policy, then each policy's default
 * decision. With no applicable policy the answer is review (fail closed).
 */
export class RulesJudge implements Judge {
  constructor(
    private readonly tenantSql: (tenantId: string) => Promise<Sql>,
    private readonly policies: PolicyCache,
  ) {}

  async evaluate(input: JudgeInput): Promise<Verdict> {
    const all = await this.policies.active(input.tenantId, await this.tenantSql(input.tenantId));
    const named = input.context.policy_id;
    const applicable = applicablePolicies(all, input.tool, named);
    if (applicable.length === 0) {
      if (typeof named !== "string" || named === "") {
        return failClosedVerdict("no_applicable_policy", `No policy covers tool ${input.tool}; sent to human review`);
      }
      return all.some((p) => p.policyId === named)
        ? failClosedVerdict("policy_not_applicable", `Policy ${named} does not cover tool ${input.tool}; sent to human review`)
        : failClosedVerdict("policy_not_found", `Policy ${named} is not registered; sent to human review`);
    }
    const bindings = toBindings({
      tool: input.tool,
      args: input.args,
      context: input.context,
      agent_id: input.agentId,
      session_id: input.sessionId,
      human_principal: input.humanPrincipal ?? "",
    });
    const outcomes = applicable.map((p) => evaluatePolicy(p, bindings));
    const winner = outcomes.reduce((a, b) => (strength[b.decision] > strength[a.decision] ? b : a));
    const binding = outcomes.filter((o) => o.decision === winner.decision);
    const matchedIds = binding.flatMap((o) => o.matched.map((m) => `${o.policy.policyId}/${m.id}`));
    return {
      decision: winner.decision,
      reason: describe(winner),
      reason_code: winner.errored && winner.decision === "review" ? "condition_error" : winner.fromDefault ? "policy_default" : "condition_matched",
      confidence_bucket: "extra_high",
      policy_id: winner.policy.policyId,
      policy_version_id: winner.policy.versionId,
      policy_content_hash: winner.policy.contentHash,
      applied_policies: applicable.map((p) => ({
        policy_id: p.policyId,
        policy_version_id: p.versionId,
        policy_content_hash: p.contentHash,
      })),
      matched_condition_ids: matchedIds,
    };
  }
}

function describe(o: PolicyOutcome): string {
  if (o.fromDefault) return `No condition of policy ${o.policy.policyId} matched; its default decision is ${o.decision}`;
  return o.matched.map((m) => m.reason || `Condition ${m.id} of policy ${o.policy.policyId} matched (${o.decision})`).join("; ");
}
