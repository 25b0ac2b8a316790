import { afterAll, describe, expect, it } from "vitest";
import { argsBudgetViolation } from "../../src/clearance/request-schema.js";
import { CelPool } from "../../src/policies/cel-pool.js";

const HOSTILE = 'args.to.exists(r, !r.matches("@example[.]com$"))';
const input = (args: Record<string, unknown>) => ({ tool: "send_email", args, context: { risk: "high" }, agent_id: "a", session_id: "", human_principal: "" });
const addresses = (n: number) => Array.from({ length: n }, (_, i) => `user${i}@example.com`);

describe("CEL worker pool", () => {
  const pool = new CelPool({ workers: 2, timeoutMs: 200, queueWaitMs: 60_000 });
  afterAll(() => pool.close());

  it("evaluates each expression against plain JSON, with errors per expression", async () => {
    const run = await pool.evaluate(["args.amount > 100", "context.risk == 'low'", "args.missing > 1", "args.items.exists(i, i.sku == 'x')"], input({ amount: 150, items: [{ sku: "x" }] }));
    expect(run.kind).toBe("done");
    if (run.kind !== "done") return;
    expect(run.results.slice(0, 2)).toEqual([true, false]);
    expect(run.results[2]).toMatchObject({ error: expect.any(String) });
    expect(run.results[3]).toBe(true);
  });

  it("stops a condition over its budget by terminating the worker, and keeps answering with a fresh one", async () => {
    // 100,000 addresses: 3-5 s of CEL each on this machine, 15x+ the budget (200 ms here, so that the
    // ordinary evaluation after it does not time out on a loaded test machine); one per worker.
    const lists = [1, 2].map(() => input({ to: addresses(100_000) }));
    const started = performance.now();
    const runs = await Promise.all(lists.map((l) => pool.evaluate([HOSTILE], l)));
    const elapsed = performance.now() - started;
    for (const run of runs) expect(run).toMatchObject({ kind: "timeout", timeoutMs: 200, waitedForWorker: false });
    // The budget plus copying the list and terminating; unbounded, the two would take seconds.
    expect(elapsed).toBeLessThan(1_500);
    // The next task waits for a replacement worker to start, then runs normally.
    const after = await pool.evaluate([HOSTILE], input({ to: ["a@example.com", "b@elsewhere.org"] }));
    expect(after).toEqual({ kind: "done", results: [true] });
  });

  it("answers at once, without a worker, when there is nothing to evaluate", async () => {
    expect(await pool.evaluate([], input({}))).toEqual({ kind: "done", results: [] });
  });

  it("fails closed once closed", async () => {
    const closed = new CelPool({ workers: 1, timeoutMs: 50, queueWaitMs: 60_000 });
    await closed.close();
    expect(await closed.evaluate(["true"], input({}))).toMatchObject({ kind: "unavailable" });
  });
});

describe("args size budget", () => {
  const budget = { maxNodes: 100, maxArrayLength: 10 };

  it("accepts what fits, counting tool_args and context together", () => {
    expect(argsBudgetViolation({ tool_args: { amount: 5, to: addresses(10) }, context: { policy_id: "p" } }, budget)).toBeNull();
    // 1 + 49 values in tool_args, 1 + 49 in context: exactly 100.
    const half = Object.fromEntries(Array.from({ length: 49 }, (_, i) => [`k${i}`, i]));
    expect(argsBudgetViolation({ tool_args: half, context: half }, budget)).toBeNull();
    expect(argsBudgetViolation({ tool_args: { ...half, one: 1 }, context: half }, budget)).toMatch(/more than 100 JSON values.*VAULT_MAX_ARGS_NODES/);
  });

  it("names the array that is too long by its JSON pointer, at any depth", () => {
    expect(argsBudgetViolation({ tool_args: { to: addresses(11) }, context: {} }, budget)).toBe(
      "/tool_args/to has 11 items; at most 10 are allowed (VAULT_MAX_ARRAY_LENGTH)",
    );
    expect(argsBudgetViolation({ tool_args: {}, context: { "a/b": [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]] } }, budget)).toBe(
      "/context/a~1b/0 has 11 items; at most 10 are allowed (VAULT_MAX_ARRAY_LENGTH)",
    );
  });

  it("refuses the issue's 45,000-address list with the defaults, and handles deep nesting without recursion", () => {
    const defaults = { maxNodes: 10_000, maxArrayLength: 1_000 };
    expect(argsBudgetViolation({ tool_args: { to: addresses(45_000) }, context: {} }, defaults)).toMatch(/45000 items/);
    let deep: unknown = 1;
    for (let i = 0; i < 50_000; i++) deep = [deep];
    expect(argsBudgetViolation({ tool_args: { deep }, context: {} }, defaults)).toMatch(/VAULT_MAX_ARGS_NODES/);
  });
});
