import { createHmac } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { agentSetup, claimBody, expectSigilumError, newAgent, send, type Agent } from "../helpers/agents.js";
import { HttpReceiver } from "../helpers/outbox-receivers.js";
import { newDatabase, newKey, newTenant, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

/** Claims (namespace, service, key): submitted by signed request, reviewed by the review machinery, revoked, verified. */
for (const engine of ["pglite", "postgres"] as Engine[]) {
  describe(`agent claims on ${engine}`, () => {
    let db: TestDatabase;
    let v: TestVault;
    let receiver: HttpReceiver;
    let serviceKey: string;
    let webhookSecret: string;
    const clock = new ManualClock(Date.now());
    const people: Record<string, { api_key: string; email: string }> = {};

    const claim = (agent: Agent, extra: Record<string, unknown> = {}, key = serviceKey) =>
      send(v, "POST", "/v1/claims", { agent, bearer: key, body: claimBody(agent, "billing-api", extra) });
    const verify = (agent: Agent, service = "billing-api") =>
      send(v, "GET", `/v1/verify?namespace=acme-corp&public_key=${encodeURIComponent(agent.identity.publicKey)}&service=${service}`, { agent });
    const act = (who: string, claimId: string, action: string, reason = "") => send(v, "POST", `/v1/claims/${claimId}/${action}`, { key: people[who]!.api_key, body: { reason } });

    beforeAll(async () => {
      db = newDatabase(engine);
      receiver = await HttpReceiver.start();
      v = await startTestVault(db, {
        env: { VAULT_PUBLIC_URL: "https://vault.example.test", VAULT_WEBHOOK_ALLOW_PRIVATE_TARGETS: "true", VAULT_REVIEW_SWEEP_INTERVAL_SECONDS: "3600" },
        overrides: { clock },
      });
      ({ serviceKey } = await agentSetup(v, { namespace: "acme-corp", service: "billing-api" }));
      for (const name of ["ana", "bo", "carol"]) {
        const res = await send(v, "POST", "/reviewers", { key: v.adminKey, body: { name, email: `${name}@example.com` } });
        expect(res.status, JSON.stringify(res.body)).toBe(201);
        people[name] = res.body;
      }
      const hook = await send(v, "POST", "/webhooks", { key: v.adminKey, body: { url: `${receiver.url}/sigilum`, format: "sigilum" } });
      expect(hook.status, JSON.stringify(hook.body)).toBe(201);
      expect(hook.body.format).toBe("sigilum");
      webhookSecret = hook.body.secret;
    });
    afterAll(async () => {
      await v?.close();
      await receiver?.close();
      await db?.drop();
    });

    it("namespaces are unique across tenants; services and their keys are per tenant; a service key is good only for the claim routes", async () => {
      const other = await newTenant(v, "other");
      const taken = await send(v, "POST", "/agent-namespaces", { key: other.adminKey, body: { namespace: "acme-corp" } });
      expect(taken.status).toBe(409);
      expect(taken.body.code).toBe("agent_namespace_taken");
      expect((await send(v, "POST", "/agent-namespaces", { key: v.adminKey, body: { namespace: "Bad_NS" } })).status).toBe(400);
      expect((await send(v, "GET", "/agent-namespaces", { key: v.adminKey })).body.namespaces).toEqual([expect.objectContaining({ namespace: "acme-corp", tenant_id: v.tenantId })]);
      expect((await send(v, "GET", "/protected-services", { key: v.adminKey })).body.services.map((s: { slug: string }) => s.slug)).toEqual(["billing-api"]);
      expect((await send(v, "POST", "/protected-services/nope/keys", { key: v.adminKey })).body.code).toBe("protected_service_not_found");
      const refused = await send(v, "POST", "/request-clearance", { key: serviceKey, body: { tool_name: "x" } });
      expect(refused.status).toBe(403);
      expect(refused.body.code).toBe("insufficient_scope");
      expect((await send(v, "GET", "/agent-namespaces", { key: await newKey(v, "agent") })).body.code).toBe("insufficient_scope");
    });

    it("a signed claim goes to review as a clearance request of kind agent_claim; a repeat answers 200; nonces are single-use", async () => {
      const agent = newAgent("acme-corp", clock, "dev@acme.example");
      const first = await claim(agent, { agent_id: "invoice-bot", agent_name: "Invoice bot" });
      expect(first.status, JSON.stringify(first.body)).toBe(201);
      expect(first.body).toMatchObject({ status: "pending", service: "billing-api", claim_id: expect.stringMatching(/^cl_[0-9a-f]{24}$/) });
      const listed = await send(v, "GET", "/agent-claims?status=pending", { key: people.ana!.api_key });
      const row = listed.body.claims.find((c: { claim_id: string }) => c.claim_id === first.body.claim_id);
      expect(row).toMatchObject({ namespace: "acme-corp", public_key: agent.identity.publicKey, subject: "dev@acme.example", agent_id: "invoice-bot", agent_name: "Invoice bot" });
      const review = await send(v, "GET", `/reviews/${row.request_id}`, { key: people.ana!.api_key });
      expect(review.body).toMatchObject({ status: "pending_review", tool_name: "countersign.agent_claim", human_principal: "dev@acme.example" });

      const again = await claim(agent);
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ claim_id: first.body.claim_id, status: "pending" });

      const reused = claimBody(agent, "billing-api");
      expect((await send(v, "POST", "/v1/claims", { agent, bearer: serviceKey, body: reused })).status).toBe(200);
      expectSigilumError(await send(v, "POST", "/v1/claims", { agent, bearer: serviceKey, body: reused }), 409, "NONCE_REPLAY");

      let captured: Record<string, string> = {};
      const body = claimBody(agent, "billing-api");
      await send(v, "POST", "/v1/claims", { agent, key: serviceKey, body, tamper: (h) => void (captured = { ...h }) });
      expectSigilumError(await send(v, "POST", "/v1/claims", { body, tamper: (h) => Object.assign(h, captured) }), 409, "SIGNATURE_NONCE_REPLAY");
    });

    it("refuses claims with the reference's codes", async () => {
      const agent = newAgent("acme-corp", clock);
      const stranger = newAgent("acme-corp", clock);
      expectSigilumError(await send(v, "POST", "/v1/claims", { agent, body: claimBody(agent, "billing-api") }), 401, "UNAUTHORIZED");
      expectSigilumError(await claim(agent, {}, await newKey(v, "agent")), 403, "FORBIDDEN");
      expectSigilumError(await claim(agent, { service: "payroll" }), 403, "FORBIDDEN");
      expectSigilumError(await claim(agent, { public_key: stranger.identity.publicKey }), 403, "SIGNATURE_KEY_MISMATCH");
      expectSigilumError(await send(v, "POST", "/v1/claims", { bearer: serviceKey, body: claimBody(agent, "billing-api") }), 401, "SIGNATURE_MISSING");
      expectSigilumError(await claim(agent, { nonce: "short" }), 400, "VALIDATION_ERROR");
      expectSigilumError(await claim(agent, { public_key: "ed25519:AAAA" }), 400, "VALIDATION_ERROR");
      expectSigilumError(await claim(agent, { subject: "a\u0000b" }), 400, "VALIDATION_ERROR");
      const elsewhere = newAgent("globex", clock);
      expectSigilumError(await send(v, "POST", "/v1/claims", { agent: elsewhere, bearer: serviceKey, body: claimBody(elsewhere, "billing-api") }), 403, "SIGNATURE_NAMESPACE_MISMATCH");
    });

    it("quorum and separation of duties apply; verify follows the claim; revoke is a ledger event; sigilum webhooks report each step", async () => {
      expect((await send(v, "PUT", "/review-settings", { key: v.adminKey, body: { minimum_confidence_bucket: "high", approvals_required: 2 } })).status).toBe(200);
      const agent = newAgent("acme-corp", clock, "carol@example.com");
      const submitted = await claim(agent);
      const claimId = submitted.body.claim_id as string;
      expect(await verify(agent).then((r) => r.body)).toEqual({ authorized: false, reason: "claim_pending" });
      expect((await act("carol", claimId, "approve")).body.code).toBe("principal_approval_forbidden");

      const first = await act("ana", claimId, "approve", "known bot");
      expect(first.status, JSON.stringify(first.body)).toBe(200);
      expect(first.body).toMatchObject({ claim_id: claimId, status: "pending", review: { approvals: { received: 1, required: 2 } } });
      // The second approval through the ordinary review endpoint: the claim follows its request.
      const second = await send(v, "POST", `/reviews/${first.body.request_id}/decision`, { key: people.bo!.api_key, body: { approved: true } });
      expect(second.body.status, JSON.stringify(second.body)).toBe("approved");
      const ok = await verify(agent);
      expect(ok.body).toMatchObject({ authorized: true, claim_id: claimId, approved_at: expect.any(String) });
      expect(ok.headers["cache-control"]).toBe("no-store");
      expect((await verify(agent, "payroll")).body).toEqual({ authorized: false, reason: "no_approved_claim" });
      expectSigilumError(await send(v, "GET", `/v1/verify?namespace=globex&public_key=${encodeURIComponent(agent.identity.publicKey)}&service=billing-api`, { agent }), 403, "SIGNATURE_NAMESPACE_MISMATCH");

      const page = await send(v, "GET", "/v1/namespaces/claims?limit=1", { agent, bearer: serviceKey });
      expect(page.status, JSON.stringify(page.body)).toBe(200);
      expect(page.body.claims).toEqual([expect.objectContaining({ claim_id: claimId, public_key: agent.identity.publicKey, service: "billing-api", subject: "carol@example.com" })]);
      expect(page.body.pagination).toEqual({ limit: 1, offset: 0, total: 1, has_more: false });
      expectSigilumError(await send(v, "GET", "/v1/namespaces/claims?limit=2001", { agent, bearer: serviceKey }), 400, "VALIDATION_ERROR");

      const revoked = await act("ana", claimId, "revoke", "laptop lost");
      expect(revoked.body).toMatchObject({ claim_id: claimId, status: "revoked", reason: "laptop lost", revoked_at: expect.any(String) });
      expectSigilumError(await act("bo", claimId, "revoke"), 409, "CLAIM_NOT_APPROVED");
      expect((await verify(agent)).body).toEqual({ authorized: false, reason: "claim_revoked" });
      const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
      const events = await sql.query<{ event_type: string }>("SELECT event_type FROM ledger_events WHERE request_id = $1 ORDER BY seq", [first.body.request_id]);
      expect(events.map((e) => e.event_type)).toEqual(["clearance.pending_review", "review.vote", "review.approved", "agent_claim.revoked"]);

      const rejected = await claim(newAgent("acme-corp", clock));
      expect((await act("bo", rejected.body.claim_id, "reject", "unknown agent")).body).toMatchObject({ status: "rejected" });
      expectSigilumError(await act("ana", rejected.body.claim_id, "approve"), 409, "CLAIM_NOT_PENDING");
      expectSigilumError(await act("ana", "cl_000000000000000000000000", "approve"), 404, "NOT_FOUND");

      // Sigilum's body and signature: {event, timestamp, data}, X-Sigilum-Signature = sha256=HMAC(secret, raw body).
      const byEvent = async (event: string, id: string) => {
        for (;;) {
          const hit = receiver.requests.find((r) => r.headers["x-sigilum-event"] === event && JSON.parse(r.raw.toString()).data.claim_id === id);
          if (hit) return hit;
          await receiver.waitFor(receiver.requests.length + 1);
        }
      };
      for (const event of ["request.submitted", "request.approved", "request.revoked"]) {
        const hit = await byEvent(event, claimId);
        expect(hit.headers["x-sigilum-signature"]).toBe(`sha256=${createHmac("sha256", webhookSecret).update(hit.raw).digest("hex")}`);
        const body = JSON.parse(hit.raw.toString());
        expect(body).toMatchObject({ event, timestamp: expect.any(String), data: { claim_id: claimId, namespace: "acme-corp", service: "billing-api", public_key: agent.identity.publicKey, subject: "carol@example.com" } });
        if (event === "request.revoked") expect(body.data.reason).toBe("laptop lost");
      }
      expect(JSON.parse((await byEvent("request.rejected", rejected.body.claim_id)).raw.toString()).data.reason).toBe("unknown agent");
      // Countersign-format events never reach a sigilum endpoint.
      expect(receiver.requests.every((r) => r.headers["x-sigilum-event"] !== undefined && r.headers["x-countersign-signature"] === undefined)).toBe(true);
      await send(v, "PUT", "/review-settings", { key: v.adminKey, body: { minimum_confidence_bucket: "high", approvals_required: 1 } });
    });

    it("at the pending limit a new claim is refused at once with reason max_pending_reached", async () => {
      const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
      const [count] = await sql.query<{ n: number }>("SELECT count(*)::int AS n FROM agent_claims WHERE namespace = 'acme-corp' AND status = 'pending'");
      for (let i = Number(count!.n); i < 20; i++) expect((await claim(newAgent("acme-corp", clock))).status).toBe(201);
      const refused = await claim(newAgent("acme-corp", clock));
      expect(refused.status).toBe(201);
      expect(refused.body).toMatchObject({ status: "rejected", message: expect.stringContaining("pending") });
      const [row] = await sql.query<{ reason: string; request_id: string | null }>("SELECT reason, request_id FROM agent_claims WHERE claim_id = $1", [refused.body.claim_id]);
      expect(row).toEqual({ reason: "max_pending_reached", request_id: null });
    });
  });
}
