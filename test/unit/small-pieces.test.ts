import { describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { ConfigError, loadConfig } from "../../src/config/config.js";
import { jsonProblem } from "../../src/http/json-body.js";
import { RateLimiter } from "../../src/http/rate-limit.js";
import { compileCondition, ConditionCompileError, ConditionEvalError, toBindings } from "../../src/policies/cel.js";

const bindings = (args: Record<string, unknown>) =>
  toBindings({ tool: "stripe_refund", args, context: { risk: "high" }, agent_id: "a", session_id: "", human_principal: "" });

describe("CEL conditions", () => {
  it("evaluates over tool, args and context, with JSON numbers comparable to int literals", () => {
    expect(compileCondition("tool == 'stripe_refund' && args.amount > 100")(bindings({ amount: 150 }))).toBe(true);
    expect(compileCondition("args.items.exists(i, i.sku == 'x')")(bindings({ items: [{ sku: "x" }] }))).toBe(true);
    expect(compileCondition("context.risk == 'high' && !has(args.note)")(bindings({}))).toBe(true);
  });

  it("refuses at compile time what would be unsafe or meaningless", () => {
    expect(() => compileCondition("args.amount >")).toThrow(ConditionCompileError);
    expect(() => compileCondition("secrets == 1")).toThrow(/unknown variable "secrets"/);
    expect(() => compileCondition("args.a.all(x, args.b.exists(y, x == y))")).toThrow(/nested comprehensions/);
    expect(() => compileCondition(`tool == '${"x".repeat(3000)}'`)).toThrow(/longer than/);
    expect(() => compileCondition(Array.from({ length: 150 }, () => "tool==''").join("||"))).toThrow(/too complex/);
  });

  it("reports runtime errors and non-boolean results as evaluation errors (callers fail closed)", () => {
    expect(() => compileCondition("args.missing > 1")(bindings({}))).toThrow(ConditionEvalError);
    expect(() => compileCondition("args.amount")(bindings({ amount: 1 }))).toThrow(/not a boolean/);
  });
});

describe("token bucket rate limiter", () => {
  it("allows the burst, then refills at the rate, with Retry-After in whole seconds", () => {
    const clock = new ManualClock();
    const limiter = new RateLimiter({ rps: 2, burst: 3, ttlSeconds: 60 }, clock);
    for (let i = 0; i < 3; i++) limiter.check("k");
    expect(() => limiter.check("k")).toThrow(expect.objectContaining({ code: "rate_limited", extra: { retryAfterSeconds: 1 } }));
    limiter.check("other");
    clock.advance(500);
    limiter.check("k");
    expect(() => limiter.check("k")).toThrow();
  });

  it("is off at 0 rps", () => {
    const limiter = new RateLimiter({ rps: 0, burst: 1, ttlSeconds: 60 }, new ManualClock());
    for (let i = 0; i < 100; i++) limiter.check("k");
  });
});

describe("JSON depth limit", () => {
  it("measures depth without recursion, even for very deep input", () => {
    let deep: unknown = 1;
    for (let i = 0; i < 100_000; i++) deep = [deep];
    expect(jsonProblem(deep, 64)).toBe("too_deep");
    expect(jsonProblem({ a: [{ b: 1 }] }, 3)).toBeNull();
    expect(jsonProblem({ a: [{ b: {} }] }, 3)).toBe("too_deep");
    expect(jsonProblem({ a: [1, JSON.parse("1e400")] }, 3)).toBe("non_finite_number");
  });
});

describe("configuration", () => {
  it("applies the documented defaults", () => {
    const c = loadConfig({});
    expect(c.http).toMatchObject({ host: "0.0.0.0", port: 8000 });
    expect(c.jwt).toEqual({ ttlSeconds: 300, issuer: "alcv-vault", audience: "ledgix-sdk" });
    expect(c.signer.keyId).toBe("vault-key-001");
    expect(c.clearance).toMatchObject({ workers: 16, queueSize: 2048, leaseSeconds: 30 });
    expect(c.rateLimit).toEqual({ rps: 20, burst: 40, ttlSeconds: 180 });
    expect(c.pools).toEqual({ controlMax: 4, tenantMax: 2 });
    expect(c.database.kind).toBe("pglite");
    expect(loadConfig({ DATABASE_URL: "postgres://u@h/db" }).database).toEqual({ kind: "postgres", url: "postgres://u@h/db" });
  });

  it("stops on a bad value with a message naming the variable", () => {
    expect(() => loadConfig({ VAULT_PORT: "eighty" })).toThrow(/VAULT_PORT/);
    expect(() => loadConfig({ LOG_FORMAT: "xml" })).toThrow(/LOG_FORMAT/);
    expect(() => loadConfig({ VAULT_SIGNER_BACKEND: "aws_kms" })).toThrow(/VAULT_KMS_KEY_ID: required/);
    expect(() => loadConfig({ VAULT_RATE_LIMIT_RPS: "-1" })).toThrow(/VAULT_RATE_LIMIT_RPS/);
  });
});
