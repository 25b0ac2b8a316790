import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * The two signatures on every webhook delivery. Both use the endpoint secret as its UTF-8 bytes
 * (no base64 decoding, no "whsec_" stripping) and the exact raw body bytes.
 *
 * - X-Ledgix-Signature: `sha256=<hex>` over the body alone: what the Ledgix SDK's verifyWebhook
 *   checks (wire protocol §5). It has no timestamp, so a captured delivery can be replayed.
 * - X-Countersign-Signature: `t=<unix seconds>,v1=<hex>` over `<t>.<body>`: receivers that check it
 *   and refuse a `t` more than SIGNATURE_TOLERANCE_SECONDS from their clock reject replays.
 *   The delivery id (X-Countersign-Delivery, also the body's `id`) is the dedup key for retries.
 */
export const SIGNATURE_TOLERANCE_SECONDS = 300;

const hmacHex = (secret: string, message: string) => createHmac("sha256", Buffer.from(secret, "utf8")).update(message, "utf8").digest("hex");

export function ledgixSignature(secret: string, rawBody: string): string {
  return `sha256=${hmacHex(secret, rawBody)}`;
}

export function timestampedSignature(secret: string, unixSeconds: number, rawBody: string): string {
  return `t=${unixSeconds},v1=${hmacHex(secret, `${unixSeconds}.${rawBody}`)}`;
}

/**
 * Receiver side of X-Countersign-Signature, for customers and tests: constant-time comparison of
 * every v1 value, and the timestamp within the tolerance of `nowSeconds`.
 */
export function verifyTimestampedSignature(
  header: string,
  secret: string,
  rawBody: string,
  nowSeconds: number,
  toleranceSeconds = SIGNATURE_TOLERANCE_SECONDS,
): boolean {
  const parts = header.split(",").map((p) => p.trim().split("=", 2) as [string, string | undefined]);
  const t = Number(parts.find(([k]) => k === "t")?.[1]);
  if (!Number.isInteger(t) || Math.abs(nowSeconds - t) > toleranceSeconds) return false;
  const expected = Buffer.from(hmacHex(secret, `${t}.${rawBody}`), "hex");
  return parts
    .filter(([k, v]) => k === "v1" && v !== undefined && /^[0-9a-fA-F]{64}$/.test(v))
    .some(([, v]) => timingSafeEqual(Buffer.from(v!, "hex"), expected));
}
