import { createHash } from "node:crypto";
import { generateRegistrationOptions, verifyRegistrationResponse } from "@simplewebauthn/server";
import type { PublicKeyCredentialCreationOptionsJSON, PublicKeyCredentialRequestOptionsJSON } from "@simplewebauthn/server";
import type { Clock } from "../clock.js";
import type { WebauthnSettings } from "../config/webauthn-config.js";
import { sqlState, UNIQUE_VIOLATION, type Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import { fromBase64, toBase64Url } from "../ledger/core/bytes.js";
import { passkeyCommitment, type PasskeyCommitmentInput } from "../ledger/core/passkey-commitment.js";
import { passkeyEnrolmentJson } from "../ledger/core/passkey-enrolment.js";
import { COSE_EDDSA, COSE_ES256, parseCoseKey } from "../ledger/core/webauthn-assertion.js";
import type { LedgerWriter } from "../ledger/store/ledger-writer.js";
import type { AuthenticationResponseBody, RegistrationResponseBody } from "../requests/passkey-assertion-schema.js";
import type { Principal, ReviewerIdentity } from "../tenancy/api-keys.js";
import { newId } from "../tenancy/ids.js";
import { voterOf } from "../tenancy/reviewers.js";
import { PasskeyVoteVerifier, type PasskeyVote } from "./passkey-vote.js";
import { assertionRequestOptions, enrolmentStepUpChallenge, lockReviewerPasskeys, stepUpOptions } from "./passkey-step-up.js";
import { activePasskeyById, activePasskeys, credentialEnrolled, insertPasskey, markRemoved, storeChallenge, takeChallenge, type StoredPasskey } from "./passkey-store.js";

/** WebAuthn ceremonies may take this long: a person finds a key, types a PIN. */
const CEREMONY_MS = 5 * 60_000;
/** The only algorithms enrolled: the offline verifier implements exactly these (ledger/core/webauthn-assertion.ts). */
export const PASSKEY_ALGORITHMS = [COSE_EDDSA, COSE_ES256];

/**
 * Tells the tenant at once, in the transaction of the change (the outbox's `passkey.enrolled` /
 * `passkey.removed` webhooks, wired in main/services.ts: passkeys sits below the outbox). A passkey
 * enrolled with a stolen reviewer key is then visible to whoever watches the tenant's webhooks.
 */
export type PasskeyAnnounce = (tx: Sql, tenantId: string, type: "passkey.enrolled" | "passkey.removed", data: Record<string, unknown>) => Promise<void>;

/** Registration options, and the step-up the enrolment needs when the reviewer already has a passkey (null for a first one). */
export type RegistrationOptions = PublicKeyCredentialCreationOptionsJSON & { step_up: PublicKeyCredentialRequestOptionsJSON | null };

/** A passkey as the API shows it: never the public key's bytes (they are in its ledger event). */
export interface PasskeyView {
  id: string;
  reviewer_id: string;
  credential_id: string;
  label: string;
  alg: number;
  aaguid: string;
  transports: string[];
  sign_count: number;
  created_at: string;
  last_used_at: string | null;
  enrolment_event_uuid: string;
}

export const passkeyView = (p: StoredPasskey): PasskeyView => ({
  id: p.id,
  reviewer_id: p.reviewer_id,
  credential_id: p.credential_id,
  label: p.label,
  alg: p.alg,
  aaguid: p.aaguid,
  transports: p.transports,
  sign_count: Number(p.sign_count),
  created_at: new Date(p.created_at).toISOString(),
  last_used_at: p.last_used_at ? new Date(p.last_used_at).toISOString() : null,
  enrolment_event_uuid: p.enrolment_event_uuid,
});

/**
 * Reviewers' passkeys: enrolment (WebAuthn registration, attestation "none", user verification
 * required, ES256 or EdDSA only), listing, removal, and the assertion options of an approval. Every
 * enrolment and removal is a `vault.audit` ledger event written in the transaction of the change, so
 * the public key an auditor checks an assertion with is itself in the log. Checking a vote's assertion
 * is passkey-vote.ts's. A passkey belongs to the voter (tenancy/reviewers.ts voterOf): the reviewer
 * behind a key or console session, or the key itself for a key with no reviewer identity.
 */
export class PasskeyService {
  private readonly votes: PasskeyVoteVerifier;

  constructor(
    private readonly deps: {
      ledger: LedgerWriter;
      clock: Clock;
      settings: WebauthnSettings;
      announce: PasskeyAnnounce;
    },
  ) {
    this.votes = new PasskeyVoteVerifier({ clock: deps.clock, settings: deps.settings });
  }

  /** Checks a vote's assertion inside the vote's transaction (passkey-vote.ts). */
  verifyVote(tx: Sql, voterId: string, assertion: AuthenticationResponseBody, commitment: PasskeyCommitmentInput): Promise<{ vote: PasskeyVote } | { refusal: AppError }> {
    return this.votes.verify(tx, voterId, assertion, commitment);
  }

  /** Whether the voter has any passkey (to say why an approval without one is refused). */
  async hasPasskey(sql: Sql, voterId: string): Promise<boolean> {
    return (await activePasskeys(sql, voterId)).length > 0;
  }

  get settings(): WebauthnSettings {
    return this.deps.settings;
  }

  async registrationOptions(sql: Sql, principal: Principal): Promise<RegistrationOptions> {
    const voter = voterOf(principal);
    const userHandle = userHandleOf(principal.tenantId, voter);
    const existing = await activePasskeys(sql, voter.id);
    const options = await generateRegistrationOptions({
      rpName: this.deps.settings.rpName,
      rpID: this.deps.settings.rpId,
      userName: voter.email || voter.name,
      userDisplayName: voter.name,
      userID: fromBase64(userHandle)! as Uint8Array<ArrayBuffer>,
      timeout: CEREMONY_MS,
      attestationType: "none",
      excludeCredentials: existing.map((p) => ({ id: p.credential_id, transports: p.transports })),
      authenticatorSelection: { residentKey: "preferred", userVerification: "required" },
      supportedAlgorithmIDs: PASSKEY_ALGORITHMS,
    });
    const now = this.deps.clock.now();
    await storeChallenge(sql, { challenge: options.challenge, reviewer_id: voter.id, user_handle: userHandle, created_at: now, expires_at: new Date(now.getTime() + CEREMONY_MS) });
    // A convenience only: register decides again, under the reviewer's lock, whether a step-up is needed.
    const step_up = existing.length > 0 ? await stepUpOptions(existing, voter.id, options.challenge, this.deps.settings.rpId, CEREMONY_MS) : null;
    return { ...options, step_up };
  }

  /**
   * Verifies a registration against one of the voter's outstanding challenges (used up either way) and
   * enrols the credential. While the voter has an active passkey, `assertion` must be a step-up by one
   * of them over this ceremony (passkey-step-up.ts): 403 passkey_step_up_required without one, 403
   * passkey_invalid for one that does not verify. A first passkey is trust on first use.
   */
  async register(
    sql: Sql,
    principal: Principal,
    body: { response: RegistrationResponseBody; label?: string; assertion?: AuthenticationResponseBody | undefined },
  ): Promise<PasskeyView & { ledger_event_uuid: string }> {
    const voter = voterOf(principal);
    const challenge = challengeOf(body.response.response.clientDataJSON);
    const now = this.deps.clock.now();
    const taken = challenge ? await takeChallenge(sql, voter.id, challenge, now) : undefined;
    if (!challenge || !taken) throw invalid("its challenge is not one this vault issued to you in the last 5 minutes (or it was used already)");
    let verified;
    try {
      verified = await verifyRegistrationResponse({
        response: body.response,
        expectedChallenge: challenge,
        expectedOrigin: this.deps.settings.origins,
        expectedRPID: this.deps.settings.rpId,
        requireUserVerification: true,
        supportedAlgorithmIDs: PASSKEY_ALGORITHMS,
      });
    } catch (err) {
      throw invalid(err instanceof Error ? err.message : String(err));
    }
    if (!verified.verified) throw invalid("the attestation does not verify");
    const { credential, aaguid } = verified.registrationInfo;
    // The offline verifier must be able to read the key: parse it with the same code an auditor runs.
    const key = parseCoseKey(credential.publicKey);
    if (!key.ok) throw invalid(key.problem);
    const passkey: StoredPasskey = {
      id: newId("pk"),
      reviewer_id: voter.id,
      credential_id: credential.id,
      public_key_cose: toBase64Url(credential.publicKey),
      alg: key.value.alg,
      sign_count: credential.counter,
      transports: (body.response.response.transports ?? []).slice(0, 10),
      aaguid,
      label: body.label ?? "",
      user_handle: taken.user_handle,
      enrolment_event_uuid: "",
      created_at: now,
      last_used_at: null,
    };
    const prepared = await this.deps.ledger.prepareAudit(
      {
        action: "passkey.enrolled",
        subject_id: passkey.id,
        actor: voter.id,
        details: passkeyEnrolmentJson({ reviewer_id: voter.id, credential_id: passkey.credential_id, public_key_cose: passkey.public_key_cose, alg: passkey.alg, aaguid, rp_id: this.deps.settings.rpId }),
        reason: `${voter.name} enrolled a passkey${passkey.label ? ` (${passkey.label})` : ""}`,
      },
      principal.tenantId,
    );
    passkey.enrolment_event_uuid = prepared.event.event_uuid;
    try {
      await sql.transaction(async (tx) => {
        // Authorisation first, and decided under the reviewer's lock: nothing else is said to a caller without it.
        await lockReviewerPasskeys(tx, voter.id);
        const stepUp = await this.stepUp(tx, voter, challenge, body.assertion);
        if (await credentialEnrolled(tx, credential.id, voter.id)) throw new AppError("passkey_exists", "This passkey is already enrolled (or was, to another reviewer)");
        await insertPasskey(tx, passkey);
        await this.deps.ledger.append(tx, prepared);
        await this.deps.announce(tx, principal.tenantId, "passkey.enrolled", {
          passkey: passkeyView(passkey),
          enrolled_by: { id: voter.id, name: voter.name },
          // Which existing passkey authorised it; null: the reviewer's first (trust on first use).
          step_up: stepUp ? { passkey_id: stepUp.id, credential_id: stepUp.credential_id } : null,
          ledger_event_uuid: passkey.enrolment_event_uuid,
        });
      });
    } catch (err) {
      if (sqlState(err) === UNIQUE_VIOLATION) throw new AppError("passkey_exists", "This passkey is already enrolled");
      throw err;
    }
    return { ...passkeyView(passkey), ledger_event_uuid: passkey.enrolment_event_uuid };
  }

  /** The voter's own passkeys; an admin may name another reviewer. */
  async list(sql: Sql, principal: Principal, reviewerId?: string): Promise<PasskeyView[]> {
    const own = voterOf(principal).id;
    if (reviewerId !== undefined && reviewerId !== own && principal.scope !== "admin") {
      throw new AppError("insufficient_scope", "Only an admin key may list another reviewer's passkeys");
    }
    return (await activePasskeys(sql, reviewerId ?? own)).map(passkeyView);
  }

  /** Removes one of the voter's passkeys (an admin: anyone's in the tenant), with its `passkey.removed` event. */
  async remove(sql: Sql, principal: Principal, id: string): Promise<{ id: string; removed_at: string; ledger_event_uuid: string }> {
    const voter = voterOf(principal);
    const passkey = await activePasskeyById(sql, id);
    // Another reviewer's passkey reads as unknown: ids are not to be probed.
    if (!passkey || (passkey.reviewer_id !== voter.id && principal.scope !== "admin")) throw new AppError("passkey_not_found", `No passkey ${id} of yours`);
    const prepared = await this.deps.ledger.prepareAudit(
      {
        action: "passkey.removed",
        subject_id: passkey.id,
        actor: voter.id,
        details: { reviewer: passkey.reviewer_id, credential: passkey.credential_id, enrolment: passkey.enrolment_event_uuid },
        reason: passkey.reviewer_id === voter.id ? `${voter.name} removed a passkey` : `${voter.name} removed a passkey of reviewer ${passkey.reviewer_id}`,
      },
      principal.tenantId,
    );
    const now = this.deps.clock.now();
    const removed = await sql.transaction(async (tx) => {
      await lockReviewerPasskeys(tx, passkey.reviewer_id);
      // Removing one's own last passkey would make the next enrolment a first one, with no step-up: a
      // stolen reviewer key could remove, then enrol its own. Only an admin does that (lost passkey).
      if (principal.scope !== "admin" && (await activePasskeys(tx, passkey.reviewer_id)).every((p) => p.id === passkey.id)) {
        throw new AppError(
          "passkey_last_removal_forbidden",
          "This is your last passkey: an admin removes it (DELETE /passkeys/{id} with an admin key), after which you enrol a new one. Enrol the new one first to replace it yourself.",
        );
      }
      if (!(await markRemoved(tx, passkey.id, now, prepared.event.event_uuid))) return false;
      await this.deps.ledger.append(tx, prepared);
      await this.deps.announce(tx, principal.tenantId, "passkey.removed", {
        passkey: { ...passkeyView(passkey), removed_at: now.toISOString() },
        removed_by: { id: voter.id, name: voter.name, admin: passkey.reviewer_id !== voter.id || principal.scope === "admin" },
        ledger_event_uuid: prepared.event.event_uuid,
      });
      return true;
    });
    if (!removed) throw new AppError("passkey_not_found", `No passkey ${id} of yours`);
    return { id: passkey.id, removed_at: now.toISOString(), ledger_event_uuid: prepared.event.event_uuid };
  }

  /** The step-up an enrolment needs (see register): the passkey that signed it, or undefined for a first passkey. */
  private async stepUp(tx: Sql, voter: ReviewerIdentity, registrationChallenge: string, assertion: AuthenticationResponseBody | undefined): Promise<StoredPasskey | undefined> {
    if ((await activePasskeys(tx, voter.id)).length === 0) return undefined;
    if (!assertion) {
      throw new AppError(
        "passkey_step_up_required",
        `${voter.name} already has a passkey: enrolling another needs an assertion by one of them (send the result of startAuthentication with the options' step_up as "assertion")`,
      );
    }
    const checked = await this.votes.check(tx, voter.id, assertion, enrolmentStepUpChallenge(voter.id, registrationChallenge));
    if ("refusal" in checked) throw checked.refusal;
    return checked.credential;
  }

  /** The options a browser signs an approval with: the challenge is the commitment (never stored: the vote recomputes it). */
  async assertionOptions(sql: Sql, principal: Principal, commitment: PasskeyCommitmentInput): Promise<PublicKeyCredentialRequestOptionsJSON> {
    const voter = voterOf(principal);
    const mine = await activePasskeys(sql, voter.id);
    if (mine.length === 0) throw new AppError("passkey_not_enrolled", `${voter.name} has no passkey enrolled: enrol one first (approvals of this request need one; a deny does not)`);
    return assertionRequestOptions(mine, passkeyCommitment(commitment), this.deps.settings.rpId, CEREMONY_MS);
  }
}

/** An opaque, stable WebAuthn user.id: never the email (authenticators may show or sync it). */
function userHandleOf(tenantId: string, voter: ReviewerIdentity): string {
  return createHash("sha256").update(`countersign passkey user\0${tenantId}\0${voter.id}`).digest("base64url");
}

/** The challenge a clientDataJSON carries, if it parses. */
function challengeOf(clientDataJSON: string): string | undefined {
  const bytes = fromBase64(clientDataJSON);
  if (!bytes) return undefined;
  try {
    const data = JSON.parse(new TextDecoder().decode(bytes)) as { challenge?: unknown };
    return typeof data.challenge === "string" && data.challenge.length <= 256 ? data.challenge : undefined;
  } catch {
    return undefined;
  }
}

const invalid = (why: string) => new AppError("passkey_registration_invalid", `The passkey registration does not verify: ${why}`);
