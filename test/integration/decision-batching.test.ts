import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, newDatabase, newKey, refundPolicy, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

/** The group-commit histogram's count and sum, from GET /metrics. */
async function batchFigures(v: TestVault): Promise<{ batches: number; units: number; fallbacks: number }> {
  const text = await (await fetch(`${v.url}/metrics`)).text();
  const value = (name: string) => Number(text.split("\n").find((l) => l.startsWith(`${name} `))?.split(" ")[1] ?? 0);
  return {
    batches: value("countersign_decision_batch_size_count"),
    units: value("countersign_decision_batch_size_sum"),
    fallbacks: value("countersign_decision_batch_fallbacks_total"),
  };
}

const delta = (a: Awaited<ReturnType<typeof batchFigures>>, b: typeof a) => ({
  batches: b.batches - a.batches,
  units: b.units - a.units,
  fallbacks: b.fallbacks - a.fallbacks,
});

describe.each<Engine>(["postgres", "pglite"])("decisions are group-committed on %s", (engine) => {
  let db: TestDatabase;
  let v: TestVault;
  let agent: string;
  const clear = (body: object, headers: Record<string, string> = {}) => call(v.url, "POST", "/request-clearance", { key: agent, body, headers });
  const refund = (amount: number, extra: object = {}) => ({ tool_name: "stripe_refund", tool_args: { amount }, agent_id: "agent-7", session_id: "s-1", ...extra });

  beforeAll(async () => {
    db = newDatabase(engine);
    // A long wait, so that requests sent together certainly share a batch.
    v = await startTestVault(db, { env: { VAULT_DECISION_BATCH_MAX: "64", VAULT_DECISION_BATCH_WAIT_MS: "40" } });
    agent = await newKey(v, "agent");
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy })).status).toBe(200);
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("concurrent approvals share commits, and each answer carries its own token", async () => {
    const before = await batchFigures(v);
    const answers = await Promise.all(Array.from({ length: 40 }, (_, i) => clear(refund(10 + i))));
    expect(answers.map((a) => a.status)).toEqual(Array(40).fill(200));
    expect(answers.every((a) => a.body.status === "approved" && typeof a.body.token === "string")).toBe(true);
    expect(new Set(answers.map((a) => a.body.token)).size).toBe(40);
    // Each answer is committed: its status and its token read back from the database.
    for (const a of answers.slice(0, 5)) {
      const status = await call(v.url, "GET", `/clearance-status/${a.body.request_id}`, { key: agent });
      expect(status.body).toMatchObject({ status: "approved", token: a.body.token });
    }
    const d = delta(before, await batchFigures(v));
    expect(d.units).toBe(40);
    expect(d.batches).toBeLessThan(40);
  });

  it("one Idempotency-Key sent many times at once makes one decision, and every answer is that decision", async () => {
    const body = refund(42);
    const answers = await Promise.all(Array.from({ length: 12 }, () => clear(body, { "idempotency-key": `same-${engine}` })));
    expect(answers.map((a) => a.status)).toEqual(Array(12).fill(200));
    expect(new Set(answers.map((a) => a.body.request_id)).size).toBe(1);
    expect(new Set(answers.map((a) => a.body.token)).size).toBe(1);
    const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
    const [row] = await sql.query<{ n: number }>("SELECT count(*)::int AS n FROM issued_tokens t JOIN ledger_events e ON e.request_id = t.request_id WHERE t.request_id = $1", [answers[0]!.body.request_id]);
    expect(row!.n).toBe(1);
  });

  it("a token consumed by many callers at once is burned once", async () => {
    const approved = await clear(refund(7));
    const token = approved.body.token as string;
    const tries = await Promise.all(Array.from({ length: 16 }, () => call(v.url, "POST", "/consume-token", { key: agent, body: { token } })));
    expect(tries.filter((t) => t.status === 200)).toHaveLength(1);
    expect(tries.filter((t) => t.status === 409).every((t) => t.body.code === "token_already_consumed")).toBe(true);
    expect(tries.filter((t) => t.status === 409)).toHaveLength(15);
  });

  it("refused votes (unknown requests, finished ones) answer their own error and roll back no batch", async () => {
    const before = await batchFigures(v);
    const decided = await clear(refund(3));
    const [approvals, cancels] = await Promise.all([
      Promise.all(Array.from({ length: 20 }, (_, i) => clear(refund(50 + i)))),
      Promise.all([
        ...Array.from({ length: 4 }, (_, i) => call(v.url, "POST", `/reviews/req_missing_${i}/decision`, { key: agent, body: { approved: false } })),
        call(v.url, "POST", `/reviews/${decided.body.request_id}/decision`, { key: agent, body: { approved: false } }),
      ]),
    ]);
    expect(approvals.every((a) => a.status === 200 && a.body.status === "approved")).toBe(true);
    expect(cancels.slice(0, 4).map((c) => c.body.code)).toEqual(Array(4).fill("request_not_found"));
    expect(cancels[4]!.body.code).toBe("request_not_pending");
    expect(delta(before, await batchFigures(v)).fallbacks).toBe(0);
  });

  it("a decision whose row the database refuses fails alone; the rest of its batch is approved", async () => {
    const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
    // A fault injected in the real database: one agent's rows are refused by a trigger.
    await sql.exec(`
      CREATE OR REPLACE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.agent_id = 'poison' THEN RAISE EXCEPTION 'poisoned row'; END IF; RETURN NEW; END $$;
      CREATE TRIGGER refuse_poison BEFORE INSERT ON clearance_requests FOR EACH ROW EXECUTE FUNCTION refuse_poison();`);
    try {
      const before = await batchFigures(v);
      const bodies = Array.from({ length: 20 }, (_, i) => refund(20 + i, i === 7 ? { agent_id: "poison" } : {}));
      const answers = await Promise.all(bodies.map((b) => clear(b)));
      const others = answers.filter((_, i) => i !== 7);
      expect(others.map((a) => a.status)).toEqual(Array(19).fill(200));
      expect(others.every((a) => a.body.status === "approved" && a.body.token)).toBe(true);
      expect(answers[7]!.status).not.toBe(200);
      const [count] = await sql.query<{ n: number }>("SELECT count(*)::int AS n FROM clearance_requests WHERE agent_id = 'poison'");
      expect(count!.n).toBe(0);
      expect(delta(before, await batchFigures(v)).fallbacks).toBeGreaterThanOrEqual(1);
    } finally {
      await sql.exec("DROP TRIGGER refuse_poison ON clearance_requests; DROP FUNCTION refuse_poison();");
    }
  });
});
