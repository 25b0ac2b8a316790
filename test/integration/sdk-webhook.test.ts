import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Countersign, verifyWebhook, WebhookReplayGuard } from "../../src/sdk/index.js";
import { allowPrivate, register } from "../helpers/outbox-api.js";
import { HttpReceiver } from "../helpers/outbox-receivers.js";
import { call, newDatabase, newKey, refundPolicy, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

/** verifyWebhook on a real delivery: the vault's outbox posts to a real receiver after an SDK clearance. */
describe.each<Engine>(["postgres", "pglite"])("SDK verifyWebhook on a live delivery on %s", (engine) => {
  let db: TestDatabase;
  let v: TestVault;
  let receiver: HttpReceiver;

  beforeAll(async () => {
    db = newDatabase(engine);
    // A generous condition budget: on a loaded machine the 50 ms default sends conditions to review (fail closed).
    v = await startTestVault(db, { env: { ...allowPrivate, VAULT_CEL_TIMEOUT_MS: "2000" } });
    receiver = await HttpReceiver.start();
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy })).status).toBe(200);
  });
  afterAll(async () => {
    await receiver?.close();
    await v?.close();
    await db?.drop();
  });

  it("verifies both signatures of the delivery; refuses a replayed copy, a changed body and a stale one", async () => {
    const endpoint = await register(v, `${receiver.url}/hooks`, { events: ["request.denied"] });
    const cs = new Countersign({ baseUrl: v.url, apiKey: await newKey(v, "agent") });
    const denied = await cs.requestClearance({ tool: "stripe_refund", args: { amount: 5000 }, agentId: "a" }, { waitSeconds: 10 });
    expect(denied.status, `${denied.reasonCode}: ${denied.reason}`).toBe("denied");
    await v.vault.ctx.outboxWorker.drain();
    await receiver.waitFor(1);
    const got = receiver.requests[0]!;
    const headers = got.headers as Record<string, string>;
    expect(headers["x-ledgix-signature"]).toBeDefined();
    expect(headers["x-countersign-signature"]).toBeDefined();

    const replayGuard = new WebhookReplayGuard();
    const ok = await verifyWebhook({ body: new Uint8Array(got.raw), headers, secret: endpoint.secret, replayGuard });
    expect(ok).toMatchObject({ scheme: "countersign", deliveryId: headers["x-countersign-delivery"] });
    expect(ok.payload).toMatchObject({ type: "request.denied" });
    expect(JSON.stringify(ok.payload)).toContain(denied.requestId);

    await expect(verifyWebhook({ body: got.raw.toString("utf8"), headers, secret: endpoint.secret, replayGuard })).rejects.toMatchObject({ code: "replayed" });
    await expect(verifyWebhook({ body: got.raw.toString("utf8").replace("5000", "50"), headers, secret: endpoint.secret })).rejects.toMatchObject({ code: "invalid_signature" });
    const t = Number(/t=(\d+)/.exec(headers["x-countersign-signature"]!)![1]);
    await expect(verifyWebhook({ body: got.raw.toString("utf8"), headers, secret: endpoint.secret, now: (t + 301) * 1000 })).rejects.toMatchObject({ code: "stale_timestamp" });
    await expect(verifyWebhook({ body: got.raw.toString("utf8"), headers, secret: `${endpoint.secret}x` })).rejects.toMatchObject({ code: "invalid_signature" });
  });
});
