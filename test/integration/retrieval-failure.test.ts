/**
 * Retrieval that fails (the embedding endpoint is down) without an LLM: a policy's deny still
 * stands, since it never depended on the evidence; anything else fails closed to review.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, freePort, newDatabase, newKey, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

describe("retrieval failure without an LLM", () => {
  let db: TestDatabase;
  let v: TestVault;
  let agent: string;

  beforeAll(async () => {
    db = newDatabase("pglite");
    v = await startTestVault(db, {
      env: { EMBEDDING_MODEL: "openai/text-embedding-test", EMBEDDING_BASE_URL: `http://127.0.0.1:${await freePort()}/v1` },
    });
    agent = await newKey(v, "agent");
    // No description or rules: nothing to embed at registration, so registering succeeds.
    for (const body of [
      { policy_id: "wipes", tools: ["wipe_device"], default_decision: "deny" },
      { policy_id: "pings", tools: ["ping"], default_decision: "approve" },
    ]) {
      expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body })).status).toBe(200);
    }
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("keeps a default deny", async () => {
    const res = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "wipe_device", tool_args: { id: 1 } } });
    expect(res.body).toMatchObject({ status: "denied", reason_code: "policy_default", token: null, citations: [] });
  });

  it("sends a default approval to review instead of approving without its evidence", async () => {
    const res = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "ping", tool_args: {} } });
    expect(res.body).toMatchObject({ status: "pending_review", reason_code: "retrieval_unavailable", token: null });
  });

  it("refuses to register policy text it cannot embed, with 503 and nothing written", async () => {
    const res = await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: { policy_id: "texty", description: "Some text", tools: ["t"] } });
    expect(res.status).toBe(503);
    expect(res.body.code).toBe("embedding_unavailable");
    expect(res.headers.get("retry-after")).toBe("5");
    const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
    expect(await sql.query("SELECT 1 FROM policies WHERE policy_id = 'texty'")).toEqual([]);
  });
});
