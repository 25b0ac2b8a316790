-- Passkey-signed approvals (issue 17, src/passkeys/, docs/passkeys.md): the WebAuthn credentials
-- reviewers enrolled, the single-use registration challenges, and the assertion stored with each vote.

-- One row per enrolment. A removal keeps the row (removed_at, and its ledger event) so that the
-- assertions already recorded still name a known credential; a removed credential never verifies again.
CREATE TABLE passkey_credentials (
  id                    text PRIMARY KEY,
  -- The voter it belongs to: the reviewer identity behind the key or session (tenancy/reviewers.ts voterOf).
  reviewer_id           text NOT NULL,
  -- base64url of the WebAuthn credential id, as authenticators and browsers send it.
  credential_id         text NOT NULL,
  -- base64url of the COSE_Key (RFC 9052 §7) the authenticator attested: what every assertion is checked with.
  public_key_cose       text NOT NULL,
  -- COSE algorithm: ES256 (-7) or EdDSA (-8), the two the offline verifier implements.
  alg                   integer NOT NULL CHECK (alg IN (-7, -8)),
  -- The authenticator's signature counter: an assertion must raise it unless it stays 0 (counterless authenticators).
  sign_count            bigint NOT NULL DEFAULT 0 CHECK (sign_count >= 0),
  transports            text[] NOT NULL DEFAULT '{}',
  aaguid                text NOT NULL DEFAULT '',
  label                 text NOT NULL DEFAULT '',
  -- base64url of the WebAuthn user.id given at registration (an opaque hash, never the email).
  user_handle           text NOT NULL,
  -- The vault.audit passkey.enrolled event that committed the public key: assertions' chunks name it.
  enrolment_event_uuid  text NOT NULL,
  created_at            timestamptz NOT NULL,
  last_used_at          timestamptz,
  removed_at            timestamptz,
  removal_event_uuid    text
);
-- A credential is enrolled once at a time, whoever holds it.
CREATE UNIQUE INDEX passkey_credentials_active ON passkey_credentials (credential_id) WHERE removed_at IS NULL;
CREATE INDEX passkey_credentials_reviewer ON passkey_credentials (reviewer_id) WHERE removed_at IS NULL;

-- A registration challenge is used once and lives 5 minutes; the register call deletes the row it uses.
CREATE TABLE passkey_challenges (
  challenge    text PRIMARY KEY,
  reviewer_id  text NOT NULL,
  user_handle  text NOT NULL,
  created_at   timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL
);
CREATE INDEX passkey_challenges_reviewer ON passkey_challenges (reviewer_id, created_at);

-- The vote's WebAuthn assertion and the evidence chunk its ledger event carries (src/passkeys/passkey-chunk.ts);
-- NULL for a vote without one.
ALTER TABLE review_decisions ADD COLUMN passkey jsonb;
