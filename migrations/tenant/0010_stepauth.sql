-- Tenant database: Countersign as a StepAuth authorizer ("hub", docs/stepauth.md). Service
-- providers (senders) are registered with their public keysets; each tenant signs decisions with
-- its own hub keyset; every StepAuth request is kept byte for byte, linked to the clearance request
-- that decides it, with its signed decision and the SP's execution result once they exist.

-- Registered service providers. `entity` is the StepAuth senderId. Removing a sender disables it
-- (disabled_at): its requests stay, and so does the replay state keyed by its entity.
CREATE TABLE stepauth_senders (
  id                text PRIMARY KEY,
  entity            text NOT NULL UNIQUE,
  -- PublicKeyset[] in the wire form ({keysetId, keys: [{idx, alg, pub}]}), verified all-of.
  keysets           jsonb NOT NULL,
  -- Where decisions may be delivered: an exact URL, or a prefix ending in '*'. NULL: poll only.
  callback_pattern  text,
  description       text NOT NULL DEFAULT '',
  disabled_at       timestamptz,
  created_at        timestamptz NOT NULL
);

-- The hub's own identity (its entity, the recipientId SPs address). One row, written on first use.
CREATE TABLE stepauth_settings (
  singleton   boolean PRIMARY KEY DEFAULT true CHECK (singleton),
  entity      text NOT NULL,
  updated_at  timestamptz NOT NULL
);

-- The hub's signing keysets. The private keys are sealed like webhook secrets (the tenant's
-- webhook sealing key, else VAULT_TRANSPORT_KEY_BASE64), bound to the keyset id. A retired keyset
-- is kept: it still signs the decisions of requests submitted under it, and stays published while
-- any of them needs it.
CREATE TABLE stepauth_hub_keysets (
  keyset_id       text PRIMARY KEY,
  sealed_private  text NOT NULL,
  public          jsonb NOT NULL,
  created_at      timestamptz NOT NULL,
  retired_at      timestamptz
);
-- At most one current keyset: two processes generating the first one at once cannot both win.
CREATE UNIQUE INDEX stepauth_hub_keysets_current ON stepauth_hub_keysets ((retired_at IS NULL)) WHERE retired_at IS NULL;

-- One row per accepted AuthorizationRequest. The primary key is the replay state: a requestId is
-- accepted once per sender, and rows are never deleted by the vault.
CREATE TABLE stepauth_requests (
  sender_id             text NOT NULL,
  request_id            text NOT NULL,
  -- NULL between the insert and the clearance submit (a crash there is re-submitted by a sweeper).
  clearance_request_id  text UNIQUE,
  -- The exact payload bytes P the SP signed; request_digest = base64(SHA-256(P)).
  payload               bytea NOT NULL,
  request_digest        text NOT NULL,
  -- Where the decision is delivered (checked against the sender's pattern before every attempt).
  callback_url          text,
  -- The hub keyset current at submit: it signs this request's decision.
  hub_keyset_id         text NOT NULL REFERENCES stepauth_hub_keysets (keyset_id),
  expires_at            timestamptz NOT NULL,
  cancelled_at          timestamptz,
  -- The signed decision, stored once (a conditional UPDATE with its stepauth.decision ledger event).
  decision_payload      bytea,
  decision_envelope     text,
  decision_keyset_id    text,
  -- The SP's ExecutionResult ({status, error, at}), stored once with its stepauth.executed event.
  execution             jsonb,
  created_at            timestamptz NOT NULL,
  PRIMARY KEY (sender_id, request_id)
);
CREATE INDEX stepauth_requests_unlinked ON stepauth_requests (created_at) WHERE clearance_request_id IS NULL;
-- Which retired keysets are still published (requests under them within expiresAt + 24 h).
CREATE INDEX stepauth_requests_keyset ON stepauth_requests (hub_keyset_id, expires_at);

-- The outbox delivers StepAuth callbacks too: the signed decision, POSTed to the request's callback URL.
-- NOT VALID then VALIDATE: the exclusive lock of ADD does not wait for a scan of the outbox.
ALTER TABLE outbox DROP CONSTRAINT outbox_kind_check;
ALTER TABLE outbox ADD CONSTRAINT outbox_kind_check CHECK (kind IN ('webhook', 'slack', 'email', 'callback')) NOT VALID;
ALTER TABLE outbox VALIDATE CONSTRAINT outbox_kind_check;
