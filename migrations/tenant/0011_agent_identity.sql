-- Agent identity (Sigilum profile, src/agents/): the services agents claim access to, the claims,
-- the signature nonces seen, the verified signer of each clearance request, and the webhook format.

CREATE TABLE protected_services (
  slug         text PRIMARY KEY CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$'),
  name         text NOT NULL,
  description  text NOT NULL DEFAULT '',
  created_at   timestamptz NOT NULL
);

-- One row per submission. pending -> approved | rejected, approved -> revoked; rejected and revoked
-- are final, so a new submission of the same (namespace, service, public_key) is a new row, and at
-- most one row of a triple is pending or approved at a time.
CREATE TABLE agent_claims (
  claim_id     text PRIMARY KEY,
  namespace    text NOT NULL,
  service      text NOT NULL REFERENCES protected_services (slug),
  public_key   text NOT NULL,
  status       text NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'revoked')),
  subject      text NOT NULL,
  agent_id     text,
  agent_name   text,
  agent_ip     text NOT NULL DEFAULT '',
  -- The clearance request (kind agent_claim) it is reviewed as; NULL for a claim refused at once by a limit.
  request_id   text,
  approved_at  timestamptz,
  decided_at   timestamptz,
  revoked_at   timestamptz,
  reason       text,
  created_at   timestamptz NOT NULL
);
CREATE UNIQUE INDEX agent_claims_active ON agent_claims (namespace, service, public_key) WHERE status IN ('pending', 'approved');
CREATE UNIQUE INDEX agent_claims_request ON agent_claims (request_id) WHERE request_id IS NOT NULL;
CREATE INDEX agent_claims_key ON agent_claims (namespace, public_key, status);
CREATE INDEX agent_claims_service ON agent_claims (service, status, approved_at, claim_id);
CREATE INDEX agent_claims_listing ON agent_claims (status, created_at);

-- Signature nonces seen within their TTL (600 s), per namespace: a repeat is a replay. Claim-body
-- nonces share the table under 'service:<slug>' (a namespace never contains ':').
CREATE TABLE signature_nonces (
  namespace   text NOT NULL,
  nonce       text NOT NULL,
  expires_at  timestamptz NOT NULL,
  PRIMARY KEY (namespace, nonce)
);
CREATE INDEX signature_nonces_expiry ON signature_nonces (expires_at);

-- The verified signer of a signed /request-clearance (src/tenancy/agent-identity.ts); NULL when unsigned.
ALTER TABLE clearance_requests ADD COLUMN agent_identity jsonb;

-- 'sigilum' endpoints get the agent-claim events in Sigilum's body and signature (docs/agent-identity.md).
ALTER TABLE webhook_endpoints ADD COLUMN format text NOT NULL DEFAULT 'countersign' CHECK (format IN ('countersign', 'sigilum'));
