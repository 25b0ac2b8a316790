import { verifyAuthenticationResponse } from "@simplewebauthn/server";
import type { Clock } from "../clock.js";
import type { WebauthnSettings } from "../config/webauthn-config.js";
import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import { fromBase64, toBase64Url } from "../ledger/core/bytes.js";
import { assertionDigest, type PasskeyChunk } from "../ledger/core/passkey-chunk.js";
import { passkeyCommitment, passkeyCommitmentHex, type PasskeyCommitmentInput } from "../ledger/core/passkey-commitment.js";
import { checkAssertion } from "../ledger/core/webauthn-assertion.js";
import type { AuthenticationResponseBody } from "../requests/passkey-assertion-schema.js";
import type { TokenApproval } from "../tokens/claims.js";
import { lockActiveCredential, recordUse, type StoredPasskey } from "./passkey-store.js";

/** What a verified vote stores (review_decisions.passkey) and puts in its ledger event. */
export interface PasskeyVote {
  passkey_id: string;
  user_handle: string | null;
  chunk: PasskeyChunk;
}

/**
 * Checks a vote's WebAuthn assertion, inside the vote's transaction, against the commitment the
 * vault recomputes from the locked request (never a challenge the client or a store supplies): so an
 * assertion made for another request, another argument hash, policy version or grant cannot pass.
 *
 * Refused (403 passkey_invalid, the detail says which): a credential that is not one of the voter's
 * active passkeys (unknown, removed, or another reviewer's), a user handle that is not the
 * credential's, a signature, challenge, origin, RP ID, type or UP/UV flag @simplewebauthn/server
 * rejects, one the offline verifier would reject (so every approval recorded verifies in a bundle),
 * and a signature counter that does not rise (a replayed assertion, or a cloned authenticator).
 * A refusal writes nothing; an accepted assertion moves the credential's counter in the same transaction.
 */
export class PasskeyVoteVerifier {
  constructor(private readonly deps: { clock: Clock; settings: WebauthnSettings }) {}

  /**
   * The checks every assertion of a voter gets, against `challenge` (a vote's commitment, or an
   * enrolment step-up's: passkey-step-up.ts): one of the voter's active credentials, user handle,
   * both verifiers, and a rising counter, stored in `tx`. Used by the vote and by enrolment.
   */
  async check(
    tx: Sql,
    voterId: string,
    assertion: AuthenticationResponseBody,
    challenge: Uint8Array,
  ): Promise<{ credential: StoredPasskey; bytes: { authenticator: Uint8Array; client: Uint8Array; signature: Uint8Array } } | { refusal: AppError }> {
    const refuse = (why: string) => ({ refusal: new AppError("passkey_invalid", `The passkey signature was refused: ${why}`) });
    const bytes = {
      authenticator: fromBase64(assertion.response.authenticatorData),
      client: fromBase64(assertion.response.clientDataJSON),
      signature: fromBase64(assertion.response.signature),
      rawId: fromBase64(assertion.rawId),
    };
    if (!bytes.authenticator || !bytes.client || !bytes.signature || !bytes.rawId) return refuse("a member is not base64url");
    if (toBase64Url(bytes.rawId) !== assertion.id) return refuse("id and rawId differ");
    const credential = await lockActiveCredential(tx, assertion.id);
    if (!credential) return refuse("the credential is not an enrolled passkey of this tenant (unknown or removed)");
    if (credential.reviewer_id !== voterId) return refuse("the credential is enrolled to another reviewer");
    if (assertion.response.userHandle !== undefined && assertion.response.userHandle !== credential.user_handle) return refuse("the user handle is not the credential's");
    const offline = checkAssertion({
      publicKeyCose: fromBase64(credential.public_key_cose)!,
      authenticatorData: bytes.authenticator,
      clientDataJSON: bytes.client,
      signature: bytes.signature,
      challenge,
      rpId: this.deps.settings.rpId,
    });
    if (!offline.ok) return refuse(offline.problems.join("; "));
    let newCounter: number;
    try {
      const result = await verifyAuthenticationResponse({
        response: assertion,
        expectedChallenge: toBase64Url(challenge),
        expectedOrigin: this.deps.settings.origins,
        expectedRPID: this.deps.settings.rpId,
        expectedType: "webauthn.get",
        credential: { id: credential.credential_id, publicKey: fromBase64(credential.public_key_cose)! as Uint8Array<ArrayBuffer>, counter: Number(credential.sign_count), transports: credential.transports as never },
        requireUserVerification: true,
      });
      if (!result.verified) return refuse("the assertion does not verify");
      newCounter = result.authenticationInfo.newCounter;
    } catch (err) {
      return refuse(err instanceof Error ? err.message : String(err));
    }
    if (!(await recordUse(tx, credential.id, newCounter, this.deps.clock.now()))) {
      return refuse(`the signature counter did not rise (stored ${credential.sign_count}, signed ${newCounter}): a replayed assertion or a cloned authenticator`);
    }
    return { credential, bytes: { authenticator: bytes.authenticator, client: bytes.client, signature: bytes.signature } };
  }

  async verify(tx: Sql, voterId: string, assertion: AuthenticationResponseBody, commitment: PasskeyCommitmentInput): Promise<{ vote: PasskeyVote } | { refusal: AppError }> {
    const checked = await this.check(tx, voterId, assertion, passkeyCommitment(commitment));
    if ("refusal" in checked) return checked;
    const { credential, bytes } = checked;
    const chunk: PasskeyChunk = {
      type: "passkey",
      credential: credential.credential_id,
      enrolment: credential.enrolment_event_uuid,
      reviewer: voterId,
      authenticator: toBase64Url(bytes.authenticator),
      client: toBase64Url(bytes.client),
      signature: toBase64Url(bytes.signature),
      commitment: passkeyCommitmentHex(commitment),
      argshash: commitment.tool_args_hash,
      policyversion: commitment.policy_version_id ?? "",
    };
    if (commitment.grant) chunk.grant = { scope: commitment.grant.scope, window: commitment.grant.window_minutes ?? null, constraint: commitment.grant.constraint ?? null };
    return { vote: { passkey_id: credential.id, user_handle: assertion.response.userHandle ?? null, chunk } };
  }
}

/** The token's `approvals` claim for the approving votes' chunks. */
export function tokenApprovals(chunks: readonly PasskeyChunk[]): TokenApproval[] {
  return chunks.map((c) => ({ credential_id: c.credential, assertion_digest: assertionDigest(c) }));
}
