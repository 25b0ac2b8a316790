-- Reviewers are people: a name and an email, in groups that review rules can require. Reviewer keys
-- (and console sessions opened with them) act as their reviewer, so votes are counted per person.
CREATE TABLE reviewers (
  id           text PRIMARY KEY,
  tenant_id    text NOT NULL REFERENCES tenants(id),
  name         text NOT NULL,
  email        text NOT NULL,
  groups       text[] NOT NULL DEFAULT '{}',
  created_at   timestamptz NOT NULL DEFAULT now(),
  disabled_at  timestamptz,
  UNIQUE (tenant_id, email)
);
ALTER TABLE api_keys ADD COLUMN reviewer_id text REFERENCES reviewers(id);

-- Console sign-ins: only the SHA-256 of the session token is stored, as for API keys.
CREATE TABLE console_sessions (
  token_hash   text PRIMARY KEY,
  api_key_id   text NOT NULL REFERENCES api_keys(id),
  created_at   timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL
);
CREATE INDEX console_sessions_expiry ON console_sessions (expires_at);
