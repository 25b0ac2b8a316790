import { ed25519 } from "@noble/curves/ed25519.js";
import { ml_dsa65 } from "@noble/post-quantum/ml-dsa.js";
import { ed25519Verify } from "../ed25519.js";
import { fromBase64Strict, toBase64 } from "../encoding.js";
import { hasKeysetShape, KEY_LENGTHS, type PrivateKeyset, type PublicKeyset } from "./keyset-types.js";
import { asObject, parseStrictJson } from "./strict-json.js";

/**
 * The signed envelope every StepAuth message travels in (reference §1):
 * `{"payload": base64(P), "signature": {"keysetId", "signatures": [one per key, in idx order]}}`.
 * Signatures cover exactly the bytes P: no canonical form, no prefix. Verifiers use the decoded
 * bytes as they are and never re-serialise.
 */
export interface Envelope {
  payload: string;
  signature: { keysetId: string; signatures: string[] };
}

export interface ParsedEnvelope {
  envelope: Envelope;
  payload: Uint8Array;
}

/** Bound on an envelope's text; the payload inside is at most about 3/4 of it. */
export const MAX_ENVELOPE_BYTES = 1024 * 1024;
// A keyset has at most two components; a few more signatures are still only a shape error.
const MAX_SIGNATURES = 8;

export function signEnvelope(payload: Uint8Array, keyset: PrivateKeyset): Envelope {
  const signatures = keyset.keys.map((key) =>
    // ML-DSA deterministically (as the TypeScript SDK signs): a retry of the same bytes is the same envelope.
    toBase64(key.alg === "ed25519" ? ed25519.sign(payload, key.secretKey) : ml_dsa65.sign(payload, key.secretKey, { extraEntropy: false })),
  );
  return { payload: toBase64(payload), signature: { keysetId: keyset.keysetId, signatures } };
}

export function encodeEnvelope(e: Envelope): string {
  return JSON.stringify({ payload: e.payload, signature: { keysetId: e.signature.keysetId, signatures: e.signature.signatures } });
}

/**
 * Strict: a JSON object with `payload` (canonical standard base64) and `signature` {keysetId,
 * signatures: string[]}, well-formed UTF-8, no member named twice; other members are ignored.
 * Null for anything else, never a throw.
 */
export function parseEnvelope(body: string | Uint8Array): ParsedEnvelope | null {
  if (typeof body === "string" ? body.length > MAX_ENVELOPE_BYTES : !(body instanceof Uint8Array) || body.length > MAX_ENVELOPE_BYTES) return null;
  const parsed = parseStrictJson(body);
  const o = parsed.ok ? asObject(parsed.value) : null;
  const sig = o ? asObject(o.signature) : null;
  if (!o || !sig || typeof o.payload !== "string" || typeof sig.keysetId !== "string") return null;
  const signatures = sig.signatures;
  if (!Array.isArray(signatures) || signatures.length > MAX_SIGNATURES || !signatures.every((s) => typeof s === "string")) return null;
  const payload = fromBase64Strict(o.payload);
  if (!payload) return null;
  return { envelope: { payload: o.payload, signature: { keysetId: sig.keysetId, signatures: [...(signatures as string[])] } }, payload };
}

/**
 * All-of against the keyset named by `signature.keysetId` among `keysets`: the keyset has an allowed
 * shape, there is exactly one signature per key, and every one verifies over the payload bytes.
 * One `false` for every cause (an attacker learns nothing from which check failed); never throws.
 */
export function verifyEnvelope(parsed: ParsedEnvelope, keysets: readonly PublicKeyset[]): boolean {
  const stages = verifyEnvelopeInStages(parsed, keysets);
  return stages.ed25519 && stages.rest();
}

/**
 * verifyEnvelope in two steps, for a verifier that spends something between them (a hub charges
 * the sender's rate only for envelopes that are not forgeries): `ed25519` is the shape, the payload
 * binding and the Ed25519 component (the cheap check); `rest()` verifies the remaining components
 * (ML-DSA-65, milliseconds) and is true only if `ed25519` is. Both together are verifyEnvelope.
 */
export function verifyEnvelopeInStages(parsed: ParsedEnvelope, keysets: readonly PublicKeyset[]): { ed25519: boolean; rest(): boolean } {
  const refused = { ed25519: false, rest: () => false };
  try {
    const keyset = keysets.find((k) => k.keysetId === parsed.envelope.signature.keysetId);
    const signatures = parsed.envelope.signature.signatures;
    if (!keyset || !hasKeysetShape(keyset.keys) || signatures.length !== keyset.keys.length) return refused;
    // The payload as signed is the base64 in the envelope; re-decode it so a caller cannot pair an
    // envelope with other bytes.
    const payload = fromBase64Strict(parsed.envelope.payload);
    if (!payload || !sameBytes(payload, parsed.payload)) return refused;
    // Ed25519 first (every allowed shape starts with it): a forged envelope costs no ML-DSA verification.
    const [first, ...others] = keyset.keys;
    if (!verifyComponent(first!.alg, first!.pub, payload, signatures[0]!)) return refused;
    const rest = () => {
      try {
        return others.every((key, i) => verifyComponent(key.alg, key.pub, payload, signatures[i + 1]!));
      } catch {
        return false;
      }
    };
    return { ed25519: true, rest };
  } catch {
    return refused;
  }
}

function verifyComponent(alg: string, pubB64: string, payload: Uint8Array, sigB64: string): boolean {
  const pub = fromBase64Strict(pubB64);
  const sig = fromBase64Strict(sigB64);
  if (!pub || !sig) return false;
  if (alg === "ed25519") {
    const want = KEY_LENGTHS.ed25519;
    return pub.length === want.publicKey && sig.length === want.signature && ed25519Verify(sig, payload, pub);
  }
  if (alg === "ml-dsa-65") {
    const want = KEY_LENGTHS["ml-dsa-65"];
    return pub.length === want.publicKey && sig.length === want.signature && ml_dsa65.verify(sig, payload, pub);
  }
  return false;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (!(b instanceof Uint8Array) || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
