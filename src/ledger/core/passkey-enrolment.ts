import { auditRecordOf } from "./audit-record.js";
import type { JsonObject } from "./event-hash.js";

/**
 * The details of a `vault.audit` `passkey.enrolled` event: the credential's public key as the
 * authenticator attested it at enrolment, bound to the reviewer it was enrolled to and the RP ID it
 * works for. An auditor verifies a recorded assertion with this key, and the key's own event is
 * proven in the log, so a key swapped in later cannot make a forged assertion verify.
 */
export interface PasskeyEnrolmentDetails {
  reviewer_id: string;
  /** base64url credential id. */
  credential_id: string;
  /** base64url COSE_Key. */
  public_key_cose: string;
  /** -7 (ES256) or -8 (EdDSA). */
  alg: number;
  aaguid: string;
  rp_id: string;
}

/**
 * The event's details (its tool_args). Keys are one lowercase word: Ledgix SDKs camelCase tool_args
 * keys before hashing (audit-event.ts), so `reviewer_id` would not survive their check.
 */
export function passkeyEnrolmentJson(d: PasskeyEnrolmentDetails): JsonObject {
  return { reviewer: d.reviewer_id, credential: d.credential_id, publickey: d.public_key_cose, alg: d.alg, aaguid: d.aaguid, rpid: d.rp_id };
}

/**
 * The enrolment an event records, or a reason it records none. The caller checks the event's type
 * code (vault.audit, committed to by its event_uuid) first: the layout alone proves nothing.
 */
export function passkeyEnrolmentOf(event: Parameters<typeof auditRecordOf>[0]): { ok: true; enrolment: PasskeyEnrolmentDetails; subject: string } | { ok: false; problem: string } {
  const record = auditRecordOf(event);
  if (!record) return { ok: false, problem: "it is not a well-formed audit event" };
  if (record.action !== "passkey.enrolled") return { ok: false, problem: `it records ${record.action}, not passkey.enrolled` };
  const d = record.details;
  const texts = [d.reviewer, d.credential, d.publickey, d.aaguid, d.rpid];
  if (!texts.every((t) => typeof t === "string") || typeof d.alg !== "number") return { ok: false, problem: "its details lack the enrolment fields" };
  return {
    ok: true,
    subject: record.subject_id,
    enrolment: {
      reviewer_id: d.reviewer as string,
      credential_id: d.credential as string,
      public_key_cose: d.publickey as string,
      alg: d.alg,
      aaguid: d.aaguid as string,
      rp_id: d.rpid as string,
    },
  };
}
