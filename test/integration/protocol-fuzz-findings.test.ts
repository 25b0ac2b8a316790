import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { agentSetup, claimBody, expectSigilumError, newAgent, PUBLIC_URL, send, type Agent } from "../helpers/agents.js";
import { hubOf, newSp, post, registerSp, rfc3339, signed, type Hub, type TestSp } from "../helpers/stepauth-sp.js";
import { newDatabase, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

/**
 * Findings of the issue 16 fuzz cases (test/helpers/fuzz-stepauth.ts, fuzz-sigilum.ts), each
 * reproduced on its own: input that only a correctly signed request can carry past the signature,
 * answered with the storage layer's generic `bad_request` where the protocol's reference has a code.
 */
for (const engine of ["pglite", "postgres"] as Engine[]) {
  describe(`protocol fuzz findings on ${engine}`, () => {
    let db: TestDatabase;
    let v: TestVault;
    let sp: TestSp;
    let hub: Hub;
    let bot: Agent;
    let serviceKey: string;
    const clock = new ManualClock(Date.now());
    const nonceCount = async () => {
      const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
      return (await sql.query<{ n: number }>("SELECT count(*)::int AS n FROM signature_nonces"))[0]!.n;
    };

    beforeAll(async () => {
      db = newDatabase(engine);
      v = await startTestVault(db, { env: { VAULT_PUBLIC_URL: PUBLIC_URL }, overrides: { clock } });
      sp = newSp();
      await registerSp(v.vault.app, v.adminKey, sp);
      hub = await hubOf(v.vault.app, v.tenantId);
      ({ serviceKey } = await agentSetup(v, { namespace: "acme-corp", service: "billing-api" }));
      bot = newAgent("acme-corp", clock);
      const claim = await send(v, "POST", "/v1/claims", { agent: bot, bearer: serviceKey, body: claimBody(bot, "billing-api") });
      expect(claim.status, JSON.stringify(claim.body)).toBe(201);
    });
    afterAll(async () => {
      await v?.close();
      await db?.drop();
    });

    it("a poll for a requestId with a NUL (no request can have one) is request_not_found, not the database's refusal", async () => {
      for (const id of ["%00", "req%00x"]) {
        const url = `${hub.base}/authorization-requests/${id}/decision`;
        const res = await post(v.vault.app, url, signed(sp, { senderId: sp.entity, recipientId: hub.entity, requestUri: url, timestamp: rfc3339(Date.now()) }));
        expect(res.statusCode, res.body).toBe(404);
        expect(res.json()).toMatchObject({ code: "request_not_found", error: "request_not_found", message: expect.any(String) });
      }
    });

    it("/v1/verify with a NUL in `service` is Sigilum's VALIDATION_ERROR, answered before the signature spends its nonce", async () => {
      const before = await nonceCount();
      const path = `/v1/verify?namespace=acme-corp&public_key=${encodeURIComponent(bot.identity.publicKey)}&service=billing%00api`;
      expectSigilumError(await send(v, "GET", path, { agent: bot }), 400, "VALIDATION_ERROR");
      expect(await nonceCount()).toBe(before);
    });

    it("a claim action on an id with a NUL is VALIDATION_ERROR", async () => {
      for (const action of ["approve", "reject", "revoke"]) {
        expectSigilumError(await send(v, "POST", `/v1/claims/cl_%00/${action}`, { key: v.adminKey, body: {} }), 400, "VALIDATION_ERROR");
      }
    });
  });
}
