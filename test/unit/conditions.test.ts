import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import {
  conditionInputFor,
  conditionsVerdict,
  expressionsOf,
  noApplicablePolicy,
  outcomesFrom,
  strongest,
  unevaluatedVerdict,
  type PolicyOutcome,
} from "../../src/judge/conditions.js";
import type { JudgeInput } from "../../src/judge/judge.js";
import { compileCondition } from "../../src/policies/cel.js";
import { CelPool } from "../../src/policies/cel-pool.js";
import { registerPolicySchema, type RuleDecision } from "../../src/policies/policy-schema.js";
import type { ActivePolicy } from "../../src/policies/policy-store.js";

/**
 * How policy conditions decide (docs/concepts.md, "How a decision is made", steps 3, 4 and 6): each policy's
 * answer is its strongest matching condition, a condition that cannot be evaluated counts as a
 * `review` match, a policy with no match answers its default_decision, and across policies deny
 * beats review beats approve. Conditions run on the real CEL worker pool.
 */

type Cond = { id: string; when: string; decision: RuleDecision; reason?: string };
const policy = (policy_id: string, conditions: Cond[], default_decision: RuleDecision = "review"): ActivePolicy => {
  const doc = registerPolicySchema.parse({ policy_id, conditions, default_decision });
  return {
    policyId: policy_id,
    versionId: `pv_${policy_id}`,
    version: 1,
    contentHash: `sha256:${policy_id}`,
    doc,
    conditions: doc.conditions.map((condition) => ({ condition, test: compileCondition(condition.when) })),
  };
};
const request = (args: Record<string, unknown>, over: Partial<JudgeInput> = {}): JudgeInput => ({
  tenantId: "t1",
  requestId: "req_1",
  tool: "wire_transfer",
  args,
  context: { env: "prod" },
  agentId: "agent-1",
  sessionId: "s1",
  humanPrincipal: null,
  ...over,
});

const pool = new CelPool({ workers: 2, timeoutMs: 2_000, queueWaitMs: 60_000 });
afterAll(() => pool.close());

/** The deterministic part of the judge, as evaluation-judge.ts runs it. */
async function decide(policies: ActivePolicy[], input: JudgeInput, runner: CelPool = pool) {
  const run = await runner.evaluate(expressionsOf(policies), conditionInputFor(input), input.tenantId);
  if (run.kind !== "done") return { verdict: unevaluatedVerdict(run, policies), outcomes: [] as PolicyOutcome[] };
  const outcomes = outcomesFrom(policies, run.results);
  return { verdict: conditionsVerdict(outcomes, policies), outcomes };
}

describe("conditions within one policy", () => {
  const wires = policy("wires", [
    { id: "small", when: "args.amount < 100", decision: "approve", reason: "small wire" },
    { id: "big", when: "args.amount > 1000", decision: "review", reason: "big wire" },
    { id: "huge", when: "args.amount > 10000", decision: "deny", reason: "huge wire" },
    { id: "offshore", when: "has(args.country) && args.country != 'US'", decision: "review", reason: "offshore" },
  ]);

  it("answers the strongest matching condition: deny beats review beats approve", async () => {
    expect((await decide([wires], request({ amount: 50 }))).verdict).toMatchObject({ decision: "approve", reason: "small wire", reason_code: "condition_matched", matched_condition_ids: ["wires/small"] });
    expect((await decide([wires], request({ amount: 5000 }))).verdict).toMatchObject({ decision: "review", reason: "big wire", matched_condition_ids: ["wires/big"] });
    const huge = (await decide([wires], request({ amount: 50_000, country: "FR" }))).verdict;
    // big, huge and offshore all match: only the deny binds, and only it is named.
    expect(huge).toMatchObject({ decision: "deny", reason: "huge wire", reason_code: "condition_matched", matched_condition_ids: ["wires/huge"], confidence_bucket: "extra_high" });
  });

  it("names every matching condition of the winning decision, joining their reasons", async () => {
    const { verdict } = await decide([wires], request({ amount: 5000, country: "FR" }));
    expect(verdict).toMatchObject({ decision: "review", reason: "big wire; offshore", matched_condition_ids: ["wires/big", "wires/offshore"] });
  });

  it("describes a match without a reason by its condition and policy", async () => {
    const p = policy("p", [{ id: "any", when: "true", decision: "deny" }]);
    expect((await decide([p], request({}))).verdict.reason).toBe("Condition any of policy p matched (deny)");
  });

  it("answers the policy's default when nothing matches", async () => {
    for (const fallback of ["approve", "deny", "review"] as const) {
      const p = policy("quiet", [{ id: "never", when: "false", decision: "deny" }], fallback);
      const { verdict, outcomes } = await decide([p], request({}));
      expect(outcomes[0]).toMatchObject({ decision: fallback, fromDefault: true, matched: [], errored: false });
      expect(verdict).toMatchObject({
        decision: fallback,
        reason_code: "policy_default",
        reason: `No condition of policy quiet matched; its default decision is ${fallback}`,
        matched_condition_ids: [],
        policy_id: "quiet",
        policy_version_id: "pv_quiet",
        policy_content_hash: "sha256:quiet",
      });
    }
  });
});

describe("conditions that cannot be evaluated fail closed to review", () => {
  const amount = policy("amount", [{ id: "big", when: "args.amount > 1000", decision: "deny", reason: "big" }], "approve");

  it("a missing field is an evaluation error: review with condition_error, never the approving default", async () => {
    const { verdict, outcomes } = await decide([amount], request({}));
    expect(outcomes[0]).toMatchObject({ decision: "review", fromDefault: false, errored: true });
    expect(verdict).toMatchObject({ decision: "review", reason_code: "condition_error", matched_condition_ids: ["amount/big"] });
    expect(verdict.reason).toMatch(/^Condition big could not be evaluated \(.+\)$/);
  });

  it("a field guarded with has() is not an error", async () => {
    const guarded = policy("guarded", [{ id: "big", when: "has(args.amount) && args.amount > 1000", decision: "deny" }], "approve");
    expect((await decide([guarded], request({}))).verdict).toMatchObject({ decision: "approve", reason_code: "policy_default" });
  });

  it("a result that is not a boolean is an error too", async () => {
    const p = policy("p", [{ id: "number", when: "args.amount", decision: "approve" }], "approve");
    expect((await decide([p], request({ amount: 5 }))).verdict).toMatchObject({ decision: "review", reason_code: "condition_error" });
  });

  it("a wrongly typed field is an error, not a silent false", async () => {
    expect((await decide([amount], request({ amount: "lots" }))).verdict).toMatchObject({ decision: "review", reason_code: "condition_error" });
  });

  it("an error counts as a review match: a matching deny still beats it, in the same policy or another", async () => {
    const mixed = policy("mixed", [
      { id: "broken", when: "args.missing == 1", decision: "approve" },
      { id: "deny_all", when: "true", decision: "deny", reason: "no" },
    ]);
    expect((await decide([mixed], request({}))).verdict).toMatchObject({ decision: "deny", reason_code: "condition_matched", matched_condition_ids: ["mixed/deny_all"] });
    const denier = policy("denier", [{ id: "no", when: "true", decision: "deny" }]);
    expect((await decide([amount, denier], request({}))).verdict).toMatchObject({ decision: "deny", policy_id: "denier", reason_code: "condition_matched" });
  });

  it("a condition without a result (fewer results than conditions) is an error", () => {
    const p = policy("p", [
      { id: "a", when: "true", decision: "approve" },
      { id: "b", when: "true", decision: "approve" },
    ]);
    const [outcome] = outcomesFrom([p], [true]);
    expect(outcome).toMatchObject({ decision: "review", errored: true, matched: [{ id: "b", decision: "review", reason: "Condition b could not be evaluated (no result)" }] });
  });

  it("conditions not evaluated at all (timeout, no worker, pool failure) send the request to review whatever the defaults", () => {
    const lenient = [policy("a", [], "approve"), policy("b", [], "approve")];
    const applied = [
      { policy_id: "a", policy_version_id: "pv_a", policy_content_hash: "sha256:a" },
      { policy_id: "b", policy_version_id: "pv_b", policy_content_hash: "sha256:b" },
    ];
    const ran = unevaluatedVerdict({ kind: "timeout", timeoutMs: 50, waitedForWorker: false }, lenient);
    expect(ran).toMatchObject({ decision: "review", reason_code: "condition_timeout", confidence_bucket: "none", applied_policies: applied, trace: { steps: ["conditions"], failed_closed: "condition_timeout" } });
    expect(ran.reason).toBe("Policy conditions did not finish within 50 ms (condition_timeout); sent to human review");
    const waited = unevaluatedVerdict({ kind: "timeout", timeoutMs: 50, waitedForWorker: true }, lenient);
    expect(waited).toMatchObject({ decision: "review", reason_code: "condition_timeout" });
    expect(waited.reason).toContain("every condition worker was busy");
    const broken = unevaluatedVerdict({ kind: "unavailable", detail: "worker ran out of memory" }, lenient);
    expect(broken).toMatchObject({ decision: "review", reason_code: "condition_unavailable", policy_id: null, matched_condition_ids: [] });
    expect(broken.reason).toContain("condition_unavailable: worker ran out of memory");
  });

  it("on the real pool: a closed pool and a condition over its budget both fail closed to review", async () => {
    const lenient = policy("lenient", [{ id: "ok", when: "true", decision: "approve" }], "approve");
    const closed = new CelPool({ workers: 1, timeoutMs: 1_000, queueWaitMs: 10_000 });
    await closed.close();
    expect((await decide([lenient], request({}), closed)).verdict).toMatchObject({ decision: "review", reason_code: "condition_unavailable" });

    // Quadratic (`in` scans the list per item): seconds of CEL over 4,000 items, far over 100 ms.
    const tight = new CelPool({ workers: 1, timeoutMs: 100, queueWaitMs: 30_000 });
    try {
      const costly = policy("costly", [{ id: "slow", when: 'args.to.exists(r, r + "x" in args.to)', decision: "approve" }], "approve");
      const to = Array.from({ length: 4_000 }, (_, i) => `user${i}@example.com`);
      expect((await decide([costly], request({ to }), tight)).verdict).toMatchObject({ decision: "review", reason_code: "condition_timeout" });
    } finally {
      await tight.close();
    }
  });
});

describe("across policies", () => {
  const approver = policy("approver", [{ id: "yes", when: "true", decision: "approve", reason: "fine" }]);
  const reviewer = policy("reviewer", [{ id: "look", when: "args.amount > 10", decision: "review", reason: "look" }], "approve");
  const denier = policy("denier", [{ id: "no", when: "context.env == 'prod'", decision: "deny", reason: "not in prod" }], "approve");

  it("deny beats review beats approve, whatever the order of the policies", async () => {
    for (const order of [
      [approver, reviewer, denier],
      [denier, reviewer, approver],
      [reviewer, denier, approver],
    ]) {
      expect((await decide(order, request({ amount: 20 }))).verdict).toMatchObject({ decision: "deny", policy_id: "denier", matched_condition_ids: ["denier/no"] });
    }
    expect((await decide([approver, reviewer], request({ amount: 20 }))).verdict).toMatchObject({ decision: "review", policy_id: "reviewer" });
  });

  it("an open policy counts with its default decision", async () => {
    const strictDefault = policy("strict", [{ id: "never", when: "false", decision: "approve" }], "deny");
    expect((await decide([approver, strictDefault], request({}))).verdict).toMatchObject({ decision: "deny", reason_code: "policy_default", policy_id: "strict", matched_condition_ids: [] });
    const reviewDefault = policy("unsure", [], "review");
    expect((await decide([approver, reviewDefault], request({}))).verdict).toMatchObject({ decision: "review", reason_code: "policy_default" });
  });

  it("names the matches of every policy that reached the winning decision, and lists every applied policy", async () => {
    const alsoDeny = policy("also", [{ id: "no2", when: "tool == 'wire_transfer'", decision: "deny" }]);
    const { verdict } = await decide([approver, denier, alsoDeny], request({}));
    expect(verdict.matched_condition_ids).toEqual(["denier/no", "also/no2"]);
    expect(verdict.policy_id).toBe("denier");
    expect(verdict.applied_policies.map((p) => p.policy_id)).toEqual(["approver", "denier", "also"]);
  });

  it("reads the request's variables, human_principal as an empty string when absent", async () => {
    const who = policy("who", [
      { id: "nobody", when: "human_principal == ''", decision: "review" },
      { id: "agent", when: "agent_id == 'agent-1' && session_id == 's1' && tool == 'wire_transfer'", decision: "approve" },
    ]);
    expect((await decide([who], request({}))).verdict).toMatchObject({ decision: "review", matched_condition_ids: ["who/nobody"] });
    expect((await decide([who], request({}, { humanPrincipal: "carol" }))).verdict).toMatchObject({ decision: "approve", matched_condition_ids: ["who/agent"] });
    expect(conditionInputFor(request({ a: 1 }))).toEqual({
      tool: "wire_transfer", args: { a: 1 }, context: { env: "prod" }, agent_id: "agent-1", session_id: "s1", human_principal: "",
      agent: { verified: false, key: "", namespace: "", subject: "", claim_id: "", services: [] },
    });
  });

  it("reads the verified agent as `agent`; an unsigned request reads verified false and empty strings", async () => {
    const who = policy("signed", [
      { id: "unsigned", when: "agent.verified == false && agent.namespace == '' && size(agent.services) == 0", decision: "deny" },
      { id: "billing", when: "agent.verified && 'billing-api' in agent.services && agent.namespace == 'acme-corp' && agent.claim_id.startsWith('cl_')", decision: "approve" },
    ]);
    expect((await decide([who], request({}))).verdict).toMatchObject({ decision: "deny", matched_condition_ids: ["signed/unsigned"] });
    const agent = { verified: true, namespace: "acme-corp", subject: "dev", key: "ed25519:AAAA", claim_id: "cl_1", services: ["billing-api"] };
    expect((await decide([who], request({}, { agent }))).verdict).toMatchObject({ decision: "approve", matched_condition_ids: ["signed/billing"] });
  });

  it("property: the verdict is the strongest outcome, and approves only when every outcome approves", () => {
    const rank = { approve: 0, review: 1, deny: 2 } as const;
    const arbOutcome = fc.record({ decision: fc.constantFrom<RuleDecision>("approve", "deny", "review"), fromDefault: fc.boolean(), errored: fc.boolean() });
    fc.assert(
      fc.property(fc.array(arbOutcome, { minLength: 1, maxLength: 6 }), (specs) => {
        const applicable = specs.map((_, i) => policy(`p${i}`, []));
        const outcomes: PolicyOutcome[] = specs.map((s, i) => ({
          policy: applicable[i]!,
          decision: s.decision,
          fromDefault: s.fromDefault,
          errored: s.errored,
          matched: s.fromDefault ? [] : [{ id: `c${i}`, reason: `r${i}` }],
        }));
        const verdict = conditionsVerdict(outcomes, applicable);
        const top = Math.max(...specs.map((s) => rank[s.decision]));
        expect(rank[verdict.decision]).toBe(top);
        expect(verdict.decision === "approve").toBe(specs.every((s) => s.decision === "approve"));
        // The deciding policy is the first one with the winning decision.
        expect(verdict.policy_id).toBe(`p${specs.findIndex((s) => rank[s.decision] === top)}`);
        expect(strongest(outcomes).decision).toBe(verdict.decision);
      }),
    );
  });
});

describe("no applicable policy", () => {
  const all = [policy("email", [])];

  it("fails closed to review, saying what is missing", () => {
    expect(noApplicablePolicy(all, "wire_transfer", undefined)).toMatchObject({ decision: "review", reason_code: "no_applicable_policy", confidence_bucket: "none" });
    expect(noApplicablePolicy(all, "wire_transfer", "")).toMatchObject({ reason_code: "no_applicable_policy" });
    expect(noApplicablePolicy(all, "wire_transfer", 42)).toMatchObject({ reason_code: "no_applicable_policy" });
    expect(noApplicablePolicy(all, "wire_transfer", "email")).toMatchObject({ decision: "review", reason_code: "policy_not_applicable", reason: "Policy email does not cover tool wire_transfer; sent to human review" });
    expect(noApplicablePolicy(all, "wire_transfer", "ghost")).toMatchObject({ decision: "review", reason_code: "policy_not_found", reason: "Policy ghost is not registered; sent to human review" });
  });
});
