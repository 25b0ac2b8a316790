import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, newPgDatabase, newKey, refundPolicy, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

// Burn-on-consume must hold across processes that share one database, which only a real
// PostgreSQL server can show (PGlite is a single session).
describe("two vault instances on one real PostgreSQL", () => {
  let db: TestDatabase;
  let a: TestVault;
  let b: TestVault;

  beforeAll(async () => {
    db = newPgDatabase();
    a = await startTestVault(db);
    b = await startTestVault(db, { adminKey: a.adminKey });
    await call(a.url, "POST", "/register-policy", { key: a.adminKey, body: refundPolicy });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await db?.drop();
  });

  it("lets exactly one of 50 concurrent consumes of one token succeed", async () => {
    const agent = await newKey(a, "agent");
    const res = await call(a.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 3 } } });
    expect(res.body.status).toBe("approved");
    const token = res.body.token;
    const attempts = Array.from({ length: 50 }, (_, i) =>
      call(i % 2 === 0 ? a.url : b.url, "POST", "/consume-token", { key: agent, body: { token } }),
    );
    const statuses = (await Promise.all(attempts)).map((r) => r.status);
    expect(statuses.filter((s) => s === 200)).toHaveLength(1);
    expect(statuses.filter((s) => s === 409)).toHaveLength(49);
  });

  it("serves one tenant's requests from either instance", async () => {
    const agent = await newKey(a, "agent");
    const res = await call(a.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 4 } } });
    const fromB = await call(b.url, "GET", `/clearance-status/${res.body.request_id}`, { key: agent });
    expect(fromB.body).toMatchObject({ status: "approved", token: res.body.token });
  });
});
