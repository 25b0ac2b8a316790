/**
 * Retrieval that fails (the embedding endpoint is down) without an LLM: a policy's deny still
 * stands, since it never depended on the evidence; anything else whose policy has text to retrieve
 * fails closed to review. A policy with no text has nothing to retrieve, so the model is not asked.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OpenAiTestServer } from "../helpers/openai-test-server.js";
import { call, newDatabase, newKey, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

describe("retrieval failure without an LLM", () => {
  let db: TestDatabase;
  let v: TestVault;
  let agent: string;

  beforeAll(async () => {
    db = newDatabase("pglite");
    // The embedding endpoint works while the policies are registered (their text is embedded), then goes down.
    const embeddings = await OpenAiTestServer.start();
    v = await startTestVault(db, { env: { EMBEDDING_MODEL: "openai/text-embedding-test", EMBEDDING_BASE_URL: `${embeddings.url}/v1` } });
    agent = await newKey(v, "agent");
    for (const body of [
      { policy_id: "wipes", tools: ["wipe_device"], default_decision: "deny", description: "Wiping a device destroys its data." },
      { policy_id: "pings", tools: ["ping"], default_decision: "approve", description: "Pings are harmless checks of reachability." },
      // No description or rules: nothing to embed, nothing to retrieve.
      { policy_id: "bare", tools: ["bare_ping"], default_decision: "approve" },
    ]) {
      expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body })).status).toBe(200);
    }
    await embeddings.close();
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

  it("approves by the default of a policy with no text: there is nothing to retrieve, so the model is not asked", async () => {
    const res = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "bare_ping", tool_args: {} } });
    expect(res.body).toMatchObject({ status: "approved", reason_code: "policy_default", citations: [] });
    expect(res.body.token).toEqual(expect.any(String));
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
