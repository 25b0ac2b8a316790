import type { ConditionRunner } from "../policies/condition-runner.js";
import type { RuleDecision } from "../policies/policy-schema.js";
import { applicablePolicies, type ActivePolicy, type TenantPolicies } from "../policies/policy-store.js";
import { conditionInputFor, describe, expressionsOf, outcomesFrom } from "./conditions.js";
import type { JudgeInput, Verdict } from "./judge.js";

/**
 * Shadow mode in the judge (issue 17, docs/shadow-mode.md). Applicable policies are split: the
 * enforcing ones decide exactly as before; the shadow ones (every one, in a shadow tenant) are
 * evaluated too, on their conditions and default decision only, and what they would have decided
 * goes into `verdict.trace.shadow`, from which the request's ledger event gets a `shadow` chunk.
 * A shadow policy never changes the answer: its conditions run as their own task in the pool, so even
 * a shadow condition that times out cannot send an enforced request to review.
 * The LLM step is not run for shadow policies (it would double the cost and the latency of every
 * request for a decision nobody acts on); replay with --with-llm covers it.
 */

/** What one shadow policy would have decided. */
export interface ShadowDecision {
  policy_id: string;
  policy_version_id: string;
  decision: RuleDecision;
  matched_condition_ids: string[];
  reason: string;
}

/** Whether a policy decides (enforce) or is only recorded (shadow), given its and the tenant's mode. */
export function isShadow(policyId: string, view: Pick<TenantPolicies, "modes" | "tenant">): boolean {
  return view.tenant.mode === "shadow" || view.modes.get(policyId) === "shadow";
}

export function splitByMode(applicable: ActivePolicy[], view: Pick<TenantPolicies, "modes" | "tenant">): { enforcing: ActivePolicy[]; shadow: ActivePolicy[] } {
  const enforcing: ActivePolicy[] = [];
  const shadow: ActivePolicy[] = [];
  for (const p of applicable) (isShadow(p.policyId, view) ? shadow : enforcing).push(p);
  return { enforcing, shadow };
}

/** Whether a mode could change who decides among `applicable`: the tenant or one of them is in shadow. */
export function shadowInPlay(applicable: ActivePolicy[], view: Pick<TenantPolicies, "modes" | "tenant">): boolean {
  return view.tenant.mode === "shadow" || applicable.some((p) => view.modes.get(p.policyId) === "shadow");
}

/**
 * The policies that decide a request and the ones that only shadow it. A request may name its policy
 * (context.policy_id) and then only that one applies; but naming a shadow policy must not let the
 * request escape the policies that enforce: a shadow policy never decides, so the agent's choice of
 * one cannot choose the shadow default (an "approve" default would be a way past every enforcing
 * deny). The enforcing policies that cover the tool then decide, as if no policy had been named, and
 * the named one is recorded as a shadow decision.
 */
export function decidingPolicies(
  view: Pick<TenantPolicies, "policies" | "modes" | "tenant">,
  tool: string,
  contextPolicyId: unknown,
): { applicable: ActivePolicy[]; enforcing: ActivePolicy[]; shadow: ActivePolicy[] } {
  const applicable = applicablePolicies(view.policies, tool, contextPolicyId);
  const split = splitByMode(applicable, view);
  const named = typeof contextPolicyId === "string" && contextPolicyId !== "";
  if (!named || applicable.length === 0 || split.enforcing.length > 0) return { applicable, ...split };
  const unnamed = splitByMode(applicablePolicies(view.policies, tool, undefined), view);
  return { applicable, enforcing: unnamed.enforcing, shadow: split.shadow };
}

/**
 * The shadow policies' would-be decisions. Conditions that could not all be evaluated are recorded as
 * review (as they would have decided), with the reason; nothing here throws into the live answer.
 */
export async function shadowDecisions(runner: ConditionRunner, shadow: ActivePolicy[], input: JudgeInput): Promise<ShadowDecision[]> {
  if (shadow.length === 0) return [];
  const run = await runner.evaluate(expressionsOf(shadow), conditionInputFor(input), input.tenantId).catch((err: unknown) => ({
    kind: "unavailable" as const,
    detail: err instanceof Error ? err.message : String(err),
  }));
  if (run.kind !== "done") {
    const why = run.kind === "timeout" ? "condition_timeout" : `condition_unavailable: ${run.detail}`;
    return shadow.map((p) => ({
      policy_id: p.policyId,
      policy_version_id: p.versionId,
      decision: "review",
      matched_condition_ids: [],
      reason: `Conditions of shadow policy ${p.policyId} could not be evaluated (${why}); it would have sent the request to review`,
    }));
  }
  return outcomesFrom(shadow, run.results).map((o) => ({
    policy_id: o.policy.policyId,
    policy_version_id: o.policy.versionId,
    decision: o.decision,
    matched_condition_ids: o.matched.map((m) => `${o.policy.policyId}/${m.id}`),
    reason: describe(o),
  }));
}

/**
 * The answer when only shadow policies apply: the tenant's shadow default ("review" unless an admin
 * chose otherwise, and the choice is a ledger event). No policy decided it, so none is named.
 */
export function shadowDefaultVerdict(view: Pick<TenantPolicies, "tenant">, shadow: ActivePolicy[]): Verdict {
  const decision = view.tenant.shadow_default;
  const names = shadow.map((p) => p.policyId).join(", ");
  const why = view.tenant.mode === "shadow" ? "The tenant is in shadow mode" : `Only shadow-mode policies apply (${names})`;
  return {
    decision,
    reason: `${why}; the tenant's shadow default is ${decision}`,
    reason_code: "shadow_default",
    // A configured answer, not an estimate: it is as certain as a matched condition.
    confidence_bucket: "extra_high",
    policy_id: null,
    policy_version_id: null,
    policy_content_hash: null,
    applied_policies: [],
    matched_condition_ids: [],
    citations: [],
    evidence_chunks: [],
    trace: { steps: ["shadow_default"], tenant_mode: view.tenant.mode },
  };
}

/** The verdict with the shadow decisions in its trace; without any, the verdict unchanged (it hashes as before). */
export function withShadow(verdict: Verdict, decisions: ShadowDecision[]): Verdict {
  if (decisions.length === 0) return verdict;
  return { ...verdict, trace: { ...verdict.trace, shadow: decisions } };
}
