import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { asSdkSeesIt, eventHash } from "../../src/ledger/core/event-hash.js";
import { AgentSigner } from "../../src/sdk/agent-signer.js";
import { agentSetup, claimBody, expectSigilumError, newAgent, PUBLIC_URL, send, type Agent } from "../helpers/agents.js";
import { newDatabase, newKey, newTenant, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

/** A policy that only a verified agent can pass: conditions read `agent`. */
const wirePolicy = {
  policy_id: "wire-policy",
  description: "Wire transfers",
  rules: ["Only verified agents of the billing service may send wires"],
  tools: ["wire_transfer"],
  conditions: [
    { id: "unverified", when: "agent.verified == false", decision: "deny", reason: "Wires need a verified agent" },
    { id: "billing", when: 'agent.verified && "billing-api" in agent.services && agent.namespace == "acme-corp" && agent.key.startsWith("ed25519:")', decision: "approve", reason: "Verified billing agent" },
  ],
  default_decision: "review",
};
const wire = { tool_name: "wire_transfer", tool_args: { amount: 10 } };
/** An A-JWT's claims, read without verifying (the vault signed it; the test reads the agent_id it binds). */
const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8")) as { agent_id: string };

/** Signed /request-clearance: the Sigilum signature in place of, or with, an API key; conditions see the verified agent. */
for (const engine of ["pglite", "postgres"] as Engine[]) {
  describe(`signed clearance requests on ${engine}`, () => {
    let db: TestDatabase;
    let v: TestVault;
    let agentKey: string;
    let serviceKey: string;
    let bot: Agent;
    let claimId: string;
    const clock = new ManualClock(Date.now());
    const clearance = (opts: Parameters<typeof send>[3]) => send(v, "POST", "/request-clearance", opts);
    const approveClaim = async (agent: Agent, extra: Record<string, unknown> = {}) => {
      const submitted = await send(v, "POST", "/v1/claims", { agent, bearer: serviceKey, body: claimBody(agent, "billing-api", extra) });
      expect(submitted.status, JSON.stringify(submitted.body)).toBe(201);
      const approved = await send(v, "POST", `/v1/claims/${submitted.body.claim_id}/approve`, { key: v.adminKey });
      expect(approved.body.status, JSON.stringify(approved.body)).toBe("approved");
      return submitted.body.claim_id as string;
    };

    beforeAll(async () => {
      db = newDatabase(engine);
      v = await startTestVault(db, { env: { VAULT_PUBLIC_URL: PUBLIC_URL, VAULT_CEL_TIMEOUT_MS: "2000" }, overrides: { clock } });
      agentKey = await newKey(v, "agent");
      ({ serviceKey } = await agentSetup(v, { namespace: "acme-corp", service: "billing-api" }));
      const policy = await send(v, "POST", "/register-policy", { key: v.adminKey, body: wirePolicy });
      expect(policy.status, JSON.stringify(policy.body)).toBe(200);
      bot = newAgent("acme-corp", clock, "dev@acme.example");
      claimId = await approveClaim(bot, { agent_id: "invoice-bot" });
    });
    afterAll(async () => {
      await v?.close();
      await db?.drop();
    });

    it("agent.verified == false denies an unsigned request; the same request signed by an approved claim's key is approved", async () => {
      const unsigned = await clearance({ key: agentKey, body: wire });
      expect(unsigned.body).toMatchObject({ status: "denied", reason: "Wires need a verified agent" });

      const signed = await clearance({ agent: bot, body: wire });
      expect(signed.status, JSON.stringify(signed.body)).toBe(200);
      expect(signed.body).toMatchObject({ status: "approved", token: expect.any(String) });
      expect(claimsOf(signed.body.token).agent_id).toBe("invoice-bot");
      const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
      const [row] = await sql.query<{ agent_identity: unknown; api_key_id: string; agent_id: string }>("SELECT agent_identity, api_key_id, agent_id FROM clearance_requests WHERE id = $1", [signed.body.request_id]);
      const identity = { verified: true, namespace: "acme-corp", subject: "dev@acme.example", key: bot.identity.publicKey, claim_id: claimId, services: ["billing-api"] };
      expect(row).toEqual({ agent_identity: identity, api_key_id: `sigilum:acme-corp:${bot.identity.publicKey}`, agent_id: "invoice-bot" });
      const [unsignedRow] = await sql.query<{ agent_identity: unknown }>("SELECT agent_identity FROM clearance_requests WHERE id = $1", [unsigned.body.request_id]);
      expect(unsignedRow!.agent_identity).toBeNull();

      // The ledger event carries the verified signer as an evidence chunk whose keys the SDK leaves as they are.
      const [event] = await sql.query<{ body: string }>("SELECT body FROM ledger_events WHERE request_id = $1", [signed.body.request_id]);
      const chunk = { type: "agent_identity", verified: true, namespace: "acme-corp", subject: "dev@acme.example", key: bot.identity.publicKey, claim: claimId, services: ["billing-api"] };
      expect(JSON.parse(event!.body).evidence_chunks).toContainEqual(chunk);
      const [stored] = await sql.query<{ event_hash: string }>("SELECT event_hash FROM ledger_events WHERE request_id = $1", [signed.body.request_id]);
      expect(eventHash(asSdkSeesIt(JSON.parse(event!.body)))).toBe(stored!.event_hash);

      // The signer alone reads its request's token back; so does the signed poll.
      const poll = await send(v, "GET", `/clearance-status/${signed.body.request_id}`, { agent: bot });
      expect(poll.body).toMatchObject({ status: "approved", token: expect.any(String) });
      expect((await send(v, "GET", `/clearance-status/${signed.body.request_id}`, { key: agentKey })).body.token ?? null).toBeNull();
    });

    it("signed together with an API key: the key authenticates, the signature verifies the agent", async () => {
      const both = await clearance({ agent: bot, key: agentKey, body: { ...wire, agent_id: "invoice-bot" } });
      expect(both.body).toMatchObject({ status: "approved", token: expect.any(String) });
      expect(claimsOf(both.body.token).agent_id).toBe("invoice-bot");
      const other = await newTenant(v, "other-tenant");
      const otherAgent = await newKey(v, "agent", other.tenantId);
      expectSigilumError(await clearance({ agent: bot, key: otherAgent, body: wire }), 403, "SIGNATURE_NAMESPACE_MISMATCH");
    });

    it("the body's agent_id may repeat the verified one, never contradict it", async () => {
      expectSigilumError(await clearance({ agent: bot, body: { ...wire, agent_id: "someone-else" } }), 403, "AGENT_ID_MISMATCH");
      expect(claimsOf((await clearance({ agent: bot, body: { ...wire, agent_id: "invoice-bot" } })).body.token).agent_id).toBe("invoice-bot");
    });

    it("the digest covers the exact bytes sent", async () => {
      const raw = '{ "tool_name" : "wire_transfer",\n  "tool_args": {"amount": 10, "memo": "caf\u00e9 \\u00e9"} }';
      expect((await clearance({ agent: bot, raw })).body.status).toBe("approved");
      expectSigilumError(await clearance({ agent: bot, raw, tamper: (h) => (h["content-digest"] = h["content-digest"]!.replace(/^sha-256=:./, "sha-256=:A")) }), 401, "SIGNATURE_DIGEST_MISMATCH");
      const tampered = await v.vault.app.inject({
        method: "POST", url: "/request-clearance",
        headers: { "content-type": "application/json", ...bot.signer.sign("POST", `${PUBLIC_URL}/request-clearance`, raw) },
        payload: raw.replace("10", "99"),
      });
      expect(JSON.parse(tampered.body).code).toBe("SIGNATURE_DIGEST_MISMATCH");
    });

    it("refuses bad signatures with the reference's codes, before touching the nonce store", async () => {
      const stranger = newAgent("acme-corp", clock);
      expectSigilumError(await clearance({ agent: stranger, body: wire }), 403, "AGENT_CLAIM_REQUIRED");
      expectSigilumError(await clearance({ agent: newAgent("nowhere-ns", clock), body: wire }), 401, "AGENT_NAMESPACE_UNKNOWN");
      expectSigilumError(await clearance({ agent: bot, body: wire, tamper: (h) => delete h["sigilum-subject"] }), 401, "SIGNATURE_MISSING");
      expectSigilumError(await clearance({ agent: bot, body: wire, tamper: (h) => (h["sigilum-subject"] = "mallory") }), 401, "SIGNATURE_INVALID");
      expectSigilumError(await clearance({ agent: bot, body: wire, url: "http://localhost/request-clearance" }), 401, "SIGNATURE_INVALID");
      const stale: Agent = { identity: bot.identity, signer: new AgentSigner(bot.identity, { subject: "dev@acme.example", now: () => clock.nowMs() - 301_000 }) };
      expectSigilumError(await clearance({ agent: stale, body: wire }), 401, "SIGNATURE_EXPIRED");
      let captured: Record<string, string> = {};
      expect((await clearance({ agent: bot, body: wire, tamper: (h) => void (captured = { ...h }) })).status).toBe(200);
      expectSigilumError(await clearance({ body: wire, tamper: (h) => Object.assign(h, captured) }), 409, "SIGNATURE_NONCE_REPLAY");
    });

    it("a revoked claim no longer verifies; a nonce store that cannot answer fails closed (503)", async () => {
      const temp = newAgent("acme-corp", clock, "ops@acme.example");
      const tempClaim = await approveClaim(temp);
      expect((await clearance({ agent: temp, body: wire })).body.status).toBe("approved");
      expect((await send(v, "POST", `/v1/claims/${tempClaim}/revoke`, { key: v.adminKey, body: { reason: "rotated" } })).body.status).toBe("revoked");
      expectSigilumError(await clearance({ agent: temp, body: wire }), 403, "AGENT_CLAIM_REQUIRED");

      const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
      await sql.query("ALTER TABLE signature_nonces RENAME TO signature_nonces_away");
      try {
        const down = await clearance({ agent: bot, body: wire });
        expectSigilumError(down, 503, "NONCE_STORE_UNAVAILABLE");
        expect(down.headers["retry-after"]).toBe("1");
      } finally {
        await sql.query("ALTER TABLE signature_nonces_away RENAME TO signature_nonces");
      }
      expect((await clearance({ agent: bot, body: wire })).body.status).toBe("approved");
    });
  });
}
