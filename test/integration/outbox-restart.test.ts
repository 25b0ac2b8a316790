import { afterEach, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { allowPrivate, DAY_MS, deliveries, emit, register } from "../helpers/outbox-api.js";
import { HttpReceiver, sampleRequest, sdkVerifyWebhook } from "../helpers/outbox-receivers.js";
import { newDatabase, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

describe.each<Engine>(["postgres", "pglite"])("nothing is lost when the vault restarts mid-retry (%s)", (engine) => {
  // Secrets sealed at rest here: the next process must open them to sign.
  const env = { ...allowPrivate, VAULT_TRANSPORT_KEY_BASE64: Buffer.alloc(32, 9).toString("base64") };
  let db: TestDatabase;
  let running: TestVault | undefined;
  let receiver: HttpReceiver;
  afterEach(async () => {
    await running?.close();
    running = undefined;
    await receiver?.close();
    await db?.drop();
  });

  it("a delivery backing off after a failure is delivered by the next process", async () => {
    db = newDatabase(engine);
    receiver = await HttpReceiver.start();
    receiver.fallback = 502;
    const clock = new ManualClock(Date.now());
    const first = await startTestVault(db, { env, overrides: { clock } });
    running = first;
    const endpoint = await register(first, `${receiver.url}/restart`);
    const [stored] = await (await first.vault.ctx.tenantDbs.get(first.tenantId)).query<{ secret: string }>("SELECT secret FROM webhook_endpoints");
    expect(stored!.secret).toMatch(/^aes256gcm:v1:/);
    expect(stored!.secret).not.toContain(endpoint.secret.slice(6));
    await emit(first, "request.expired");
    await first.vault.ctx.outboxWorker.drain();
    expect(receiver.requests).toHaveLength(1);
    await first.close();
    running = undefined;

    receiver.fallback = 200;
    const second = await startTestVault(db, { env, overrides: { clock: new ManualClock(clock.nowMs() + DAY_MS) }, adminKey: first.adminKey });
    running = second;
    await second.vault.ctx.outboxWorker.drain();
    expect(receiver.requests).toHaveLength(2);
    expect(receiver.requests[1]!.headers["x-countersign-delivery"]).toBe(receiver.requests[0]!.headers["x-countersign-delivery"]);
    expect(sdkVerifyWebhook(receiver.requests[1]!.raw, receiver.requests[1]!.headers["x-ledgix-signature"] as string, endpoint.secret)).toBe(true);
    expect((await deliveries(second, endpoint.id))[0]).toMatchObject({ status: "delivered", attempts: 2 });
  });

  it("a delivery cut off mid-request by a stop is retried by the next process once its lease runs out", async () => {
    db = newDatabase(engine);
    receiver = await HttpReceiver.start();
    receiver.script = ["hang"];
    const clock = new ManualClock(Date.now());
    const first = await startTestVault(db, { env, overrides: { clock } });
    running = first;
    const endpoint = await register(first, `${receiver.url}/slow`);
    await emit(first, "token.consumed", sampleRequest(), { jti: "jti-1" });
    const inFlight = first.vault.ctx.outboxWorker.drain();
    await receiver.waitFor(1);
    // The receiver has the request but has not answered: the vault stops as if it crashed.
    await first.close();
    running = undefined;
    await inFlight;

    const second = await startTestVault(db, { env, overrides: { clock: new ManualClock(clock.nowMs() + 5 * 60_000) }, adminKey: first.adminKey });
    running = second;
    await second.vault.ctx.outboxWorker.drain();
    expect(receiver.requests).toHaveLength(2);
    const [a, b] = receiver.requests;
    expect(b!.headers["x-countersign-delivery"]).toBe(a!.headers["x-countersign-delivery"]);
    expect(JSON.parse(b!.raw.toString()).data.extra).toEqual({ jti: "jti-1" });
    expect((await deliveries(second, endpoint.id))[0]).toMatchObject({ status: "delivered", attempts: 2 });
  });
});
