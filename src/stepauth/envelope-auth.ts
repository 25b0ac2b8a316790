import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import type { StepAuthErrorCode } from "../protocols/stepauth/errors.js";
import { parseEnvelope, verifyEnvelopeInStages, type ParsedEnvelope } from "../protocols/stepauth/envelope.js";
import { isValidId } from "../protocols/stepauth/wire-rules.js";
import { enabledSenderByEntity, type StepAuthSender } from "./sender-store.js";

/** A verified envelope: its payload bytes, and the registered sender whose keyset signed them. */
export interface AuthenticatedEnvelope {
  sender: StepAuthSender;
  payload: Uint8Array;
}

/**
 * The first steps of every StepAuth message, in the reference's order: parse the envelope and
 * decode its payload (malformed_request), read the sender from the payload without trusting it
 * (`peek`), find it among the tenant's enabled senders (401 unknown_sender; an id no registration
 * can have, not 1-256 printable ASCII, is unknown without a lookup), then verify all-of against
 * that sender's keysets (401 invalid_signature, one answer for every cause). The Ed25519 component
 * is verified first and `beforePostQuantum` (the route's rate limit) runs before the ML-DSA-65 one:
 * a forgery in a registered sender's name costs one Ed25519 verification and none of that sender's
 * rate (an entity is no secret: charging forgeries to it would let anyone keep an SP at 503), and a
 * sender over its rate costs no ML-DSA verification.
 */
export async function authenticateEnvelope(
  sql: Sql,
  body: Uint8Array | undefined,
  peek: (payload: Uint8Array) => string | null,
  beforePostQuantum: (sender: StepAuthSender) => void = () => {},
): Promise<AuthenticatedEnvelope> {
  const parsed: ParsedEnvelope | null = body instanceof Uint8Array ? parseEnvelope(body) : null;
  if (!parsed) throw new AppError("malformed_request", "The body is not a StepAuth envelope {payload, signature: {keysetId, signatures}} with a standard base64 payload");
  const senderId = peek(parsed.payload);
  if (senderId === null) {
    throw new AppError("malformed_request", "The payload is not strict JSON (UTF-8, unique member names, no NUL or lone surrogate) with a string senderId");
  }
  // Only an id a registration can hold is looked up: no odd text reaches the database.
  const sender = isValidId(senderId) ? await enabledSenderByEntity(sql, senderId) : undefined;
  if (!sender) throw new AppError("unknown_sender", "This sender is not registered with this hub");
  const invalid = () => new AppError("invalid_signature", "The envelope's signatures do not verify against the sender's registered keysets");
  const verification = verifyEnvelopeInStages(parsed, sender.keysets);
  if (!verification.ed25519) throw invalid();
  beforePostQuantum(sender);
  if (!verification.rest()) throw invalid();
  return { sender, payload: parsed.payload };
}

/** A protocol check's failure as the error answer (the codes are in src/errors.ts under the same names). */
export function stepAuthError(code: StepAuthErrorCode, message: string): AppError {
  return new AppError(code, message);
}
