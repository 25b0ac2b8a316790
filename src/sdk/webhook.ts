import { toHex } from "./canonical-json.js";
import { CountersignError, WebhookVerificationError } from "./errors.js";

export interface WebhookInput {
  /** The raw body exactly as received (string or bytes): never a re-serialised object. */
  body: string | Uint8Array;
  /** The request headers (a Headers object or a plain object; names case-insensitive). */
  headers: Headers | Record<string, string | string[] | undefined>;
  /** The endpoint's secret, used as its UTF-8 bytes. */
  secret: string;
  /** Replay window for the timestamped signature, in seconds (default 300). */
  toleranceSeconds?: number;
  /** The receiver's clock, in ms since the epoch (default Date.now()). */
  now?: number;
  /**
   * Accept a delivery that carries only X-Ledgix-Signature (no timestamp: a captured delivery could be
   * replayed forever). Off by default; the vault always sends both.
   */
  allowUntimestamped?: boolean;
  /** Refuses an exact copy of a delivery received before within the window (one guard per receiver). */
  replayGuard?: WebhookReplayGuard;
}

export interface WebhookVerification {
  /** "countersign" when the timestamped signature was checked, "ledgix" when only the untimestamped one was. */
  scheme: "countersign" | "ledgix";
  timestamp?: number;
  deliveryId?: string;
  /** The parsed JSON body. */
  payload: unknown;
}

/**
 * Remembers the signatures of received deliveries for the replay window, so an exact copy replayed
 * within it is refused; one outside it is refused by its timestamp. In memory: one guard per process.
 */
export class WebhookReplayGuard {
  private readonly seen = new Map<string, number>();
  constructor(private readonly maxEntries = 100_000) {
    // NaN or 0 would forget every delivery at once: a guard that guards nothing.
    if (!(Number.isInteger(maxEntries) && maxEntries > 0)) throw new CountersignError("invalid_options", "WebhookReplayGuard: maxEntries must be a positive integer");
  }

  /** True the first time `id` is seen within `windowMs` of `nowMs`; older entries are forgotten. */
  check(id: string, nowMs: number, windowMs: number): boolean {
    for (const [key, at] of this.seen) {
      if (nowMs - at <= windowMs && this.seen.size < this.maxEntries) break;
      this.seen.delete(key);
    }
    if (this.seen.has(id)) return false;
    this.seen.set(id, nowMs);
    return true;
  }
}

function header(headers: WebhookInput["headers"], name: string): string | undefined {
  if (typeof (headers as Headers).get === "function") return (headers as Headers).get(name) ?? undefined;
  for (const [k, v] of Object.entries(headers as Record<string, string | string[] | undefined>)) {
    if (k.toLowerCase() === name) return Array.isArray(v) ? v[0] : v;
  }
  return undefined;
}

async function hmacHex(secret: string, message: Uint8Array): Promise<string> {
  const key = await globalThis.crypto.subtle.importKey("raw", new TextEncoder().encode(secret), { name: "HMAC", hash: "SHA-256" }, false, ["sign"]);
  return toHex(new Uint8Array(await globalThis.crypto.subtle.sign("HMAC", key, message)));
}

/** Constant-time comparison of two equal-length lowercase hex strings. */
function sameHex(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * Verifies a webhook delivery from the vault. X-Countersign-Signature (`t=<unix s>,v1=<hex>` over
 * `<t>.<body>`) must be present and valid with `t` within the window; X-Ledgix-Signature
 * (`sha256=<hex>` over the body), when present, must be valid too. With a replayGuard, an exact copy
 * of a delivery already received is refused. Throws WebhookVerificationError; returns the parsed body.
 */
export async function verifyWebhook(input: WebhookInput): Promise<WebhookVerification> {
  // Misconfiguration must not weaken the check: a missing secret would HMAC with "undefined", a NaN
  // tolerance or clock would let every timestamp through (NaN comparisons are false).
  if (typeof input?.secret !== "string" || input.secret === "") throw new CountersignError("invalid_options", "verifyWebhook: secret must be a non-empty string");
  if (typeof input.body !== "string" && !(input.body instanceof Uint8Array)) {
    throw new CountersignError("invalid_options", "verifyWebhook: body must be the raw body, a string or bytes (not a parsed object)");
  }
  if (input.headers === null || typeof input.headers !== "object") throw new CountersignError("invalid_options", "verifyWebhook: headers are required");
  const raw = typeof input.body === "string" ? new TextEncoder().encode(input.body) : input.body;
  const tolerance = input.toleranceSeconds ?? 300;
  const nowMs = input.now ?? Date.now();
  if (!(Number.isFinite(tolerance) && tolerance >= 0)) throw new CountersignError("invalid_options", "verifyWebhook: toleranceSeconds must be a finite number >= 0");
  if (!Number.isFinite(nowMs)) throw new CountersignError("invalid_options", "verifyWebhook: now must be a finite number of ms");
  const countersign = header(input.headers, "x-countersign-signature");
  const ledgix = header(input.headers, "x-ledgix-signature");
  const deliveryId = header(input.headers, "x-countersign-delivery");
  if (!countersign && !(ledgix && input.allowUntimestamped)) {
    throw new WebhookVerificationError("missing_signature", ledgix ? "Only the untimestamped X-Ledgix-Signature is present (allowUntimestamped is off)" : "No webhook signature header");
  }
  if (ledgix !== undefined) {
    const m = /^sha256=([0-9a-fA-F]{64})$/.exec(ledgix.trim());
    if (!m) throw new WebhookVerificationError("malformed_signature", "X-Ledgix-Signature is not sha256=<64 hex>");
    if (!sameHex(m[1]!.toLowerCase(), await hmacHex(input.secret, raw))) throw new WebhookVerificationError("invalid_signature", "X-Ledgix-Signature does not match the body");
  }
  let timestamp: number | undefined;
  let replayKey = `ledgix:${ledgix?.trim().toLowerCase()}`;
  if (countersign !== undefined) {
    const parts = countersign.split(",").map((p) => p.trim().split("=", 2) as [string, string | undefined]);
    // Exactly one t, in decimal digits: "1e9", "0x10" or " 16" would sign the same text under another
    // spelling and so slip past the replay guard.
    const stamps = parts.filter(([k]) => k === "t").map(([, v]) => v ?? "");
    timestamp = stamps.length === 1 && /^[0-9]{1,15}$/.test(stamps[0]!) ? Number(stamps[0]) : Number.NaN;
    const candidates = parts.filter(([k, v]) => k === "v1" && v !== undefined && /^[0-9a-fA-F]{64}$/.test(v)).map(([, v]) => v!.toLowerCase());
    if (!Number.isInteger(timestamp) || candidates.length === 0) throw new WebhookVerificationError("malformed_signature", "X-Countersign-Signature is not t=<unix seconds>,v1=<64 hex>");
    if (Math.abs(nowMs / 1000 - timestamp) > tolerance) {
      throw new WebhookVerificationError("stale_timestamp", `X-Countersign-Signature timestamp is more than ${tolerance} s from this clock`);
    }
    const expected = await hmacHex(input.secret, concat(new TextEncoder().encode(`${timestamp}.`), raw));
    // Every candidate is compared (no early exit), each in constant time.
    const valid = candidates.reduce((ok, c) => sameHex(c, expected) || ok, false);
    if (!valid) throw new WebhookVerificationError("invalid_signature", "X-Countersign-Signature does not match the body");
    replayKey = `countersign:${timestamp}:${expected}`;
  }
  // Keyed by the signed timestamp and signature, not the delivery id: the vault signs each attempt anew
  // (a new t), so its retries of a delivery the receiver failed to process are not refused; an exact
  // copy of a received delivery is. (Receivers still dedupe processing by the delivery id.)
  // The key is what was verified (the timestamp and the valid signature, or the Ledgix signature),
  // never the header's spelling or the unsigned delivery id, which a replayer could vary at will.
  if (input.replayGuard && !input.replayGuard.check(replayKey, nowMs, tolerance * 1000 * 2)) {
    throw new WebhookVerificationError("replayed", `Delivery ${deliveryId ?? "(no id)"} with this signature was already received`);
  }
  let payload: unknown;
  try {
    payload = JSON.parse(new TextDecoder().decode(raw));
  } catch {
    payload = undefined;
  }
  return { scheme: countersign !== undefined ? "countersign" : "ledgix", ...(timestamp !== undefined ? { timestamp } : {}), ...(deliveryId ? { deliveryId } : {}), payload };
}
