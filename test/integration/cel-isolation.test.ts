import { spawn } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { hostilePolicy, otherTenantPolicy } from "../../bench/hostile-cel.js";
import { call, newDatabase, newKey, newTenant, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

/**
 * Issue 11 item 5: a costly CEL condition must not hold the event loop. Before conditions ran in worker
 * threads, ten requests of `args.to.exists(r, !r.matches(...))` over a long list held /healthz for 17.6 s.
 * The load comes from a second process (bench/hostile-client.mjs) so that the attacker's own work is
 * never in the measured latency.
 */
const client = fileURLToPath(new URL("../../bench/hostile-client.mjs", import.meta.url));
// The condition is quadratic without a nested comprehension (`in` scans the list for every item): over
// 4,000 addresses it takes seconds of CEL, in a 76 KB body that costs the event loop next to nothing to
// parse. So what /healthz shows is where the condition runs, not the cost of large bodies (the filed
// 45,000-address list is ~1 MB, which the size budget refuses; see the second block). It never matches,
// and the policy's default is approve: unbounded, every one of these requests would be approved.
const LIST = 4_000;
const quadraticPolicy = {
  ...hostilePolicy,
  conditions: [{ id: "echo-recipient", when: 'args.to.exists(r, r + "x" in args.to)', decision: "review", reason: "A recipient repeats another with an x" }],
};

interface Attack {
  sent: number;
  byStatus: Record<string, number>;
  byReason: Record<string, number>;
  requestIds: string[];
}

/** Sequential requests, each timed, until `stop()` says so. */
async function probeUntil<T>(stop: () => boolean, probe: () => Promise<T>): Promise<{ ms: number; value: T }[]> {
  const samples: { ms: number; value: T }[] = [];
  while (!stop()) {
    const t0 = performance.now();
    const value = await probe();
    samples.push({ ms: performance.now() - t0, value });
    await new Promise((r) => setTimeout(r, 10));
  }
  return samples;
}

async function attackWhileProbing(v: TestVault, key: string, seconds: number): Promise<{ attack: Attack; healthz: number[] }> {
  const child = spawn(process.execPath, [client, v.url, key, "10", String(LIST), String(seconds)], { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! });
  let last = "";
  const started = new Promise<void>((resolve) => lines.on("line", (line) => (line === "started" ? resolve() : (last = line))));
  const exited = once(child, "exit");
  await Promise.race([started, exited]);
  let done = false;
  void exited.then(() => (done = true));
  const healthz: number[] = [];
  while (!done) {
    const t0 = performance.now();
    const res = await fetch(`${v.url}/healthz`);
    await res.arrayBuffer();
    expect(res.status).toBe(200);
    healthz.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 10));
  }
  const [code] = (await exited) as [number | null];
  expect(code).toBe(0);
  return { attack: JSON.parse(last) as Attack, healthz };
}

describe("costly conditions run off the event loop", () => {
  let db: TestDatabase;
  let v: TestVault;
  let agent: string;

  beforeAll(async () => {
    db = newDatabase("postgres");
    // The array budget raised a little so that 4,000 addresses reach the conditions: what is tested here
    // is the worker pool and its time budget, which bound a costly condition whatever the input size.
    // A 250 ms budget rather than the default 50: the ordinary requests below must not time out on a
    // busy test machine, and the attack's condition runs for seconds, far over either.
    v = await startTestVault(db, { env: { VAULT_MAX_ARRAY_LENGTH: "5000", VAULT_CEL_TIMEOUT_MS: "250" } });
    agent = await newKey(v, "agent");
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: quadraticPolicy })).status).toBe(200);
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("still decides ordinary requests through the pool", async () => {
    const clear = (to: string[]) => call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "send_email", tool_args: { to }, context: { policy_id: "hostile-cel" } } });
    const plain = (await clear(["a@example.com"])).body;
    expect(plain, JSON.stringify(plain)).toMatchObject({ status: "approved", reason_code: "policy_default" });
    const echo = (await clear(["a@example.com", "a@example.comx"])).body;
    expect(echo, JSON.stringify(echo)).toMatchObject({ status: "pending_review", reason_code: "condition_matched" });
  });

  it("sends every over-budget request to review with condition_timeout while /healthz keeps answering", async () => {
    const { attack, healthz } = await attackWhileProbing(v, agent, 6);
    expect(attack.sent).toBeGreaterThanOrEqual(10);
    // Never approved (the policy's default is approve), never an error: every answer is the timeout review.
    expect(attack.byStatus).toEqual({ "200": attack.sent });
    expect(attack.byReason).toEqual({ "pending_review/condition_timeout": attack.sent });
    // Unbounded on the event loop, these requests held /healthz for 15.6 s (measured on this machine
    // with the same test against the code before the pool); off it, the worst probe measured 0.25-1.3 s
    // on a machine shared with other test runs (load average 12), p50 under 2 ms. A generous bound
    // separates the two.
    expect(healthz.length).toBeGreaterThan(20);
    const sorted = [...healthz].sort((a, b) => a - b);
    const summary = `healthz n=${sorted.length} p50 ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} ms, max ${sorted.at(-1)!.toFixed(1)} ms; top: ${sorted.slice(-5).map((x) => x.toFixed(0)).join(", ")}`;
    expect(sorted.at(-1)!, summary).toBeLessThan(3_000);

    // The ledger event, which commits to the reason, records why.
    await v.vault.ctx.ledgerLoop.drain();
    const bundle = await call(v.url, "GET", `/ledger/proof/bundle?request_id=${attack.requestIds[0]}`, { key: agent });
    expect(bundle.status, JSON.stringify(bundle.body)).toBe(200);
    // approved_pending_review is the protocol's name for every request awaiting review (§4.2).
    expect(bundle.body.event).toMatchObject({ event_type: "clearance.pending_review", decision_status: "approved_pending_review" });
    expect(bundle.body.event.reason).toContain("condition_timeout");
    const status = await call(v.url, "GET", `/clearance-status/${attack.requestIds[0]}`, { key: agent });
    expect(status.body).toMatchObject({ status: "pending_review", reason_code: "condition_timeout", token: null });
  });
});

describe("args size budget on /request-clearance", () => {
  let db: TestDatabase;
  let v: TestVault;
  let agent: string;

  beforeAll(async () => {
    db = newDatabase("postgres");
    v = await startTestVault(db);
    agent = await newKey(v, "agent");
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: hostilePolicy })).status).toBe(200);
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  const storedRequests = async () => {
    const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
    return (await sql.query<{ n: number }>("SELECT count(*)::int AS n FROM clearance_requests"))[0]!.n;
  };

  it("refuses the filed 45,000-address list with 413 args_too_large and stores nothing", async () => {
    const before = await storedRequests();
    const to = Array.from({ length: 45_000 }, (_, i) => `u${i}@example.com`);
    const res = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "send_email", tool_args: { to }, context: { policy_id: "hostile-cel" } } });
    expect(res.status).toBe(413);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    expect(res.body).toMatchObject({ code: "args_too_large", status: 413 });
    expect(res.body.detail).toContain("/tool_args/to has 45000 items");
    expect(await storedRequests()).toBe(before);
  });

  it("counts context too, and accepts a list at the limit", async () => {
    const wide = Object.fromEntries(Array.from({ length: 6_000 }, (_, i) => [`k${i}`, i]));
    const tooMany = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "send_email", tool_args: wide, context: { ...wide, policy_id: "hostile-cel" } } });
    expect(tooMany.status).toBe(413);
    expect(tooMany.body.detail).toContain("VAULT_MAX_ARGS_NODES");
    const to = Array.from({ length: 1_000 }, (_, i) => `u${i}@example.com`);
    const atLimit = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "send_email", tool_args: { to }, context: { policy_id: "hostile-cel" } } });
    expect(atLimit.status).toBe(200);
    // Decided by the condition or by its time budget; either way never an error, and never refused.
    expect(["approved", "pending_review"]).toContain(atLimit.body.status);
  });
});

describe("costly conditions of one tenant do not hold up another tenant's requests", () => {
  let db: TestDatabase;
  let v: TestVault;
  let attackerKey: string;
  let otherKey: string;

  beforeAll(async () => {
    db = newDatabase("postgres");
    // A request may wait for a condition worker for half the judge's time limit, here 2 s, then it is
    // reviewed as condition_timeout. First come first served, tenant B's request queued behind tenant
    // A's ten costly ones (each holding a worker for its 250 ms budget, then costing a thread start):
    // 1-4 s per request in the bench. Served in turns, it waits for at most one running task of A's.
    v = await startTestVault(db, { env: { VAULT_MAX_ARRAY_LENGTH: "5000", VAULT_CEL_TIMEOUT_MS: "250", VAULT_JUDGE_TIMEOUT_MS: "4000" } });
    attackerKey = await newKey(v, "agent");
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: quadraticPolicy })).status).toBe(200);
    const other = await newTenant(v, "other");
    otherKey = await newKey(v, "agent", other.tenantId);
    expect((await call(v.url, "POST", "/register-policy", { key: other.adminKey, body: otherTenantPolicy })).status).toBe(200);
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("approves tenant B's ordinary requests by their condition while tenant A's 10 concurrent hostile requests run", async () => {
    const clearB = () =>
      call(v.url, "POST", "/request-clearance", { key: otherKey, body: { tool_name: "send_email", tool_args: { to: ["a@example.com"] }, context: { policy_id: "ordinary" } } });
    // Once before the attack, so that the worker threads are up.
    expect((await clearB()).body).toMatchObject({ status: "approved", reason_code: "condition_matched" });

    const child = spawn(process.execPath, [client, v.url, attackerKey, "10", String(LIST), "6"], { stdio: ["ignore", "pipe", "inherit"] });
    const lines = createInterface({ input: child.stdout! });
    let last = "";
    const started = new Promise<void>((resolve) => lines.on("line", (line) => (line === "started" ? resolve() : (last = line))));
    const exited = once(child, "exit");
    await Promise.race([started, exited]);
    let done = false;
    void exited.then(() => (done = true));
    const samples = await probeUntil(() => done, async () => {
      const res = await clearB();
      return `${res.status} ${res.body.status}/${res.body.reason_code}`;
    });
    const [code] = (await exited) as [number | null];
    expect(code).toBe(0);
    const attack = JSON.parse(last) as Attack;
    // The attack reached the pool and was stopped there the whole time.
    expect(attack.sent).toBeGreaterThanOrEqual(10);
    expect(attack.byReason).toEqual({ "pending_review/condition_timeout": attack.sent });

    const outcomes = samples.map((s) => s.value);
    const summary = `B: n=${samples.length}, ms ${samples.map((s) => s.ms.toFixed(0)).join(" ")}; outcomes ${[...new Set(outcomes)].join(", ")}`;
    expect(samples.length, summary).toBeGreaterThanOrEqual(5);
    expect(new Set(outcomes), summary).toEqual(new Set(["200 approved/condition_matched"]));
  });
});

describe("closing a vault", () => {
  // Diagnostic reports list this process's worker threads; there is no lighter public count.
  const threads = () => (process.report.getReport() as unknown as { workers: unknown[] }).workers.length;

  it("stops its condition worker threads, so a process that starts many vaults keeps none", async () => {
    const db = newDatabase("postgres");
    const before = threads();
    const v = await startTestVault(db);
    try {
      const agent = await newKey(v, "agent");
      expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: otherTenantPolicy })).status).toBe(200);
      const res = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "send_email", tool_args: { to: ["a@example.com"] }, context: { policy_id: "ordinary" } } });
      expect(res.body).toMatchObject({ status: "approved", reason_code: "condition_matched" });
      // VAULT_CEL_WORKERS (2) and the warm spare.
      expect(threads()).toBe(before + 3);
    } finally {
      await v.close();
      await db.drop();
    }
    expect(threads()).toBe(before);
  });
});
