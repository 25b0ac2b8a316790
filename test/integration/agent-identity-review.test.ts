import { createHmac } from "node:crypto";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { agentKeyId, encodeCertificateHeader, type AgentCertificate } from "../../src/protocols/http-signatures/agent-certificate.js";
import { formatSigilumSignatureInput, SIGILUM_COMPONENTS_NO_BODY } from "../../src/protocols/http-signatures/signature-input.js";
import { AgentSigner } from "../../src/sdk/agent-signer.js";
import { agentSetup, claimBody, expectSigilumError, newAgent, send, type Agent } from "../helpers/agents.js";
import { HttpReceiver } from "../helpers/outbox-receivers.js";
import { newDatabase, newKey, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

/**
 * Review findings on agent identity (R2), each a real bug reproduced against a vault: an approved
 * claim is a grant, never a token; the claim limits hold whichever way the approving vote arrives,
 * concurrent votes included; an agent key cannot end a claim's review; a sigilum endpoint's test
 * delivery is in Sigilum's shape; a small-order key (anyone can sign for it) is refused; a key
 * without an approved claim spends no nonce and gets no rate-limit bucket; /mint-token does not
 * re-issue a verified agent's approval. Last, the replay window is checked against the nonce TTL.
 */
for (const engine of ["pglite", "postgres"] as Engine[]) {
  describe(`agent claim review on ${engine}`, () => {
    let db: TestDatabase;
    let v: TestVault;
    const clock = new ManualClock(Date.now());
    const people: Record<string, string> = {};
    const serviceKeys: Record<string, string> = {};

    const sqlOf = () => v.vault.ctx.tenantDbs.get(v.tenantId);
    const submit = async (agent: Agent, service: string) => {
      const res = await send(v, "POST", "/v1/claims", { agent, bearer: serviceKeys[service]!, body: claimBody(agent, service) });
      expect(res.status, JSON.stringify(res.body)).toBe(201);
      expect(res.body.status).toBe("pending");
      const [row] = await (await sqlOf()).query<{ request_id: string }>("SELECT request_id FROM agent_claims WHERE claim_id = $1", [res.body.claim_id]);
      return { claimId: res.body.claim_id as string, requestId: row!.request_id };
    };
    const approveByClaim = (claimId: string) => send(v, "POST", `/v1/claims/${claimId}/approve`, { key: people.ana! });
    const approveByReview = (requestId: string) => send(v, "POST", `/reviews/${requestId}/decision`, { key: people.ana!, body: { approved: true } });
    const service = async (slug: string) => {
      expect((await send(v, "POST", "/protected-services", { key: v.adminKey, body: { slug, name: slug } })).status).toBe(201);
      serviceKeys[slug] = (await send(v, "POST", `/protected-services/${slug}/keys`, { key: v.adminKey })).body.api_key;
    };

    beforeAll(async () => {
      db = newDatabase(engine);
      v = await startTestVault(db, {
        env: {
          VAULT_PUBLIC_URL: "https://vault.example.test",
          VAULT_REVIEW_SWEEP_INTERVAL_SECONDS: "3600",
          VAULT_WEBHOOK_ALLOW_PRIVATE_TARGETS: "true",
          // On, so rate-limit buckets exist (the nonce test counts them); the manual clock never refills them.
          VAULT_RATE_LIMIT_RPS: "1000",
          VAULT_RATE_LIMIT_BURST: "100000",
        },
        overrides: { clock },
      });
      ({ serviceKey: serviceKeys["billing-api"] } = await agentSetup(v, { namespace: "acme-corp", service: "billing-api" }));
      for (const name of ["ana", "bo"]) people[name] = (await send(v, "POST", "/reviewers", { key: v.adminKey, body: { name, email: `${name}@example.com` } })).body.api_key;
    });
    afterAll(async () => {
      await v?.close();
      await db?.drop();
    });

    it("an approved claim grants the key, not a token: no A-JWT is issued for countersign.agent_claim, not even to an admin", async () => {
      const { claimId, requestId } = await submit(newAgent("acme-corp", clock), "billing-api");
      const voted = await approveByClaim(claimId);
      expect(voted.body, JSON.stringify(voted.body)).toMatchObject({ status: "approved", review: { status: "approved" } });
      const status = await send(v, "GET", `/clearance-status/${requestId}`, { key: v.adminKey });
      expect(status.body).toMatchObject({ status: "approved" });
      expect(status.body.token ?? null).toBeNull();
      expect(await (await sqlOf()).query("SELECT jti FROM issued_tokens WHERE request_id = $1", [requestId])).toEqual([]);
      // Through the ordinary review endpoint too.
      const second = await submit(newAgent("acme-corp", clock), "billing-api");
      expect((await approveByReview(second.requestId)).body.status).toBe("approved");
      expect(await (await sqlOf()).query("SELECT jti FROM issued_tokens WHERE request_id = $1", [second.requestId])).toEqual([]);
    });

    it("an agent key cannot end a claim's review (nor another key's request): it may cancel only what it submitted", async () => {
      const { claimId, requestId } = await submit(newAgent("acme-corp", clock), "billing-api");
      const agentKey = await newKey(v, "agent");
      const refused = await send(v, "POST", `/reviews/${requestId}/decision`, { key: agentKey, body: { approved: false } });
      expect(refused.status, JSON.stringify(refused.body)).toBe(403);
      expect(refused.body.code).toBe("insufficient_scope");
      const [claim] = await (await sqlOf()).query<{ status: string }>("SELECT status FROM agent_claims WHERE claim_id = $1", [claimId]);
      expect(claim!.status).toBe("pending");
      // Its own request it still cancels; another agent key's it does not.
      await send(v, "POST", "/register-policy", { key: v.adminKey, body: { policy_id: "hold", description: "d", rules: ["r"], tools: ["held_tool"], default_decision: "review" } });
      const own = await send(v, "POST", "/request-clearance", { key: agentKey, body: { tool_name: "held_tool" } });
      expect(own.body.status).toBe("pending_review");
      expect((await send(v, "POST", `/reviews/${own.body.request_id}/decision`, { key: await newKey(v, "agent"), body: { approved: false } })).body.code).toBe("insufficient_scope");
      expect((await send(v, "POST", `/reviews/${own.body.request_id}/decision`, { key: agentKey, body: { approved: false } })).body).toMatchObject({ status: "denied", reason_code: "cancelled_by_agent" });
    });

    it("10 approved agents per service hold on /reviews/{id}/decision as on /v1/claims/{id}/approve", async () => {
      await service("ledger-api");
      const sql = await sqlOf();
      const claims = [];
      for (let i = 0; i < 11; i++) claims.push(await submit(newAgent("acme-corp", clock), "ledger-api"));
      for (const c of claims.slice(0, 10)) expect((await approveByClaim(c.claimId)).body.status).toBe("approved");
      const last = claims[10]!;
      const byReview = await approveByReview(last.requestId);
      expect(byReview.status, JSON.stringify(byReview.body)).toBe(409);
      expect(byReview.body.code).toBe("AGENT_LIMIT_REACHED");
      expectSigilumError(await approveByClaim(last.claimId), 409, "AGENT_LIMIT_REACHED");
      // Nothing of the refused vote stayed: the claim and its request are still pending, no approval event.
      const [claim] = await sql.query<{ status: string }>("SELECT status FROM agent_claims WHERE claim_id = $1", [last.claimId]);
      expect(claim!.status).toBe("pending");
      expect((await send(v, "GET", `/reviews/${last.requestId}`, { key: people.bo! })).body.status).toBe("pending_review");
      const events = await sql.query<{ event_type: string }>("SELECT event_type FROM ledger_events WHERE request_id = $1", [last.requestId]);
      expect(events.map((e) => e.event_type)).toEqual(["clearance.pending_review"]);
      // A rejection still goes through.
      expect((await send(v, "POST", `/reviews/${last.requestId}/decision`, { key: people.bo!, body: { approved: false } })).body.status).toBe("denied");
    });

    it("10 services per namespace hold on /reviews/{id}/decision", async () => {
      expect((await send(v, "POST", "/agent-namespaces", { key: v.adminKey, body: { namespace: "wide-ns" } })).status).toBe(201);
      const agent = newAgent("wide-ns", clock);
      const claims = [];
      for (let i = 0; i < 11; i++) {
        await service(`svc-${i}`);
        claims.push(await submit(agent, `svc-${i}`));
      }
      for (const c of claims.slice(0, 10)) expect((await approveByReview(c.requestId)).body.status).toBe("approved");
      const refused = await approveByReview(claims[10]!.requestId);
      expect(refused.status, JSON.stringify(refused.body)).toBe(403);
      expect(refused.body.code).toBe("SERVICE_LIMIT_REACHED");
    });

    if (engine === "postgres") {
      it("concurrent approvals cannot pass the limit together (one batch, or several)", async () => {
        await service("race-api");
        const claims = [];
        for (let i = 0; i < 13; i++) claims.push(await submit(newAgent("acme-corp", clock), "race-api"));
        for (const c of claims.slice(0, 8)) expect((await approveByClaim(c.claimId)).body.status).toBe("approved");
        const results = await Promise.all(claims.slice(8).map((c) => approveByReview(c.requestId)));
        expect(results.filter((r) => r.status === 200 && r.body.status === "approved")).toHaveLength(2);
        expect(results.filter((r) => r.body.code === "AGENT_LIMIT_REACHED")).toHaveLength(3);
        const [count] = await (await sqlOf()).query<{ n: number }>("SELECT count(*)::int AS n FROM agent_claims WHERE service = 'race-api' AND status = 'approved'");
        expect(Number(count!.n)).toBe(10);
      });
    }

    it("a sigilum endpoint's test delivery has Sigilum's body shape and signature", async () => {
      const receiver = await HttpReceiver.start();
      try {
        const hook = await send(v, "POST", "/webhooks", { key: v.adminKey, body: { url: `${receiver.url}/sigilum`, format: "sigilum" } });
        expect((await send(v, "POST", `/webhooks/${hook.body.id}/test`, { key: v.adminKey })).status).toBe(202);
        await receiver.waitFor(1);
        const [hit] = receiver.requests;
        expect(JSON.parse(hit!.raw.toString())).toEqual({ event: "ping", timestamp: expect.any(String), data: expect.objectContaining({ webhook_id: hook.body.id }) });
        expect(hit!.headers).toMatchObject({ "x-sigilum-event": "ping", "x-sigilum-webhook-id": hook.body.id });
        expect(hit!.headers["x-sigilum-signature"]).toBe(`sha256=${createHmac("sha256", hook.body.secret).update(hit!.raw).digest("hex")}`);
        expect((await send(v, "DELETE", `/webhooks/${hook.body.id}`, { key: v.adminKey })).status).toBeLessThan(300);
      } finally {
        await receiver.close();
      }
    });

    it("a small-order agent key, which anyone can 'sign' for (R = identity, S = 0), is refused everywhere", async () => {
      const identity = new Uint8Array(32);
      identity[0] = 1;
      const key = `ed25519:${Buffer.from(identity).toString("base64")}`;
      const forged = new Uint8Array(64);
      forged[0] = 1;
      const cert: AgentCertificate = {
        version: 1, namespace: "acme-corp", did: "did:sigilum:acme-corp", keyId: agentKeyId("acme-corp", identity), publicKey: key,
        issuedAt: new Date(clock.nowMs()).toISOString(), expiresAt: null, proof: { alg: "ed25519", sig: Buffer.from(forged).toString("base64url") },
      };
      // The question is about an ordinary key; the forger signs it.
      const path = `/v1/verify?namespace=acme-corp&public_key=${encodeURIComponent(newAgent("acme-corp", clock).identity.publicKey)}&service=billing-api`;
      const headers = {
        "sigilum-namespace": "acme-corp", "sigilum-subject": "anyone", "sigilum-agent-key": key, "sigilum-agent-cert": encodeCertificateHeader(cert),
        "signature-input": formatSigilumSignatureInput({ components: SIGILUM_COMPONENTS_NO_BODY, created: Math.floor(clock.nowMs() / 1000), keyid: cert.keyId, nonce: "forged-1" }),
        signature: `sig1=:${Buffer.from(forged).toString("base64")}:`,
      };
      const res = await v.vault.app.inject({ method: "GET", url: path, headers });
      expect(res.statusCode, res.body).toBe(401);
      expect(JSON.parse(res.body).code).toBe("SIGNATURE_INVALID");
      // Nor can such a key be claimed.
      const agent = newAgent("acme-corp", clock);
      expectSigilumError(await send(v, "POST", "/v1/claims", { agent, bearer: serviceKeys["billing-api"]!, body: claimBody(agent, "billing-api", { public_key: key }) }), 400, "VALIDATION_ERROR");
    });

    it("a key without an approved claim never writes to the nonce store nor gets a rate-limit bucket; an approved one spends its nonce", async () => {
      const sql = await sqlOf();
      const nonces = async () => Number((await sql.query<{ n: number }>("SELECT count(*)::int AS n FROM signature_nonces"))[0]!.n);
      const buckets = () => (v.vault.ctx.rateLimiter as unknown as { buckets: Map<string, unknown> }).buckets.size;
      const before = await nonces();
      const bucketsBefore = buckets();
      // Self-signed certificates cost nothing: a fresh key per request would otherwise add a row each time.
      for (let i = 0; i < 5; i++) {
        expectSigilumError(await send(v, "POST", "/request-clearance", { agent: newAgent("acme-corp", clock), body: { tool_name: "x" } }), 403, "AGENT_CLAIM_REQUIRED");
        expectSigilumError(await send(v, "GET", "/clearance-status/req_x", { agent: newAgent("acme-corp", clock) }), 403, "AGENT_CLAIM_REQUIRED");
      }
      expect(await nonces()).toBe(before);
      expect(buckets()).toBe(bucketsBefore);
      const bot = newAgent("acme-corp", clock);
      const { claimId } = await submit(bot, "billing-api");
      expect((await approveByClaim(claimId)).body.status).toBe("approved");
      const claimed = await nonces();
      let captured: Record<string, string> = {};
      expect((await send(v, "POST", "/request-clearance", { agent: bot, body: { tool_name: "x" }, tamper: (h) => void (captured = { ...h }) })).status).toBe(200);
      expect(await nonces()).toBe(claimed + 1);
      expectSigilumError(await send(v, "POST", "/request-clearance", { body: { tool_name: "x" }, tamper: (h) => Object.assign(h, captured) }), 409, "SIGNATURE_NONCE_REPLAY");
    });
    it("/mint-token does not re-issue an approval decided on a verified agent's signature (a revoke would not stop it)", async () => {
      const policy = {
        policy_id: "verified-deploys", description: "d", rules: ["r"], tools: ["deploy"], default_decision: "review",
        conditions: [{ id: "verified", when: "agent.verified", decision: "approve", reason: "verified agent" }],
      };
      expect((await send(v, "POST", "/register-policy", { key: v.adminKey, body: policy })).status).toBe(200);
      const bot = newAgent("acme-corp", clock);
      const { claimId } = await submit(bot, "billing-api");
      expect((await approveByClaim(claimId)).body.status).toBe("approved");
      const agentKey = await newKey(v, "agent");
      const call = { tool_name: "deploy", tool_args: { env: "prod" } };
      const approved = await send(v, "POST", "/request-clearance", { agent: bot, key: agentKey, body: call });
      expect(approved.body, JSON.stringify(approved.body)).toMatchObject({ status: "approved", token: expect.any(String) });
      expect((await send(v, "POST", `/v1/claims/${claimId}/revoke`, { key: people.ana!, body: { reason: "key leaked" } })).body.status).toBe("revoked");
      // The API key alone, no signature, after the revoke: no fresh token for the verified agent.
      const minted = await send(v, "POST", "/mint-token", { key: agentKey, body: { ...call, original_request_id: approved.body.request_id } });
      expect(minted.status, JSON.stringify(minted.body)).toBe(409);
      expect(minted.body.code).toBe("approval_not_reusable");
    });

    it("hostile header framing over real HTTP: repeated signature headers, folding, huge or UTF-8 headers are 4xx with Sigilum's members", async () => {
      const agent = newAgent("acme-corp", clock);
      const path = `/v1/verify?namespace=acme-corp&public_key=${encodeURIComponent(agent.identity.publicKey)}&service=billing-api`;
      const signed = () => agent.signer.sign("GET", `https://vault.example.test${path}`);
      const exchange = (lines: string[]) =>
        new Promise<{ status: number; body: string }>((resolve) => {
          const port = Number(new URL(v.url).port);
          const socket = net.connect(port, "127.0.0.1", () => socket.write(Buffer.from([`GET ${path} HTTP/1.1`, "Host: vault.example.test", ...lines, "Connection: close", "", ""].join("\r\n"), "latin1")));
          let out = "";
          socket.on("data", (d) => (out += d.toString("latin1")));
          socket.on("close", () => resolve({ status: Number(out.slice(9, 12)), body: out.slice(out.indexOf("\r\n\r\n") + 4) }));
        });
      const headerLines = (h: Record<string, string>, skip: string[] = []) => Object.entries(h).filter(([k]) => !skip.includes(k)).map(([k, x]) => `${k}: ${x}`);
      const sigilumProblem = async (lines: string[], code: string) => {
        const res = await exchange(lines);
        expect(res.status, res.body).toBe(401);
        expect(JSON.parse(res.body)).toMatchObject({ code, error: expect.any(String) });
      };
      expect((await exchange(headerLines(signed()))).status).toBe(200);
      const h = signed();
      await sigilumProblem([...headerLines(h), `signature: ${h.signature}`], "SIGNATURE_INVALID");
      const h2 = signed();
      await sigilumProblem([...headerLines(h2), `signature-input: ${h2["signature-input"]}`], "SIGNATURE_INVALID");
      // UTF-8 bytes where the signer signed the character: the base differs, so the signature does not verify.
      await sigilumProblem([...headerLines(signed(), ["sigilum-subject"]), "sigilum-subject: caf\u00c3\u00a9"], "SIGNATURE_INVALID");
      expect((await exchange([...headerLines(signed(), ["sigilum-subject"]), "sigilum-subject: acme", " -corp"])).status).toBe(400);
      expect((await exchange([...headerLines(signed()), `x-padding: ${"a".repeat(20_000)}`])).status).toBe(431);
    });

    // Last: it moves the shared clock.
    it("a replay is refused for as long as its signature could verify: 409 within 300 s (+5 s skew), 401 after, never accepted", async () => {
      const bot = newAgent("acme-corp", clock);
      const { claimId } = await submit(bot, "billing-api");
      expect((await approveByClaim(claimId)).body.status).toBe("approved");
      // Signed 5 s ahead (the most skew allowed), used at once, replayed until it expires.
      const ahead: Agent = { identity: bot.identity, signer: new AgentSigner(bot.identity, { now: () => clock.nowMs() + 5000 }) };
      let captured: Record<string, string> = {};
      expect((await send(v, "GET", "/clearance-status/req_none", { agent: ahead, tamper: (h) => void (captured = { ...h }) })).body.code).toBe("request_not_found");
      const replay = () => send(v, "GET", "/clearance-status/req_none", { tamper: (h) => Object.assign(h, captured) });
      clock.advance(304_000);
      expectSigilumError(await replay(), 409, "SIGNATURE_NONCE_REPLAY");
      clock.advance(2_000);
      expectSigilumError(await replay(), 401, "SIGNATURE_EXPIRED");
      // Past the nonce TTL (600 s), after a purge: still refused, by its age.
      clock.advance(600_000);
      await send(v, "GET", "/clearance-status/req_none", { agent: bot });
      expectSigilumError(await replay(), 401, "SIGNATURE_EXPIRED");
      // 6 s ahead is refused outright.
      const early: Agent = { identity: bot.identity, signer: new AgentSigner(bot.identity, { now: () => clock.nowMs() + 6000 }) };
      expectSigilumError(await send(v, "GET", "/clearance-status/req_none", { agent: early }), 401, "SIGNATURE_EXPIRED");
    });
  });
}
