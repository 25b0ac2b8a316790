import { afterAll, describe, expect, it } from "vitest";
import { argsBudgetViolation } from "../../src/requests/request-schema.js";
import { CelPool } from "../../src/policies/cel-pool.js";
import type { CelRun } from "../../src/policies/condition-runner.js";
import { FairQueue } from "../../src/policies/fair-queue.js";

const HOSTILE = 'args.to.exists(r, !r.matches("@example[.]com$"))';
const input = (args: Record<string, unknown>) => ({ tool: "send_email", args, context: { risk: "high" }, agent_id: "a", session_id: "", human_principal: "" });
const addresses = (n: number) => Array.from({ length: n }, (_, i) => `user${i}@example.com`);
// Quadratic without a nested comprehension (`in` scans the list for every item): over 4,000 addresses it
// runs for seconds, far over any budget below, from an input that is cheap to copy to a worker.
const QUADRATIC = 'args.to.exists(r, r + "x" in args.to)';
const until = async (ok: () => boolean, what: string) => {
  for (const t0 = performance.now(); !ok(); await new Promise((r) => setTimeout(r, 10))) {
    if (performance.now() - t0 > 60_000) throw new Error(`timed out waiting for ${what}`);
  }
};

describe("CEL worker pool", () => {
  const pool = new CelPool({ workers: 2, timeoutMs: 200, queueWaitMs: 60_000 });
  afterAll(() => pool.close());

  it("evaluates each expression against plain JSON, with errors per expression", async () => {
    const run = await pool.evaluate(["args.amount > 100", "context.risk == 'low'", "args.missing > 1", "args.items.exists(i, i.sku == 'x')"], input({ amount: 150, items: [{ sku: "x" }] }), "t1");
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
    const runs = await Promise.all(lists.map((l) => pool.evaluate([HOSTILE], l, "t1")));
    const elapsed = performance.now() - started;
    for (const run of runs) expect(run).toMatchObject({ kind: "timeout", timeoutMs: 200, waitedForWorker: false });
    // The budget plus copying the list and terminating; unbounded, the two would take seconds.
    expect(elapsed).toBeLessThan(1_500);
    // The next task runs normally, on the warm spare or a replacement.
    const after = await pool.evaluate([HOSTILE], input({ to: ["a@example.com", "b@elsewhere.org"] }), "t1");
    expect(after).toEqual({ kind: "done", results: [true] });
  });

  it("answers at once, without a worker, when there is nothing to evaluate", async () => {
    expect(await pool.evaluate([], input({}), "t1")).toEqual({ kind: "done", results: [] });
  });

  it("fails closed once closed", async () => {
    const closed = new CelPool({ workers: 1, timeoutMs: 50, queueWaitMs: 60_000 });
    await closed.close();
    expect(await closed.evaluate(["true"], input({}), "t1")).toMatchObject({ kind: "unavailable" });
  });
});

describe("CEL worker pool shared by tenants", () => {
  it("serves tenants in turns: another tenant's task is not queued behind a flood of costly ones", async () => {
    const pool = new CelPool({ workers: 2, timeoutMs: 200, queueWaitMs: 120_000 });
    try {
      const flood = input({ to: addresses(4_000) });
      const order: string[] = [];
      const track = (who: string, run: Promise<CelRun>) => run.then((r) => (order.push(who), r));
      const attacker = Array.from({ length: 20 }, () => track("A", pool.evaluate([QUADRATIC], flood, "tenant-a")));
      // Tenant B asks once tenant A's tasks run and the rest wait.
      await until(() => pool.stats().running >= 1, "tenant A's tasks to run");
      expect(pool.stats().waiting).toBeGreaterThanOrEqual(15);
      const b = await track("B", pool.evaluate(["args.to.size() == 1"], input({ to: ["a@example.com"] }), "tenant-b"));
      expect(b).toEqual({ kind: "done", results: [true] });
      // B took the warm spare, or waited for one of A's running tasks to be stopped: A may run on one
      // worker while B waits, and on a loaded machine a replacement thread can take long enough to
      // start that a few more of A's finish first. First come first served, B would come after all 20.
      const aBefore = order.indexOf("B");
      expect(aBefore, order.join("")).toBeLessThanOrEqual(6);
      const runs = await Promise.all(attacker);
      expect(new Set(runs.map((r) => r.kind))).toEqual(new Set(["timeout"]));
    } finally {
      await pool.close();
    }
  });

  it("keeps a warm spare thread: the task after a worker is killed starts at once, and threads stay at workers + 1", async () => {
    const pool = new CelPool({ workers: 2, timeoutMs: 200, queueWaitMs: 120_000 });
    try {
      expect(await pool.evaluate(["true"], input({}), "t1")).toEqual({ kind: "done", results: [true] });
      await until(() => pool.stats().idle === 3, "three threads to be ready");
      expect(pool.stats()).toMatchObject({ threads: 3, spawned: 3 });

      // Both workers killed over budget.
      const flood = input({ to: addresses(4_000) });
      const killed = await Promise.all([1, 2].map(() => pool.evaluate([QUADRATIC], flood, "tenant-a")));
      for (const run of killed) expect(run).toMatchObject({ kind: "timeout", waitedForWorker: false });
      // Their replacements are starting in the background; the spare is already warm, so the next task
      // is posted at once rather than waiting for a thread to start (~200 ms or more).
      expect(pool.stats()).toMatchObject({ threads: 3, spawned: 5, idle: 1 });
      const next = pool.evaluate(["args.to.size() == 1"], input({ to: ["a@example.com"] }), "tenant-b");
      expect(pool.stats()).toMatchObject({ running: 1, waiting: 0 });
      expect(await next).toEqual({ kind: "done", results: [true] });
      await until(() => pool.stats().idle === 3, "the replacements to be ready");
      expect(pool.stats()).toMatchObject({ threads: 3, spawned: 5 });
    } finally {
      await pool.close();
    }
    expect(pool.stats()).toMatchObject({ threads: 0, running: 0, waiting: 0 });
  });
});

describe("fair queue", () => {
  it("takes one item per key in turn, and a key that empties rejoins at the back", () => {
    const q = new FairQueue<string>();
    for (const item of ["a1", "a2", "a3"]) q.push("a", item);
    q.push("b", "b1");
    q.push("c", "c1");
    q.push("c", "c2");
    const taken = Array.from({ length: 4 }, () => q.shift()!.item);
    expect(taken).toEqual(["a1", "b1", "c1", "a2"]);
    q.push("b", "b2");
    expect([q.shift()!.item, q.shift()!.item, q.shift()!.item, q.shift()]).toEqual(["c2", "a3", "b2", undefined]);
    expect(q.size).toBe(0);
  });

  it("skips keys that may not start now, removes expired items and drains", () => {
    const q = new FairQueue<string>();
    q.push("a", "a1");
    q.push("a", "a2");
    q.push("b", "b1");
    expect(q.shift((key) => key !== "a")).toEqual({ key: "b", item: "b1" });
    expect(q.shift((key) => key !== "a")).toBeUndefined();
    expect(q.remove("a", "a1")).toBe(true);
    expect(q.remove("a", "a1")).toBe(false);
    expect([q.size, q.keys, q.sizeOf("a")]).toEqual([1, 1, 1]);
    expect(q.drain()).toEqual(["a2"]);
    expect([q.size, q.keys]).toEqual([0, 0]);
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
