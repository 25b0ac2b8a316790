import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allowPrivate, register } from "../helpers/outbox-api.js";
import { HttpReceiver, sdkVerifyWebhook } from "../helpers/outbox-receivers.js";
import { call, newDatabase, newKey, refundPolicy, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

/** The review workflow's own events reach a customer's endpoint, signed, through the durable outbox. */
describe("webhooks from the review workflow", () => {
  let db: TestDatabase;
  let v: TestVault;
  let receiver: HttpReceiver;
  let secret: string;
  beforeAll(async () => {
    db = newDatabase("pglite");
    v = await startTestVault(db, { env: { ...allowPrivate, VAULT_REVIEW_SWEEP_INTERVAL_SECONDS: "3600" } });
    receiver = await HttpReceiver.start();
    secret = (await register(v, receiver.url)).secret;
    await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy });
  }, 60_000);
  afterAll(async () => {
    await v?.close();
    await receiver?.close();
    await db?.drop();
  });

  it("submitted, pending, approved by a reviewer and consumed: each event once, in order, signed as the SDK verifies", async () => {
    const agent = await newKey(v, "agent");
    const reviewer = (await call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name: "Lee", email: "lee@example.com" } })).body.api_key;
    const res = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 500 } } });
    const id = res.body.request_id;
    await call(v.url, "POST", `/reviews/${id}/decision`, { key: reviewer, body: { approved: true, review_reason: "ok" } });
    const token = (await call(v.url, "GET", `/clearance-status/${id}`, { key: agent })).body.token;
    expect((await call(v.url, "POST", "/consume-token", { key: agent, body: { token } })).status).toBe(200);
    await v.vault.ctx.outboxWorker.drain();
    await receiver.waitFor(4);
    const bodies = receiver.requests.map((r) => JSON.parse(r.raw.toString("utf8")));
    expect(bodies.map((b) => [b.type, b.data.request_id])).toEqual([
      ["request.submitted", id],
      ["request.pending_review", id],
      ["request.approved", id],
      ["token.consumed", id],
    ]);
    for (const r of receiver.requests) expect(sdkVerifyWebhook(r.raw, r.headers["x-ledgix-signature"] as string, secret)).toBe(true);
  });
});
