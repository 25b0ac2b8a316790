import { generateAuthenticationOptions } from "@simplewebauthn/server";
import type { PublicKeyCredentialRequestOptionsJSON } from "@simplewebauthn/server";
import type { Sql } from "../db/sql.js";
import { utf8 } from "../ledger/core/bytes.js";
import { sha256 } from "../ledger/core/crypto.js";
import { jcs } from "../ledger/core/jcs.js";
import type { StoredPasskey } from "./passkey-store.js";

/**
 * Enrolment step-up (docs/passkeys.md "Enrolling another passkey"). A reviewer's API key or console
 * session alone must not add a passkey next to the ones they hold: a thief of that key would enrol
 * their own authenticator and then satisfy `require_passkey` with it. So while a reviewer has an
 * active passkey, enrolling another needs a WebAuthn assertion by one of those passkeys over
 *
 *   challenge = SHA-256(JCS({action: "passkey.enrol", reviewer, challenge: <the registration challenge>}))
 *
 * which binds the assertion to this one registration ceremony (single use, 5 minutes, issued to this
 * reviewer): it cannot be replayed for another enrolment, nor made from a vote's assertion (whose
 * challenge commits to a request). Like the vote's, it is recomputed, never stored.
 */
export function enrolmentStepUpChallenge(reviewerId: string, registrationChallenge: string): Uint8Array {
  return sha256(utf8(jcs({ action: "passkey.enrol", reviewer: reviewerId, challenge: registrationChallenge })));
}

/** Request options for the step-up: startAuthentication signs the challenge above with one of `mine`. */
export function stepUpOptions(
  mine: readonly StoredPasskey[],
  reviewerId: string,
  registrationChallenge: string,
  rpId: string,
  timeoutMs: number,
): Promise<PublicKeyCredentialRequestOptionsJSON> {
  return assertionRequestOptions(mine, enrolmentStepUpChallenge(reviewerId, registrationChallenge), rpId, timeoutMs);
}

/** WebAuthn request options over a recomputed challenge (a vote's commitment, or the step-up's), for `mine`, UV required. */
export function assertionRequestOptions(mine: readonly StoredPasskey[], challenge: Uint8Array, rpId: string, timeoutMs: number): Promise<PublicKeyCredentialRequestOptionsJSON> {
  return generateAuthenticationOptions({
    rpID: rpId,
    allowCredentials: mine.map((p) => ({ id: p.credential_id, transports: p.transports as never })),
    challenge: challenge as Uint8Array<ArrayBuffer>,
    timeout: timeoutMs,
    userVerification: "required",
  });
}

/**
 * Serialises the passkey changes of one reviewer (enrolments, removals) until the transaction ends:
 * "has an active passkey" is decided and acted on in one step, so two concurrent first enrolments, or
 * two removals of a reviewer's last two passkeys, cannot both pass the check.
 */
export async function lockReviewerPasskeys(tx: Sql, reviewerId: string): Promise<void> {
  await tx.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`passkeys:${reviewerId}`]);
}
