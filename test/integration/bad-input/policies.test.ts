/**
 * Field types and sizes of POST /register-policy, and conditions whose CEL does not compile.
 *
 * Part of the bad-input suite (test/integration/bad-input/): every error is RFC 9457 problem+json
 * with a stable `code` from the catalog, bad input always gets a 4xx, never a 5xx or a crash, and
 * unknown fields are ignored only where the protocol asks (§6.11). This file starts its own vault on PGlite; every response's
 * status is recorded, and the last tests check that none was a 5xx and that the vault still answers.
 */
import { describe, expect, it } from "vitest";
import { describeClosingChecks, useBadInputVault } from "./suite-lifecycle.js";
import { long } from "./hostile-payloads.js";
import { expectFieldError, expectProblem } from "./problem-assertions.js";

const suite = useBadInputVault();

describe("POST /register-policy field validation", () => {
  const cases: { field: string; value: unknown }[] = [
    { field: "policy_id", value: 5 },
    { field: "policy_id", value: "" },
    { field: "policy_id", value: "has space" },
    { field: "policy_id", value: "../../etc/passwd" },
    { field: "policy_id", value: "-leading-dash" },
    { field: "policy_id", value: long(129) },
    { field: "description", value: 5 },
    { field: "description", value: long(20_001) },
    { field: "rules", value: "be nice" },
    { field: "rules", value: [5] },
    { field: "rules", value: [long(4001)] },
    { field: "rules", value: Array.from({ length: 501 }, () => "r") },
    { field: "tools", value: "stripe_refund" },
    { field: "tools", value: [""] },
    { field: "tools", value: [long(201)] },
    { field: "tools", value: Array.from({ length: 1001 }, (_, i) => `t${i}`) },
    { field: "conditions", value: {} },
    { field: "conditions", value: "args.n > 1" },
    { field: "conditions", value: [{}] },
    { field: "conditions", value: [{ id: "c", when: "true", decision: "maybe" }] },
    { field: "conditions", value: [{ id: "bad id", when: "true", decision: "deny" }] },
    { field: "conditions", value: [{ id: "c", when: "", decision: "deny" }] },
    { field: "conditions", value: [{ id: "c", when: 5, decision: "deny" }] },
    { field: "conditions", value: [{ id: "c", when: "true", decision: "deny", reason: long(2001) }] },
    { field: "conditions", value: Array.from({ length: 201 }, (_, i) => ({ id: `c${i}`, when: "true", decision: "deny" })) },
    { field: "default_decision", value: "yes" },
    { field: "default_decision", value: 5 },
  ];
  it.each(cases)("$field = $value -> 400 validation_failed", async ({ field, value }) => {
    expectFieldError(await suite.vault.http("POST", "/register-policy", { key: suite.vault.adminKey, body: suite.vault.policyDoc(undefined, { [field]: value }) }), field);
  });

  it("duplicate condition ids -> 400 naming the duplicate", async () => {
    const conditions = [
      { id: "same", when: "args.n > 1", decision: "deny" },
      { id: "same", when: "args.n > 2", decision: "review" },
    ];
    const res = await suite.vault.http("POST", "/register-policy", { key: suite.vault.adminKey, body: suite.vault.policyDoc(undefined, { conditions }) });
    expectFieldError(res, "conditions.1.id");
    expect(res.body.detail).toContain("same");
  });

  it("an expression over 2048 characters -> 400", async () => {
    const when = `args.n > ${"1".repeat(2049)}`;
    const res = await suite.vault.http("POST", "/register-policy", {
      key: suite.vault.adminKey,
      body: suite.vault.policyDoc(undefined, { conditions: [{ id: "long-one", when, decision: "deny" }] }),
    });
    expectProblem(res, 400);
    expect(["validation_failed", "invalid_condition"]).toContain(res.body.code);
  });

  const notCompiling: { label: string; when: string; mention?: string }[] = [
    { label: "a syntax error", when: "args.amount >" },
    { label: "an unknown variable", when: "foo == 1", mention: "foo" },
    { label: "an unknown variable inside a call", when: "size(secrets) > 0", mention: "secrets" },
    { label: "nested comprehensions", when: "args.items.all(x, args.items.exists(y, y == x))", mention: "nested" },
    { label: "a comprehension inside map()", when: "args.l.map(x, args.l.filter(y, y > x)).size() > 0", mention: "nested" },
    { label: "message construction", when: "google.protobuf.Value{}" },
    { label: "a NUL character", when: "args.n\u0000 > 1" },
    { label: "1,000 nested parentheses", when: `${"(".repeat(1000)}true${")".repeat(1000)}` },
    { label: "over 400 AST nodes", when: Array.from({ length: 110 }, (_, i) => `args.a == ${i}`).join(" || ") },
    { label: "an unterminated string", when: 'tool == "stripe' },
  ];
  it.each(notCompiling)("a condition with $label -> 400 invalid_condition naming the condition", async ({ when, mention }) => {
    const conditions = [
      { id: "fine-one", when: "args.n > 1", decision: "deny" },
      { id: "cond-broken", when, decision: "review" },
    ];
    const res = await suite.vault.http("POST", "/register-policy", { key: suite.vault.adminKey, body: suite.vault.policyDoc(undefined, { conditions }) });
    expectProblem(res, 400, "invalid_condition");
    expect(res.body.detail).toContain("cond-broken");
    expect(res.body.detail).not.toContain("fine-one");
    expect(res.body.errors).toEqual([expect.objectContaining({ condition_id: "cond-broken", path: "conditions.1.when" })]);
    if (mention) expect(res.body.detail).toContain(mention);
  });

  it("strings at their maximum length are accepted", async () => {
    const res = await suite.vault.http("POST", "/register-policy", {
      key: suite.vault.adminKey,
      body: suite.vault.policyDoc(`max-${"m".repeat(124)}`, { description: long(20_000), rules: [long(4000)], tools: ["policy_test_tool", long(200)] }),
    });
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
  });
});

describeClosingChecks(suite, 40);
