-- Tenant database: this tenant's policies, clearance requests, decisions and tokens.
CREATE TABLE policies (
  policy_id           text PRIMARY KEY,
  current_version_id  text NOT NULL,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE policy_versions (
  id            text PRIMARY KEY,
  policy_id     text NOT NULL,
  version       integer NOT NULL,
  -- The canonical policy document (RFC 8785 text); content_hash = sha256 of exactly these bytes.
  content       text NOT NULL,
  content_hash  text NOT NULL,
  tools         text[] NOT NULL,
  created_at    timestamptz NOT NULL DEFAULT now(),
  UNIQUE (policy_id, version)
);

CREATE TABLE clearance_requests (
  id                   text PRIMARY KEY,
  -- 'clearance' for /request-clearance, 'mint' for /mint-token re-issues of a remembered approval.
  kind                 text NOT NULL DEFAULT 'clearance',
  idempotency_key      text UNIQUE,
  body_hash            text NOT NULL,
  api_key_id           text NOT NULL,
  tool_name            text NOT NULL,
  -- json (not jsonb) keeps the arguments exactly as received, for hashing and audit.
  tool_args            json NOT NULL,
  tool_args_hash       text NOT NULL,
  agent_id             text NOT NULL,
  session_id           text NOT NULL,
  human_principal      text,
  parent_jti           text,
  context              json NOT NULL,
  extras               json NOT NULL,
  status               text NOT NULL CHECK (status IN ('processing', 'pending_review', 'approved', 'denied')),
  decision_status      text,
  reason               text NOT NULL DEFAULT '',
  reason_code          text,
  confidence_bucket    text NOT NULL DEFAULT 'none',
  policy_id            text,
  policy_version_id    text,
  policy_content_hash  text,
  -- Every (policy_id, version_id) that applied, so a remembered approval can be checked later.
  applied_policies     json NOT NULL DEFAULT '[]',
  matched_condition_ids text[] NOT NULL DEFAULT '{}',
  original_request_id  text,
  attempts             integer NOT NULL DEFAULT 0,
  created_at           timestamptz NOT NULL DEFAULT now(),
  decided_at           timestamptz
);
-- Start-up recovery scans only the unfinished requests.
CREATE INDEX clearance_requests_processing ON clearance_requests (created_at) WHERE status = 'processing';

CREATE TABLE issued_tokens (
  jti          text PRIMARY KEY,
  request_id   text NOT NULL REFERENCES clearance_requests(id),
  kid          text NOT NULL,
  -- The exact claims JSON that was signed. Ed25519 is deterministic, so the token is re-derived
  -- on read and no bearer token is ever stored.
  claims       text NOT NULL,
  issued_at    timestamptz NOT NULL,
  expires_at   timestamptz NOT NULL,
  consumed_at  timestamptz,
  consumed_by  text
);
CREATE UNIQUE INDEX issued_tokens_request ON issued_tokens (request_id);

CREATE TABLE review_decisions (
  id           text PRIMARY KEY,
  request_id   text NOT NULL REFERENCES clearance_requests(id),
  api_key_id   text NOT NULL,
  scope        text NOT NULL,
  approved     boolean NOT NULL,
  reason       text NOT NULL DEFAULT '',
  created_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX review_decisions_request ON review_decisions (request_id);

-- Stored answers for Idempotency-Key on endpoints other than /request-clearance
-- (which keeps its key on the request row itself).
CREATE TABLE idempotency_records (
  scope        text NOT NULL,
  key          text NOT NULL,
  body_hash    text NOT NULL,
  status_code  integer NOT NULL,
  response     json NOT NULL,
  created_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (scope, key)
);
