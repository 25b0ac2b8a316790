import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, newDatabase, newKey, newTenant, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

describe("admin API keys over HTTP (POST/GET/DELETE /keys)", () => {
  let db: TestDatabase;
  let v: TestVault;

  beforeAll(async () => {
    db = newDatabase("pglite");
    // A long key cache: a revoked key refused at once proves this process forgets it, not that the cache expired.
    v = await startTestVault(db, { env: { VAULT_API_KEY_CACHE_TTL_MS: "600000" } });
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("creates a key whose raw value is shown once, lists it without any secret, and revokes it at once", async () => {
    const created = await call(v.url, "POST", "/keys", { key: v.adminKey, body: { scope: "agent", label: "billing agent" } });
    expect(created.status).toBe(201);
    expect(created.body).toEqual({
      api_key_id: expect.stringMatching(/^key_/),
      tenant_id: v.tenantId,
      scope: "agent",
      label: "billing agent",
      key_prefix: created.body.api_key.slice(0, 8),
      created_at: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      api_key: expect.stringMatching(/^csk_/),
    });
    const agentKey: string = created.body.api_key;
    // The new key works, and is now in this process's key cache.
    expect((await call(v.url, "POST", "/request-clearance", { key: agentKey, body: { tool_name: "anything" } })).status).toBeLessThan(300);

    const listed = await call(v.url, "GET", "/keys", { key: v.adminKey });
    expect(listed.status).toBe(200);
    const entry = listed.body.keys.find((k: { api_key_id: string }) => k.api_key_id === created.body.api_key_id);
    expect(entry).toEqual({ api_key_id: created.body.api_key_id, scope: "agent", label: "billing agent", key_prefix: agentKey.slice(0, 8), created_at: created.body.created_at, revoked_at: null });
    expect(JSON.stringify(listed.body)).not.toContain(agentKey);
    expect(JSON.stringify(listed.body)).not.toMatch(/hash/);
    const stored = await v.vault.ctx.control.query<{ key_hash: string }>("SELECT key_hash FROM api_keys WHERE id = $1", [created.body.api_key_id]);
    expect(stored[0]!.key_hash).not.toContain(agentKey);

    const revoked = await call(v.url, "DELETE", `/keys/${created.body.api_key_id}`, { key: v.adminKey });
    expect(revoked.body).toEqual({ api_key_id: created.body.api_key_id, revoked: true });
    expect((await call(v.url, "POST", "/request-clearance", { key: agentKey, body: { tool_name: "anything" } })).status).toBe(401);
    const after = (await call(v.url, "GET", "/keys", { key: v.adminKey })).body.keys.find((k: { api_key_id: string }) => k.api_key_id === created.body.api_key_id);
    expect(after.revoked_at).toEqual(expect.any(String));
    const again = await call(v.url, "DELETE", `/keys/${created.body.api_key_id}`, { key: v.adminKey });
    expect([again.status, again.body.code]).toEqual([404, "api_key_not_found"]);
  });

  it("refuses agent and reviewer keys (403) and keys of other tenants (404)", async () => {
    for (const scope of ["agent", "reviewer"] as const) {
      const key = await newKey(v, scope);
      for (const [method, path, body] of [["POST", "/keys", { scope: "admin" }], ["GET", "/keys", undefined], ["DELETE", "/keys/key_0000000000000000", undefined]] as const) {
        const res = await call(v.url, method, path, { key, body });
        expect([res.status, res.body.code], `${scope} ${method} ${path}`).toEqual([403, "insufficient_scope"]);
      }
    }
    const other = await newTenant(v, "other");
    const theirs = (await call(v.url, "POST", "/keys", { key: other.adminKey, body: { scope: "agent" } })).body;
    expect(theirs.tenant_id).toBe(other.tenantId);
    const res = await call(v.url, "DELETE", `/keys/${theirs.api_key_id}`, { key: v.adminKey });
    expect([res.status, res.body.code]).toEqual([404, "api_key_not_found"]);
    expect((await call(v.url, "GET", "/keys", { key: v.adminKey })).body.keys.map((k: { api_key_id: string }) => k.api_key_id)).not.toContain(theirs.api_key_id);
    expect((await call(v.url, "POST", "/request-clearance", { key: theirs.api_key, body: { tool_name: "anything" } })).status).toBeLessThan(300);
  });

  it("never revokes a tenant's last active admin key (409), and revokes an admin key when another remains", async () => {
    const t = await newTenant(v, "lonely");
    const first = (await call(v.url, "GET", "/keys", { key: t.adminKey })).body.keys[0].api_key_id;
    const refused = await call(v.url, "DELETE", `/keys/${first}`, { key: t.adminKey });
    expect([refused.status, refused.body.code]).toEqual([409, "last_admin_key"]);
    expect(refused.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    const second = (await call(v.url, "POST", "/keys", { key: t.adminKey, body: { scope: "admin" } })).body;
    expect((await call(v.url, "DELETE", `/keys/${first}`, { key: second.api_key })).body).toEqual({ api_key_id: first, revoked: true });
    expect((await call(v.url, "GET", "/keys", { key: t.adminKey })).status).toBe(401);
    const last = await call(v.url, "DELETE", `/keys/${second.api_key_id}`, { key: second.api_key });
    expect([last.status, last.body.code]).toEqual([409, "last_admin_key"]);
  });

  it("answers a bad body with 400 problem+json and refuses an Idempotency-Key rather than store a raw key", async () => {
    for (const body of [{ scope: "root" }, {}, { scope: "agent", label: "x".repeat(201) }, { scope: "agent", tenant_id: "t_other" }, { scope: "admin", label: "countersign CLI session (temporary)" }, { scope: "agent", label: "bot\u001b[2Khidden" }]) {
      const res = await call(v.url, "POST", "/keys", { key: v.adminKey, body });
      expect([res.status, res.body.code], JSON.stringify(body)).toEqual([400, "validation_failed"]);
      expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    }
    const before = (await call(v.url, "GET", "/keys", { key: v.adminKey })).body.keys.length;
    const idem = await call(v.url, "POST", "/keys", { key: v.adminKey, body: { scope: "agent" }, headers: { "idempotency-key": "k1" } });
    expect([idem.status, idem.body.code]).toEqual([400, "bad_request"]);
    expect((await call(v.url, "GET", "/keys", { key: v.adminKey })).body.keys).toHaveLength(before);
  });
});
