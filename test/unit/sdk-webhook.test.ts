import { describe, expect, it } from "vitest";
import { ledgixSignature, timestampedSignature, verifyTimestampedSignature } from "../../src/outbox/webhook-signature.js";
import { verifyWebhook, WebhookReplayGuard } from "../../src/sdk/index.js";

/**
 * verifyWebhook against the signatures the vault's outbox really sends (src/outbox/webhook-signature.ts):
 * the Ledgix header (sha256= over the body) and the timestamped Countersign header (t=,v1= over t.body).
 */
const secret = "whsec_test-secret";
const body = JSON.stringify({ id: "dlv_1", type: "request.approved", data: { request_id: "req_1", amount: "1 €" } });
const t = 1_800_000_000;
const now = t * 1000 + 5_000;
const headersAt = (ts: number, raw = body) => ({
  "X-Ledgix-Signature": ledgixSignature(secret, raw),
  "X-Countersign-Signature": timestampedSignature(secret, ts, raw),
  "X-Countersign-Delivery": "dlv_1",
  "content-type": "application/json",
});

describe("verifyWebhook", () => {
  it("accepts a delivery with both headers, from a plain object or a Headers, as string or bytes", async () => {
    const result = await verifyWebhook({ body, headers: headersAt(t), secret, now });
    expect(result).toMatchObject({ scheme: "countersign", timestamp: t, deliveryId: "dlv_1", payload: JSON.parse(body) });
    const headers = new Headers(headersAt(t));
    await expect(verifyWebhook({ body: new TextEncoder().encode(body), headers, secret, now })).resolves.toMatchObject({ scheme: "countersign" });
    // The vault's own receiver-side check agrees.
    expect(verifyTimestampedSignature(headersAt(t)["X-Countersign-Signature"], secret, body, now / 1000)).toBe(true);
  });

  it("refuses a changed body, a wrong secret, and a wrong Ledgix signature next to a valid timestamped one", async () => {
    await expect(verifyWebhook({ body: body.replace("req_1", "req_2"), headers: headersAt(t), secret, now })).rejects.toMatchObject({ name: "WebhookVerificationError", code: "invalid_signature" });
    await expect(verifyWebhook({ body, headers: headersAt(t), secret: "other", now })).rejects.toMatchObject({ code: "invalid_signature" });
    const mixed = { ...headersAt(t), "X-Ledgix-Signature": ledgixSignature("other", body) };
    await expect(verifyWebhook({ body, headers: mixed, secret, now })).rejects.toMatchObject({ code: "invalid_signature" });
    await expect(verifyWebhook({ body, headers: { ...headersAt(t), "X-Countersign-Signature": "t=abc,v1=zz" }, secret, now })).rejects.toMatchObject({ code: "malformed_signature" });
  });

  it("refuses a stale or future timestamp outside the window (default 300 s), and honours toleranceSeconds", async () => {
    await expect(verifyWebhook({ body, headers: headersAt(t - 301), secret, now: t * 1000 })).rejects.toMatchObject({ code: "stale_timestamp" });
    await expect(verifyWebhook({ body, headers: headersAt(t + 301), secret, now: t * 1000 })).rejects.toMatchObject({ code: "stale_timestamp" });
    await expect(verifyWebhook({ body, headers: headersAt(t - 299), secret, now: t * 1000 })).resolves.toMatchObject({ scheme: "countersign" });
    await expect(verifyWebhook({ body, headers: headersAt(t - 60), secret, now: t * 1000, toleranceSeconds: 30 })).rejects.toMatchObject({ code: "stale_timestamp" });
  });

  it("with a replay guard, refuses an exact copy of a delivery but accepts the vault's re-signed retry", async () => {
    const replayGuard = new WebhookReplayGuard();
    await verifyWebhook({ body, headers: headersAt(t), secret, now, replayGuard });
    await expect(verifyWebhook({ body, headers: headersAt(t), secret, now: now + 1000, replayGuard })).rejects.toMatchObject({ code: "replayed" });
    // A retry of the same delivery is signed anew (a new t): not a replay.
    await expect(verifyWebhook({ body, headers: headersAt(t + 30), secret, now: now + 30_000, replayGuard })).resolves.toMatchObject({ deliveryId: "dlv_1" });
  });

  it("refuses a delivery with only the untimestamped Ledgix header unless allowUntimestamped, and one with no signature", async () => {
    const ledgixOnly = { "X-Ledgix-Signature": ledgixSignature(secret, body) };
    await expect(verifyWebhook({ body, headers: ledgixOnly, secret, now })).rejects.toMatchObject({ code: "missing_signature" });
    await expect(verifyWebhook({ body, headers: ledgixOnly, secret, now, allowUntimestamped: true })).resolves.toMatchObject({ scheme: "ledgix" });
    await expect(verifyWebhook({ body, headers: { ...ledgixOnly, "X-Ledgix-Signature": ledgixSignature("x", body) }, secret, now, allowUntimestamped: true })).rejects.toMatchObject({ code: "invalid_signature" });
    await expect(verifyWebhook({ body, headers: {}, secret, now })).rejects.toMatchObject({ code: "missing_signature" });
  });
});
