import { sha256, toBase64, utf8 } from "../encoding.js";
import { parseEnvelope, verifyEnvelope } from "./envelope.js";
import type { PublicKeyset } from "./keyset-types.js";
import { asObject, parseStrictJson } from "./strict-json.js";

/**
 * The hub's signed answer (reference §5). `requestDigest` binds it to the exact request bytes the
 * SP sent, `senderId`/`recipientId` to the two parties, so a decision cannot be replayed to another
 * request, SP or hub. `decision` is only "approved" or "denied".
 */
export interface Decision {
  requestId: string;
  senderId: string;
  recipientId: string;
  decision: "approved" | "denied";
  decidedAt: string;
  decidedBy: string[];
  requestDigest: { algorithm: "sha256"; value: string };
}

/** base64std(SHA-256(the exact request payload bytes)). */
export function requestDigest(requestBytes: Uint8Array): string {
  return toBase64(sha256(requestBytes));
}

/** Compact JSON, members in the order above (the Go SDK's). */
export function encodeDecision(d: Decision): Uint8Array {
  return utf8(
    JSON.stringify({
      requestId: d.requestId,
      senderId: d.senderId,
      recipientId: d.recipientId,
      decision: d.decision,
      decidedAt: d.decidedAt,
      decidedBy: [...d.decidedBy],
      requestDigest: { algorithm: d.requestDigest.algorithm, value: d.requestDigest.value },
    }),
  );
}

export interface DecisionExpectations {
  hubKeysets: readonly PublicKeyset[];
  /** The hub entity recorded when the request was sent (not looked up again now). */
  hubEntity: string;
  spEntity: string;
  requestBytes: Uint8Array;
}

/**
 * The SP's checks, in the reference's order: (1) all-of signature against the hub's keysets,
 * (2) senderId is the hub, (3) recipientId is this SP, (4) requestDigest is sha256 of the request
 * bytes. Any failure is a rejection: the caller must not act. Never throws.
 */
export function verifyDecisionEnvelope(body: string | Uint8Array, expect: DecisionExpectations): { ok: true; decision: Decision } | { ok: false; reason: string } {
  try {
    const parsed = parseEnvelope(body);
    if (!parsed) return { ok: false, reason: "malformed envelope" };
    if (!verifyEnvelope(parsed, expect.hubKeysets)) return { ok: false, reason: "invalid signature" };
    const decision = readDecision(parsed.payload);
    if (!decision) return { ok: false, reason: "malformed decision payload" };
    if (decision.senderId !== expect.hubEntity) return { ok: false, reason: "decision senderId is not the hub the request was sent to" };
    if (decision.recipientId !== expect.spEntity) return { ok: false, reason: "decision recipientId is not this SP" };
    if (decision.requestDigest.algorithm !== "sha256" || decision.requestDigest.value !== requestDigest(expect.requestBytes)) {
      return { ok: false, reason: "decision requestDigest does not match the request bytes" };
    }
    return { ok: true, decision };
  } catch {
    return { ok: false, reason: "malformed decision" };
  }
}

/** The Decision in a payload, when every member has its type and `decision` is approved or denied. */
export function readDecision(payload: Uint8Array): Decision | null {
  const parsed = parseStrictJson(payload);
  const o = parsed.ok ? asObject(parsed.value) : null;
  const digest = o ? asObject(o.requestDigest) : null;
  if (!o || !digest) return null;
  const strings = [o.requestId, o.senderId, o.recipientId, o.decidedAt, digest.algorithm, digest.value];
  if (!strings.every((s) => typeof s === "string")) return null;
  if (o.decision !== "approved" && o.decision !== "denied") return null;
  // A Go hub with nobody to name writes a nil slice as null.
  const decidedBy = o.decidedBy === undefined || o.decidedBy === null ? [] : o.decidedBy;
  if (!Array.isArray(decidedBy) || !decidedBy.every((s) => typeof s === "string")) return null;
  return {
    requestId: o.requestId as string,
    senderId: o.senderId as string,
    recipientId: o.recipientId as string,
    decision: o.decision,
    decidedAt: o.decidedAt as string,
    decidedBy: [...(decidedBy as string[])],
    requestDigest: { algorithm: digest.algorithm as "sha256", value: digest.value as string },
  };
}
