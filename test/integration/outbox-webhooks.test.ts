import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { allowPrivate, DAY_MS, deliveries, emit, register } from "../helpers/outbox-api.js";
import { countingSql, HttpReceiver, metricValue, receiverVerifyTimestamped, sampleRequest, sdkVerifyWebhook } from "../helpers/outbox-receivers.js";
import { call, newPgDatabase, newTenant, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

describe("signed webhooks with retries and dead letters (postgres)", () => {
  let db: TestDatabase;
  let v: TestVault;
  let second: TestVault | undefined;
  let receiver: HttpReceiver;
  // Time moves only when a test says so: retries become due by advancing it, never by sleeping.
  const clock = new ManualClock(Date.now());

  beforeAll(async () => {
    db = newPgDatabase();
    v = await startTestVault(db, { env: allowPrivate, overrides: { clock } });
  });
  afterAll(async () => {
    await second?.close();
    await v?.close();
    await db?.drop();
  });
  afterEach(async () => {
    await receiver?.close();
  });

  it("delivers a signed event that verifies exactly as the SDK verifies it, plus the timestamped signature", async () => {
    receiver = await HttpReceiver.start();
    const endpoint = await register(v, `${receiver.url}/hooks/countersign`, { description: "ops" });
    expect(endpoint.secret).toMatch(/^whsec_[A-Za-z0-9_-]{43}$/);
    const listed = await call(v.url, "GET", "/webhooks", { key: v.adminKey });
    expect(listed.body.webhooks.find((w: { id: string }) => w.id === endpoint.id)).toMatchObject({ url: endpoint.url, events: [], description: "ops" });
    expect(JSON.stringify(listed.body)).not.toContain(endpoint.secret);

    const request = await emit(v, "request.approved", sampleRequest({ status: "approved", decision_status: "approved" }), { approvals: 2 });
    await v.vault.ctx.outboxWorker.drain();

    expect(receiver.requests).toHaveLength(1);
    const got = receiver.requests[0]!;
    expect(got.method).toBe("POST");
    expect(got.path).toBe("/hooks/countersign");
    expect(got.headers["content-type"]).toBe("application/json");
    expect(got.headers["user-agent"]).toBe("countersign-webhooks");
    expect(got.headers["x-countersign-event"]).toBe("request.approved");
    expect(got.headers["x-ledgix-signature"]).toMatch(/^sha256=[0-9a-f]{64}$/);
    expect(sdkVerifyWebhook(got.raw, got.headers["x-ledgix-signature"] as string, endpoint.secret)).toBe(true);
    const nowSeconds = Math.floor(clock.nowMs() / 1000);
    expect(receiverVerifyTimestamped(got.raw, got.headers["x-countersign-signature"] as string, endpoint.secret, nowSeconds)).toBe(true);
    // The checks are real: another secret, a changed byte, or a stale timestamp fail.
    expect(sdkVerifyWebhook(got.raw, got.headers["x-ledgix-signature"] as string, `${endpoint.secret}x`)).toBe(false);
    expect(sdkVerifyWebhook(Buffer.concat([got.raw, Buffer.from(" ")]), got.headers["x-ledgix-signature"] as string, endpoint.secret)).toBe(false);
    expect(receiverVerifyTimestamped(got.raw, got.headers["x-countersign-signature"] as string, endpoint.secret, nowSeconds + 301)).toBe(false);

    const body = JSON.parse(got.raw.toString("utf8"));
    expect(body).toMatchObject({ id: got.headers["x-countersign-delivery"], type: "request.approved", created_at: clock.now().toISOString() });
    expect(body.data).toMatchObject({
      request_id: request.id,
      status: "approved",
      tool_name: "stripe_refund",
      tool_args: request.tool_args,
      agent_id: "agent-7",
      human_principal: "alice@example.test",
      created_at: "2026-03-01T10:00:00.000Z",
      extra: { approvals: 2 },
    });
    const [row] = await deliveries(v, endpoint.id);
    expect(row).toMatchObject({ delivery_id: body.id, status: "delivered", attempts: 1, last_status: 200, event_type: "request.approved" });
    await call(v.url, "DELETE", `/webhooks/${endpoint.id}`, { key: v.adminKey });
  });

  it("sends only subscribed events, and pings on request", async () => {
    receiver = await HttpReceiver.start();
    const endpoint = await register(v, `${receiver.url}/only-denied`, { events: ["request.denied"] });
    await emit(v, "request.approved");
    await emit(v, "request.denied");
    const ping = await call(v.url, "POST", `/webhooks/${endpoint.id}/test`, { key: v.adminKey, body: {} });
    expect(ping.status).toBe(202);
    await v.vault.ctx.outboxWorker.drain();
    const types = receiver.requests.map((r) => r.headers["x-countersign-event"]).sort();
    expect(types).toEqual(["ping", "request.denied"]);
    const pingBody = JSON.parse(receiver.requests.find((r) => r.headers["x-countersign-event"] === "ping")!.raw.toString());
    expect(pingBody).toMatchObject({ id: ping.body.delivery_id, type: "ping", data: { webhook_id: endpoint.id } });
    expect(sdkVerifyWebhook(receiver.requests[0]!.raw, receiver.requests[0]!.headers["x-ledgix-signature"] as string, endpoint.secret)).toBe(true);

    expect((await call(v.url, "DELETE", `/webhooks/${endpoint.id}`, { key: v.adminKey })).status).toBe(204);
    const gone = await call(v.url, "GET", `/webhooks/${endpoint.id}/deliveries`, { key: v.adminKey });
    expect(gone.status).toBe(404);
    expect(gone.body.code).toBe("webhook_not_found");
    expect((await call(v.url, "DELETE", `/webhooks/${endpoint.id}`, { key: v.adminKey })).body.code).toBe("webhook_not_found");
  });

  it("retries after the receiver fails twice, with the same delivery id and body, then delivers once", async () => {
    receiver = await HttpReceiver.start();
    receiver.script = [500, 503];
    const endpoint = await register(v, `${receiver.url}/flaky`);
    await emit(v, "request.pending_review");
    await v.vault.ctx.outboxWorker.drain();
    expect(receiver.requests).toHaveLength(1);
    const [afterOne] = await deliveries(v, endpoint.id);
    expect(afterOne).toMatchObject({ status: "pending", attempts: 1, last_status: 500 });
    expect(afterOne!.last_error).toContain("HTTP 500");
    // Not due yet: a pass at the same moment sends nothing.
    await v.vault.ctx.outboxWorker.drain();
    expect(receiver.requests).toHaveLength(1);

    for (const expected of [2, 3]) {
      clock.advance(DAY_MS);
      await v.vault.ctx.outboxWorker.drain();
      expect(receiver.requests).toHaveLength(expected);
    }
    clock.advance(DAY_MS);
    await v.vault.ctx.outboxWorker.drain();
    expect(receiver.requests).toHaveLength(3);

    const ids = new Set(receiver.requests.map((r) => r.headers["x-countersign-delivery"]));
    expect(ids.size).toBe(1);
    expect(new Set(receiver.requests.map((r) => r.raw.toString())).size).toBe(1);
    for (const r of receiver.requests) expect(sdkVerifyWebhook(r.raw, r.headers["x-ledgix-signature"] as string, endpoint.secret)).toBe(true);
    const [done] = await deliveries(v, endpoint.id);
    expect(done).toMatchObject({ status: "delivered", attempts: 3, last_status: 200, last_error: null });
    await call(v.url, "DELETE", `/webhooks/${endpoint.id}`, { key: v.adminKey });
  });

  it("dead-letters after the maximum attempts: listed by GET /outbox and counted in metrics; an admin retry revives it", async () => {
    receiver = await HttpReceiver.start();
    receiver.fallback = 500;
    const endpoint = await register(v, `${receiver.url}/down`);
    const deadBefore = await metricValue(v, "countersign_outbox_dead_total", 'kind="webhook"');
    await emit(v, "request.denied");
    for (let i = 0; i < 5; i++) {
      await v.vault.ctx.outboxWorker.drain();
      clock.advance(DAY_MS);
    }
    expect(receiver.requests).toHaveLength(3);
    const [dead] = await deliveries(v, endpoint.id, "?status=dead");
    expect(dead).toMatchObject({ status: "dead", attempts: 3, last_status: 500, kind: "webhook" });

    const listed = await call(v.url, "GET", "/outbox?status=dead", { key: v.adminKey });
    expect(listed.status).toBe(200);
    expect(listed.body.entries.map((e: { delivery_id: string }) => e.delivery_id)).toContain(dead!.delivery_id);
    expect(JSON.stringify(listed.body)).not.toContain(endpoint.secret);
    expect(await metricValue(v, "countersign_outbox_dead_total", 'kind="webhook"')).toBe(deadBefore + 1);
    expect((await call(v.url, "GET", "/outbox", { key: "csk_nope" })).status).toBe(401);

    receiver.fallback = 200;
    const revived = await call(v.url, "POST", `/outbox/${dead!.delivery_id}/retry`, { key: v.adminKey, body: {} });
    expect(revived.body).toMatchObject({ status: "pending", attempts: 0 });
    await v.vault.ctx.outboxWorker.drain();
    expect(receiver.requests).toHaveLength(4);
    expect((await deliveries(v, endpoint.id))[0]).toMatchObject({ status: "delivered", attempts: 1 });
    expect((await call(v.url, "POST", `/outbox/${dead!.delivery_id}/retry`, { key: v.adminKey, body: {} })).status).toBe(400);
    await call(v.url, "DELETE", `/webhooks/${endpoint.id}`, { key: v.adminKey });
  });

  it("never follows a redirect: a 3xx is a failed attempt", async () => {
    receiver = await HttpReceiver.start();
    const elsewhere = await HttpReceiver.start();
    try {
      receiver.fallback = { status: 307, headers: { location: `${elsewhere.url}/stolen` } };
      const endpoint = await register(v, `${receiver.url}/moved`);
      await emit(v, "request.submitted");
      await v.vault.ctx.outboxWorker.drain();
      expect(receiver.requests).toHaveLength(1);
      expect(elsewhere.requests).toHaveLength(0);
      expect((await deliveries(v, endpoint.id))[0]).toMatchObject({ status: "pending", last_status: 307 });
      await call(v.url, "DELETE", `/webhooks/${endpoint.id}`, { key: v.adminKey });
    } finally {
      await elsewhere.close();
    }
  });

  it("issues no query for a tenant without endpoints once its (empty) endpoint list is cached", async () => {
    receiver = await HttpReceiver.start();
    const other = await newTenant(v, `quiet-${Date.now()}`);
    const db2 = await v.vault.ctx.tenantDbs.get(other.tenantId);
    await db2.transaction(async (tx) => {
      const first = countingSql(tx);
      await v.vault.ctx.outbox.webhookEvent(first, other.tenantId, "request.submitted", sampleRequest());
      expect(first.count).toBeGreaterThan(0);
      const counted = countingSql(tx);
      for (let i = 0; i < 20; i++) await v.vault.ctx.outbox.webhookEvent(counted, other.tenantId, "request.submitted", sampleRequest());
      expect(counted.count).toBe(0);
    });
    expect(await v.vault.ctx.outbox.wantsWebhooks(other.tenantId)).toBe(false);
    // Registering an endpoint invalidates the cache in this process: the next event is written.
    await register(v, `${receiver.url}/quiet`, {}, other.adminKey);
    expect(await v.vault.ctx.outbox.wantsWebhooks(other.tenantId)).toBe(true);
    await db2.transaction(async (tx) => {
      const counted = countingSql(tx);
      await v.vault.ctx.outbox.webhookEvent(counted, other.tenantId, "request.submitted", sampleRequest());
      // wantsWebhooks above reloaded the list into the cache: the one statement is the delivery row.
      expect(counted.count).toBe(1);
    });
    await v.vault.ctx.outboxWorker.drain();
    expect(receiver.requests).toHaveLength(1);
  });

  it("two vault processes on one database share the work without delivering anything twice", async () => {
    receiver = await HttpReceiver.start();
    const endpoint = await register(v, `${receiver.url}/shared`);
    second = await startTestVault(db, { env: allowPrivate, overrides: { clock }, adminKey: v.adminKey });
    for (let i = 0; i < 45; i++) await emit(v, "request.submitted");
    await Promise.all([v.vault.ctx.outboxWorker.drain(), second.vault.ctx.outboxWorker.drain(), v.vault.ctx.outboxWorker.drain()]);
    const ids = receiver.requests.map((r) => r.headers["x-countersign-delivery"]);
    expect(ids).toHaveLength(45);
    expect(new Set(ids).size).toBe(45);
    const rows = await deliveries(v, endpoint.id, "?limit=200");
    expect(rows.every((r) => r.status === "delivered" && r.attempts === 1)).toBe(true);
    await call(v.url, "DELETE", `/webhooks/${endpoint.id}`, { key: v.adminKey });
  });
});
