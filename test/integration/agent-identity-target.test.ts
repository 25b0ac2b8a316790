import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { agentSetup, claimBody, expectSigilumError, newAgent, send, type Agent } from "../helpers/agents.js";
import { newDatabase, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

/**
 * Without VAULT_PUBLIC_URL the signed target URI is the vault's derived public URL plus the raw path
 * and query, never the Host header the sender chose; /v1/verify's rate limit; the webhook formats'
 * vocabularies.
 */
for (const engine of ["pglite", "postgres"] as Engine[]) {
  describe(`signed target URI and limits on ${engine}`, () => {
    let db: TestDatabase;
    let v: TestVault;
    let agent: Agent;
    const clock = new ManualClock(Date.now());
    const host = "agents.example:8443";
    const path = (a: Agent, service = "billing-api") => `/v1/verify?namespace=acme-corp&public_key=${encodeURIComponent(a.identity.publicKey)}&service=${service}`;
    /** The vault's own origin: VAULT_PUBLIC_URL's derived default (http://<host>:<bound port>). */
    const origin = () => v.vault.ctx.config.http.publicUrl;
    const atHost = (p: string, url = `${origin()}${p}`) =>
      v.vault.app.inject({ method: "GET", url: p, headers: { host, ...agent.signer.sign("GET", url) } }).then((r) => ({ status: r.statusCode, body: JSON.parse(r.body), headers: r.headers }));

    beforeAll(async () => {
      db = newDatabase(engine);
      v = await startTestVault(db, { env: { VAULT_WEBHOOK_ALLOW_PRIVATE_TARGETS: "true" }, overrides: { clock } });
      await agentSetup(v, { namespace: "acme-corp", service: "billing-api" });
      agent = newAgent("acme-corp", clock);
    });
    afterAll(async () => {
      await v?.close();
      await db?.drop();
    });

    it("verifies against the vault's own public URL, whatever Host says; path and query as sent", async () => {
      expect(origin()).toMatch(/^http:\/\/127\.0\.0\.1:[1-9]\d*$/);
      const ok = await atHost(path(agent));
      expect(ok.status, JSON.stringify(ok.body)).toBe(200);
      expect(ok.body).toEqual({ authorized: false, reason: "no_approved_claim" });
      // A signature made for another vault, replayed here with that vault's Host: refused.
      expectSigilumError(await atHost(path(agent), `http://${host}${path(agent)}`), 401, "SIGNATURE_INVALID");
      expectSigilumError(await atHost(path(agent), `http://elsewhere.example:8443${path(agent)}`), 401, "SIGNATURE_INVALID");
      // Another query: the signature covers the target URI.
      expectSigilumError(await atHost(path(agent), `${origin()}${path(agent, "payroll")}`), 401, "SIGNATURE_INVALID");
      // The reference's worked example's percent-escapes are kept as sent, on both sides.
      expect((await atHost(`${path(agent)}&note=a%2Fb`)).status).toBe(200);
    });

    it("/v1/verify takes 2000 calls a minute per namespace, then 429 with Retry-After", async () => {
      // A namespace of its own, so no earlier call counts.
      expect((await send(v, "POST", "/agent-namespaces", { key: v.adminKey, body: { namespace: "busy-ns" } })).status).toBe(201);
      const busy = newAgent("busy-ns", clock);
      const call = () => {
        const p = `/v1/verify?namespace=busy-ns&public_key=${encodeURIComponent(busy.identity.publicKey)}&service=billing-api`;
        return v.vault.app.inject({ method: "GET", url: p, headers: { host, ...busy.signer.sign("GET", `${origin()}${p}`) } })
          .then((r) => ({ status: r.statusCode, body: JSON.parse(r.body), headers: r.headers as Record<string, unknown> }));
      };
      let last = { status: 0, body: {} as any, headers: {} as Record<string, unknown> };
      let ok = 0;
      for (let i = 0; i < 2000; i++) if ((last = await call()).status === 200) ok++;
      expect(ok).toBe(2000);
      last = await call();
      expect(last.status).toBe(429);
      expect(last.body).toMatchObject({ code: "rate_limited", error: expect.any(String) });
      expect(last.headers["retry-after"]).toBeDefined();
      clock.advance(60_000);
      expect((await call()).status).toBe(200);
    });

    it("webhook endpoints: a sigilum endpoint takes Sigilum's events only, a countersign one Countersign's", async () => {
      const url = "http://127.0.0.1:9/hook";
      const bad = await send(v, "POST", "/webhooks", { key: v.adminKey, body: { url, format: "sigilum", events: ["token.consumed"] } });
      expect(bad.status).toBe(400);
      expect(bad.body.code).toBe("validation_failed");
      expect((await send(v, "POST", "/webhooks", { key: v.adminKey, body: { url, events: ["request.revoked"] } })).status).toBe(400);
      const good = await send(v, "POST", "/webhooks", { key: v.adminKey, body: { url, format: "sigilum", events: ["request.approved", "request.revoked"] } });
      expect(good.status, JSON.stringify(good.body)).toBe(201);
      const listed = await send(v, "GET", "/webhooks", { key: v.adminKey });
      expect(listed.body.webhooks).toContainEqual(expect.objectContaining({ id: good.body.id, format: "sigilum", events: ["request.approved", "request.revoked"] }));
    });

    it("a claim signed for another host is refused before anything is stored", async () => {
      const service = await send(v, "POST", "/protected-services/billing-api/keys", { key: v.adminKey });
      const res = await send(v, "POST", "/v1/claims", { agent, bearer: service.body.api_key, body: claimBody(agent, "billing-api"), url: "http://other.example/v1/claims" });
      expectSigilumError(res, 401, "SIGNATURE_INVALID");
      const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
      expect(await sql.query("SELECT claim_id FROM agent_claims")).toEqual([]);
    });
  });
}
