import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, newDatabase, newKey, refundPolicy, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

for (const engine of ["pglite", "postgres"] as Engine[]) {
  describe(`ledger flow on ${engine}`, () => {
    let db: TestDatabase;
    let v: TestVault;
    let agent: string;
    beforeAll(async () => {
      db = newDatabase(engine);
      v = await startTestVault(db, { env: { VAULT_LEDGER_ANCHOR_BACKFILL_INTERVAL_SECONDS: "3600" } });
      agent = await newKey(v, "agent");
      await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy });
    });
    afterAll(async () => {
      await v?.close();
      await db?.drop();
    });

    it("records a decision, sequences it and serves a bundle", async () => {
      const res = await call(v.url, "POST", "/request-clearance", {
        key: agent,
        body: { tool_name: "stripe_refund", tool_args: { amount: 45, currency: "usd" }, agent_id: "a1", session_id: "s1" },
      });
      expect(res.status).toBe(200);
      await v.vault.ctx.ledgerLoop.drain();
      const bundle = await call(v.url, "GET", `/ledger/proof/bundle?request_id=${res.body.request_id}`, { key: agent });
      expect(bundle.status, JSON.stringify(bundle.body)).toBe(200);
      expect(bundle.body.event.event_type).toBe("clearance.approved");
      const ledger = await call(v.url, "GET", "/ledger", { key: agent });
      expect(ledger.body.entries.length).toBe(1);
      const cps = await call(v.url, "GET", "/ledger/checkpoints", { key: agent });
      expect(cps.body.checkpoints.length).toBe(1);
      const note = await call(v.url, "GET", "/ledger/checkpoint", { key: agent });
      expect(note.status).toBe(200);
      const tlog = await call(v.url, "GET", `/ledger/proof/tlog?request_id=${res.body.request_id}`, { key: agent });
      expect(tlog.body).toContain("c2sp.org/tlog-proof@v1");
    });

    it("never accepts a token signed with the ledger key, although JWKS publishes that key", async () => {
      const res = await call(v.url, "POST", "/request-clearance", {
        key: agent,
        body: { tool_name: "stripe_refund", tool_args: { amount: 12 }, agent_id: "a1", session_id: "s1" },
      });
      const [header, payload] = (res.body.token as string).split(".") as [string, string];
      const ledgerSigner = v.vault.ctx.ledgerSigner;
      const forgedHeader = Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(header, "base64url").toString()), kid: ledgerSigner.kid })).toString("base64url");
      const input = `${forgedHeader}.${payload}`;
      const forged = `${input}.${Buffer.from(await ledgerSigner.sign(Buffer.from(input))).toString("base64url")}`;
      const consumed = await call(v.url, "POST", "/consume-token", { key: agent, body: { token: forged } });
      expect(consumed.status).toBe(401);
      expect(consumed.body.code).toBe("token_invalid");
      // The genuine token still works: nothing was burned by the forgery.
      expect((await call(v.url, "POST", "/consume-token", { key: agent, body: { token: res.body.token } })).status).toBe(200);
    });
  });
}
