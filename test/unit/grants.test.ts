import { afterAll, describe, expect, it } from "vitest";
import { pino } from "pino";
import { checkConstraint, ConstraintError, evaluateConstraint } from "../../src/grants/constraint.js";
import { describeConstraint } from "../../src/grants/describe-constraint.js";
import { GRANTABLE_REASON_CODES, grantableVerdict } from "../../src/grants/grant-matcher.js";
import { committedSpec, grantSpecSchema, specDifference } from "../../src/grants/grant-spec.js";
import type { Grant, GrantApprover } from "../../src/grants/grant-store.js";
import { failClosedVerdict, type Verdict } from "../../src/judge/judge.js";
import { CelPool } from "../../src/policies/cel-pool.js";
import { approvedByGrant, grantChunk, grantCoversRules } from "../../src/requests/grant-approval.js";
import { decisionFromVerdict } from "../../src/requests/decisions.js";
import { reviewRulesSchema } from "../../src/requests/review-rules.js";

describe("describeConstraint: a constraint in plain words (docs/grants.md)", () => {
  it.each([
    ['args.amount <= 200 && args.currency == "usd"', "amount ≤ 200 and currency = usd"],
    ["args.amount < 50 || args.amount > 1000", "amount < 50 or amount > 1000"],
    ['args.amount >= 10 && (args.country == "fr" || args.country == "de")', "amount ≥ 10 and (country = fr or country = de)"],
    ['args.currency != "eur"', "currency ≠ eur"],
    ['args.customer.tier == "gold"', "customer.tier = gold"],
    ['args["order id"] == "A 1"', '"order id" = "A 1"'],
    ['args.country in ["fr", "de"]', "country is one of fr, de"],
    ["size(args.recipients) <= 3", "the size of recipients ≤ 3"],
    ["args.recipients.size() <= 3", "the size of recipients ≤ 3"],
    ['args.email.endsWith("@example.com")', "email ends with @example.com"],
    ['args.note.contains("refund")', "note contains refund"],
    ['!(args.currency == "usd")', "not (currency = usd)"],
    ["has(args.ticket)", "ticket is present"],
    ["args.amount > -5", "amount > -5"],
    ["args.flag == true", "flag = true"],
  ])("%s → %s", (expression, words) => {
    expect(describeConstraint(expression)).toBe(words);
  });

  it("never words a constraint as another, wider one: names and values the agent controls are quoted, an argument is never the value side", () => {
    const legit = describeConstraint('args.amount <= 200 && args.currency == "usd"');
    expect(legit).toBe("amount ≤ 200 and currency = usd");
    // Each of these reads "amount ≤ 200 and currency = usd" word for word unless worded with care, yet
    // lets the agent pass any amount or currency (its own key, its own argument, a text comparison).
    for (const wider of [
      'args["amount ≤ 200 and currency"] == "usd"',
      'args.amount <= 200 && args.currency == args.usd',
      'args.amount <= args["200"] && args.currency == "usd"',
      'args.amount <= 200 && "usd" == args.currency',
      'args.amount <= "200" && args.currency == "usd"',
    ]) {
      expect(describeConstraint(wider), wider).not.toBe(legit);
    }
    expect(describeConstraint('args.amount <= "200"')).toBe('amount ≤ "200"');
    expect(describeConstraint('args.flag == "true"')).toBe('flag = "true"');
    expect(describeConstraint("200 >= args.amount")).toBe("200 >= args.amount");
    // Integers exactly as written, and a list inside a list is not its items.
    expect(describeConstraint("args.amount <= 9007199254740993")).toBe("amount ≤ 9007199254740993");
    expect(describeConstraint('args.pair in [["a", "b"]]')).toBe('args.pair in [["a", "b"]]');
  });

  it("falls back to the expression as written when any part has no faithful wording, or it does not parse", () => {
    for (const expression of ["args.amount * 2 <= 400", "args.to.all(r, r.endsWith('@example.com'))", "int(args.amount) < 5", "args.amount <=", "context.x == 1"]) {
      expect(describeConstraint(expression)).toBe(expression);
    }
  });
});

describe("checkConstraint: what a vote may carry", () => {
  it("accepts CEL over args only", () => {
    expect(() => checkConstraint('args.amount <= 200 && args.to.all(r, r.endsWith("@example.com"))')).not.toThrow();
  });

  it.each([
    ["args.amount <=", /./],
    ['tool == "x"', /reads only args; it uses tool/],
    ['context.team == "a" && args.amount < 5', /uses context/],
    ["agent_id == 'a'", /uses agent_id/],
    ["args.a.all(x, args.b.all(y, x == y))", /nested comprehensions/],
    ["x" + " && args.a == 1".repeat(200), /longer than 2000/],
  ])("refuses %s", (expression, message) => {
    expect(() => checkConstraint(expression)).toThrow(ConstraintError);
    expect(() => checkConstraint(expression)).toThrow(message);
  });
});

describe("the grant spec of a vote", () => {
  it("needs window_minutes with a window, and only then; is strict", () => {
    expect(grantSpecSchema.safeParse({ scope: "window", window_minutes: 60 }).success).toBe(true);
    expect(grantSpecSchema.safeParse({ scope: "session" }).success).toBe(true);
    expect(grantSpecSchema.safeParse({ scope: "window" }).success).toBe(false);
    expect(grantSpecSchema.safeParse({ scope: "session", window_minutes: 5 }).success).toBe(false);
    expect(grantSpecSchema.safeParse({ scope: "window", window_minutes: 43_201 }).success).toBe(false);
    expect(grantSpecSchema.safeParse({ scope: "window", window_minute: 5 }).success).toBe(false);
    expect(grantSpecSchema.safeParse({ scope: "forever" }).success).toBe(false);
  });

  it("compares two votes' specs in their committed form and says how they differ", () => {
    const a = committedSpec({ scope: "window", window_minutes: 60, constraint: "args.amount < 5" });
    expect(specDifference(a, committedSpec({ scope: "window", window_minutes: 60, constraint: "args.amount < 5" }))).toBeUndefined();
    expect(specDifference(null, committedSpec({ scope: "once" }))).toBeUndefined();
    expect(specDifference(a, committedSpec({ scope: "window", window_minutes: 90, constraint: "args.amount < 5" }))).toBe(
      "the first approval granted window 60 min where args.amount < 5; this vote grants window 90 min where args.amount < 5",
    );
    expect(specDifference(a, null)).toContain("this vote grants no grant (once)");
  });
});

const review = (over: Partial<Verdict> = {}): Verdict => ({
  ...failClosedVerdict("policy_default", "Refunds need a human by default"),
  policy_id: "refund-policy",
  policy_version_id: "pv_1",
  policy_content_hash: "sha256:x",
  applied_policies: [{ policy_id: "refund-policy", policy_version_id: "pv_1", policy_content_hash: "sha256:x" }],
  confidence_bucket: "extra_high",
  ...over,
});

describe("grantableVerdict: a grant never widens past a binding condition, an error or a fail-closed review", () => {
  it("applies to the policy's default review, the LLM's review and a confidence below the threshold", () => {
    expect([...GRANTABLE_REASON_CODES].sort()).toEqual(["below_confidence_threshold", "llm_review", "policy_default"]);
    for (const code of GRANTABLE_REASON_CODES) expect(grantableVerdict(review({ reason_code: code }))).toBe(true);
  });

  it.each([
    ["a binding review condition", review({ reason_code: "condition_matched", matched_condition_ids: ["refund-policy/needs-human"] })],
    ["a default review beside another policy's matched condition", review({ matched_condition_ids: ["other/needs-human"] })],
    ["a condition error", review({ reason_code: "condition_error" })],
    ["a condition timeout", review({ reason_code: "condition_timeout" })],
    ["a judge timeout", review({ reason_code: "judge_timeout" })],
    ["no applicable policy", failClosedVerdict("no_applicable_policy", "No policy covers tool x")],
    ["the LLM failing closed", review({ reason_code: "llm_unavailable" })],
    ["a deny", review({ decision: "deny", reason_code: "policy_default" })],
    ["an approval", review({ decision: "approve", reason_code: "policy_default" })],
    ["a review no policy decided", review({ policy_id: null })],
    [
      "a request another policy also applied to",
      review({ applied_policies: [review().applied_policies[0]!, { policy_id: "other", policy_version_id: "pv_2", policy_content_hash: "sha256:y" }] }),
    ],
  ])("not %s", (_name, verdict) => {
    expect(grantableVerdict(verdict)).toBe(false);
  });
});

const approver = (over: Partial<GrantApprover> = {}): GrantApprover => ({
  reviewer_id: "rv_alice",
  reviewer_name: "Alice",
  reviewer_email: "alice@example.com",
  groups: ["finance"],
  api_key_id: "key_alice",
  passkey: false,
  ...over,
});
const grant = (approvers: GrantApprover[], over: Partial<Grant> = {}): Grant => ({
  id: "grt_1",
  scope: "window",
  tool_name: "stripe_refund",
  policy_id: "refund-policy",
  agent_id: "agent-7",
  api_key_id: "key_agent",
  agent_signer: null,
  session_id: null,
  window_minutes: 60,
  arg_constraint: "args.amount <= 200",
  starts_at: new Date("2026-03-01T10:00:00Z"),
  expires_at: new Date("2026-03-01T11:00:00Z"),
  source_request_id: "req_1",
  approvers,
  created_at: new Date("2026-03-01T10:00:00Z"),
  created_event_uuid: "e",
  revoked_at: null,
  revoked_by: null,
  revoke_reason: null,
  revoked_event_uuid: null,
  ...over,
});
const later = { api_key_id: "key_agent", human_principal: null };

describe("grantCoversRules: the approvals behind a grant, counted under the later request's own rules", () => {
  const rules = (over: Record<string, unknown> = {}) => reviewRulesSchema.parse(over);

  it("covers a request whose rules its approvals meet", () => {
    expect(grantCoversRules(grant([approver()]), later, rules())).toBe(true);
  });

  it("does not cover rules tightened since: more approvals, a group, a reviewer list, a passkey", () => {
    expect(grantCoversRules(grant([approver()]), later, rules({ approvals_required: 2 }))).toBe(false);
    expect(grantCoversRules(grant([approver()]), later, rules({ groups: [{ name: "legal" }] }))).toBe(false);
    expect(grantCoversRules(grant([approver()]), later, rules({ reviewers: ["bob@example.com"] }))).toBe(false);
    expect(grantCoversRules(grant([approver()]), later, rules({ require_passkey: true }))).toBe(false);
    expect(grantCoversRules(grant([approver({ passkey: true })]), later, rules({ require_passkey: true }))).toBe(true);
  });

  it("never counts the key that submitted the later request, nor its human principal", () => {
    expect(grantCoversRules(grant([approver({ api_key_id: "key_agent" })]), later, rules())).toBe(false);
    expect(grantCoversRules(grant([approver()]), { ...later, human_principal: "ALICE@example.com" }, rules())).toBe(false);
    expect(grantCoversRules(grant([approver(), approver({ reviewer_id: "rv_bob", reviewer_email: "bob@example.com", api_key_id: "key_bob" })]), { ...later, human_principal: "alice@example.com" }, rules())).toBe(true);
  });
});

describe("an approval by a grant", () => {
  it("is approved with reason_code grant_approved, names the grant, and has no review rules left", () => {
    const fields = decisionFromVerdict(review(), "high", { now: new Date("2026-03-01T10:30:00Z") });
    const g = grant([approver()]);
    const approved = approvedByGrant(fields, g);
    expect(approved).toMatchObject({ status: "approved", decision_status: "approved", reason_code: "grant_approved", grant_id: "grt_1", review_rules: null, expires_at: null });
    expect(approved.reason).toMatch(/^Approved by grant grt_1 \(window until 2026-03-01T11:00:00.000Z, from the approval of req_1\)/);
    expect(grantChunk(g)).toEqual({ type: "grant", grant: "grt_1", scope: "window", constraint: "args.amount <= 200" });
    expect(grantChunk({ ...g, arg_constraint: null })).toEqual({ type: "grant", grant: "grt_1", scope: "window", constraint: "" });
  });
});

describe("evaluateConstraint: fail closed", () => {
  // A generous budget for the answers (a loaded machine must not turn them into timeouts), a tight one for the timeout.
  const pool = new CelPool({ workers: 1, timeoutMs: 5000, queueWaitMs: 10_000, log: pino({ level: "silent" }) });
  const tight = new CelPool({ workers: 1, timeoutMs: 50, queueWaitMs: 10_000, log: pino({ level: "silent" }) });
  afterAll(async () => {
    await pool.close();
    await tight.close();
  });

  it("is true only for a boolean true; an error or a non-boolean is no match", async () => {
    expect(await evaluateConstraint(pool, "args.amount <= 200", { amount: 150 }, "t")).toEqual({ kind: "true" });
    expect(await evaluateConstraint(pool, "args.amount <= 200", { amount: 250 }, "t")).toEqual({ kind: "false" });
    expect(await evaluateConstraint(pool, "args.amount <= 200", { other: 1 }, "t")).toMatchObject({ kind: "failed" });
    expect(await evaluateConstraint(pool, "args.amount", { amount: 1 }, "t")).toEqual({ kind: "failed", detail: "expression returned number, not a boolean" });
  }, 30_000);

  it("a constraint over its time budget is no match", async () => {
    const slow = 'args.to.exists(r, r.matches("^(a+)+$"))';
    const hostile = { to: Array.from({ length: 1000 }, () => `${"a".repeat(28)}!`) };
    expect(await evaluateConstraint(tight, slow, hostile, "t")).toEqual({ kind: "failed", detail: "the constraint ran over its 50 ms budget" });
  }, 30_000);
});
