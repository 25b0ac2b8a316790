import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyDecisionEnvelope } from "../../src/protocols/stepauth/decision.js";
import { verifyBundleWith } from "../../src/sdk/index.js";
import { cancel, poll, requestIdOf, startCallbackReceiver, startHubVault, submit, type Hub, type HubVault, type TestSp } from "../helpers/stepauth-sp.js";
import { call, type Engine, type TestVault } from "../helpers/vault.js";

/** Refunds up to 100 are approved by a condition, up to 1000 go to review, above are denied. */
const refunds = {
  policy_id: "stepauth-refunds",
  description: "Refunds asked for by the payments back office",
  tools: ["payments.refund"],
  conditions: [
    { id: "too-large", when: "int(args.amount) > 1000", decision: "deny", reason: "Over the limit" },
    { id: "needs-human", when: "int(args.amount) > 100", decision: "review", reason: "A person checks large refunds" },
    { id: "small", when: "int(args.amount) <= 100 && context.stepauth.category == 'financial.transfer'", decision: "approve", reason: "Small refund" },
  ],
  default_decision: "review",
};

describe.each<Engine>(["pglite", "postgres"])("StepAuth decisions on %s", (engine) => {
  let hv: HubVault | undefined;
  let v: TestVault;
  let hub: Hub;
  let sp: TestSp;
  let receiver: Awaited<ReturnType<typeof startCallbackReceiver>> | undefined;
  let callbackBase = "";
  const received: { requestId: string; body: string; answer: number }[] = [];
  const deliveriesOf = (requestId: string) => received.filter((r) => r.requestId === requestId);
  let answer = 200;
  let ana = "";
  const app = () => v.vault.app;
  const drainOutbox = () => v.vault.ctx.outboxWorker.drain();
  const amount = (value: string) => ({ action: { details: [{ key: "amount", label: "Amount", value }] } });

  beforeAll(async () => {
    receiver = await startCallbackReceiver((body, res) => {
      const requestId = requestIdOf(body);
      received.push({ requestId, body, answer });
      res.writeHead(answer, { "content-type": "application/json" }).end(JSON.stringify({ requestId, status: "success" }));
    });
    callbackBase = receiver.base;
    hv = await startHubVault(engine, { policy: refunds, callbackPattern: `${callbackBase}*` });
    ({ v, sp, hub, reviewerKey: ana } = hv);
  });
  afterAll(async () => {
    await hv?.close();
    await receiver?.close();
  });

  it("approves by a condition: 202, then a signed decision by poll and by callback, with the execution result in the ledger", async () => {
    const req = await submit(app(), hub, sp, { callbackUrl: `${callbackBase}refunds`, ...amount("50") });
    expect(req.res.statusCode, req.res.body).toBe(202);
    expect(req.res.json()).toMatchObject({ requestId: req.requestId, status: "pending", createdAt: expect.any(String) });
    const polled = await poll(app(), hub, sp, req);
    expect(polled.res.statusCode, polled.res.body).toBe(200);
    expect(polled.verified).toMatchObject({ ok: true, decision: { decision: "approved", decidedBy: ["policy:stepauth-refunds"], recipientId: sp.entity, senderId: hub.entity } });
    // The worker also runs on its own: drained here, delivered exactly once either way.
    await drainOutbox();
    expect(deliveriesOf(req.requestId)).toHaveLength(1);
    // The callback carries the very bytes the poll answered: one decision, signed once.
    expect(deliveriesOf(req.requestId)[0]!.body).toBe(polled.res.body);
    const detail = await call(v.url, "GET", `/reviews/${await clearanceIdOf(req.requestId)}`, { key: v.adminKey });
    expect(detail.body.stepauth).toMatchObject({
      sender: sp.entity,
      request_id: req.requestId,
      summary: "Refund $50 to the customer of order 1042",
      category: "financial.transfer",
      details: [{ key: "amount", label: "Amount", value: "50" }],
      principal: { subject: "email:pat@customer.example", attributes: [{ key: "role", label: "Role", value: "support" }] },
      callback: { url: `${callbackBase}refunds`, status: "delivered", attempts: 1 },
      decision: { decision: "approved", decided_by: ["policy:stepauth-refunds"] },
      execution: { status: "success", error: null },
    });
    const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
    const events = await sql.query<{ event_type: string }>("SELECT event_type FROM ledger_events WHERE request_id = $1 ORDER BY seq", [await clearanceIdOf(req.requestId)]);
    expect(events.map((e) => e.event_type)).toEqual(["clearance.approved", "stepauth.decision", "stepauth.executed"]);
  });

  it("the request's proof bundle covers the decision and the execution, and verifies offline", async () => {
    const req = await submit(app(), hub, sp, { callbackUrl: `${callbackBase}b`, ...amount("20") });
    expect(req.res.statusCode).toBe(202);
    await drainOutbox();
    await v.vault.ctx.ledgerLoop.drain();
    const id = await clearanceIdOf(req.requestId);
    const bundle = await call(v.url, "GET", `/ledger/proof/bundle?request_id=${id}`, { key: v.adminKey });
    expect(bundle.status, JSON.stringify(bundle.body)).toBe(200);
    const types = [bundle.body.event, ...(bundle.body.request_events ?? []).map((e: { event: unknown }) => e.event)].map((e: { event_type: string }) => e.event_type);
    expect(types).toEqual(expect.arrayContaining(["clearance.approved", "stepauth.decision", "stepauth.executed"]));
    const jwks = (await call(v.url, "GET", "/.well-known/jwks.json")).body;
    const report = verifyBundleWith(bundle.body, { jwks });
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.ok).toBe(true);
    const decisionEvent = [bundle.body.event, ...bundle.body.request_events.map((e: { event: unknown }) => e.event)].find((e: { event_type: string }) => e.event_type === "stepauth.decision");
    expect(decisionEvent.evidence_chunks[0]).toMatchObject({ type: "stepauth_decision", digest: expect.any(String), decision: "approved", keyset: hub.keysets[0]!.keysetId });
  });

  it("sends a large refund to review, tightened by the approver group; a reviewer's approval is signed with their email", async () => {
    const req = await submit(app(), hub, sp, { ...amount("500"), action: { ...amount("500").action, approver: "group:finance" } });
    expect(req.res.statusCode, req.res.body).toBe(202);
    expect((await poll(app(), hub, sp, req)).res.statusCode).toBe(202);
    const id = await clearanceIdOf(req.requestId);
    const detail = await call(v.url, "GET", `/reviews/${id}`, { key: ana });
    expect(detail.body.rules.groups).toEqual([{ name: "finance", approvals_required: 1 }]);
    expect(new Date(detail.body.expires_at).getTime()).toBeLessThanOrEqual(Date.now() + 30 * 60_000 + 5000);
    expect((await call(v.url, "POST", `/reviews/${id}/decision`, { key: ana, body: { approved: true } })).status).toBe(200);
    const polled = await poll(app(), hub, sp, req);
    expect(polled.verified).toMatchObject({ ok: true, decision: { decision: "approved", decidedBy: ["email:ana@example.com"] } });
  });

  it("cancel before a decision: 200, signed denied with nobody named; cancel again and after an approval: 409", async () => {
    const pending = await submit(app(), hub, sp, amount("700"));
    expect((await cancel(app(), hub, sp, pending.requestId)).statusCode).toBe(200);
    const polled = await poll(app(), hub, sp, pending);
    expect(polled.verified).toMatchObject({ ok: true, decision: { decision: "denied", decidedBy: [] } });
    const again = await cancel(app(), hub, sp, pending.requestId);
    expect(again.statusCode).toBe(409);
    expect(again.json()).toMatchObject({ code: "already_decided", error: "already_decided", message: expect.any(String) });
    const approved = await submit(app(), hub, sp, amount("5"));
    expect((await cancel(app(), hub, sp, approved.requestId)).statusCode).toBe(409);
    expect((await poll(app(), hub, sp, approved)).verified).toMatchObject({ ok: true, decision: { decision: "approved" } });
    const unknown = await cancel(app(), hub, sp, "req_never_sent");
    expect(unknown.statusCode).toBe(404);
    expect(unknown.json()).toMatchObject({ error: "request_not_found" });
  });

  it("expiry never signs approved: a review past the request's expiresAt is denied with nobody named", async () => {
    const now = Date.now();
    const req = await submit(app(), hub, sp, { ...amount("600"), expiresAt: new Date(now + 2000).toISOString().replace(/\.\d{3}Z$/, "Z") });
    expect(req.res.statusCode, req.res.body).toBe(202);
    await new Promise((r) => setTimeout(r, 2500));
    await v.vault.ctx.reviewSweeper.sweep();
    const polled = await poll(app(), hub, sp, req);
    expect(polled.verified).toMatchObject({ ok: true, decision: { decision: "denied", decidedBy: [] } });
  });

  it("retries a failing callback and records nothing until it succeeds; a URL outside the pattern is refused at submit", async () => {
    answer = 500;
    const req = await submit(app(), hub, sp, { callbackUrl: `${callbackBase}retry`, ...amount("10") });
    await drainOutbox();
    expect(deliveriesOf(req.requestId)[0]).toMatchObject({ answer: 500 });
    const entry = (await call(v.url, "GET", "/outbox?status=pending&kind=callback", { key: v.adminKey })).body.entries[0];
    expect(entry).toMatchObject({ kind: "callback", attempts: expect.any(Number), last_status: 500 });
    // Still pending, so the keyset it was signed with stays published; and no execution result was recorded.
    const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
    expect((await sql.query("SELECT execution FROM stepauth_requests WHERE request_id = $1", [req.requestId]))[0]).toEqual({ execution: null });
    answer = 200;
    const outside = await submit(app(), hub, sp, { callbackUrl: "https://elsewhere.example.com/cb", ...amount("10") });
    expect(outside.res.statusCode).toBe(400);
    expect(outside.res.json()).toMatchObject({ error: "invalid_callback_url" });
    const verified = verifyDecisionEnvelope(deliveriesOf(req.requestId)[0]!.body, { hubKeysets: hub.keysets, hubEntity: hub.entity, spEntity: sp.entity, requestBytes: req.bytes });
    expect(verified).toMatchObject({ ok: true });
  });

  async function clearanceIdOf(requestId: string): Promise<string> {
    const rows = await (await v.vault.ctx.tenantDbs.get(v.tenantId)).query<{ clearance_request_id: string }>(
      "SELECT clearance_request_id FROM stepauth_requests WHERE request_id = $1",
      [requestId],
    );
    return rows[0]!.clearance_request_id;
  }
});
