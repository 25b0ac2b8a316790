-- Control plane: who the tenants are, where their databases live, and the hashes of their API keys.
CREATE TABLE tenants (
  id          text PRIMARY KEY,
  name        text NOT NULL UNIQUE,
  -- Exactly one of db_name (a database the vault created on its own server, or a PGlite directory
  -- name) and db_dsn (a DSN given by the operator for this tenant) is set.
  db_name     text,
  db_dsn      text,
  created_at  timestamptz NOT NULL DEFAULT now(),
  CHECK ((db_name IS NULL) <> (db_dsn IS NULL))
);

CREATE TABLE api_keys (
  id          text PRIMARY KEY,
  tenant_id   text NOT NULL REFERENCES tenants(id),
  scope       text NOT NULL CHECK (scope IN ('agent', 'reviewer', 'admin')),
  label       text NOT NULL DEFAULT '',
  -- First characters of the raw key, to recognise it in listings; never enough to use it.
  key_prefix  text NOT NULL,
  -- SHA-256 of the raw key. Keys are 256-bit random, so a fast hash is sufficient and lookups stay O(1).
  key_hash    text NOT NULL UNIQUE,
  created_at  timestamptz NOT NULL DEFAULT now(),
  revoked_at  timestamptz
);
CREATE INDEX api_keys_tenant ON api_keys (tenant_id);

-- Public halves of every signing key the vault has used: JWKS publishes them, retired ones included,
-- so old tokens and ledger receipts stay verifiable.
CREATE TABLE signing_keys (
  kid         text PRIMARY KEY,
  algorithm   text NOT NULL,
  public_jwk  jsonb NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  retired_at  timestamptz
);
