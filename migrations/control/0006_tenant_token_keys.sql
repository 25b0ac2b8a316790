-- Per-tenant token keys: each tenant signs its A-JWTs with its own Ed25519 key, so a compromised key
-- affects one tenant and rotates alone. A tenant key is a 'token' row of signing_keys (the JWKS reads
-- this one table) that names its tenant, its generation, and the vault token key it is derived from
-- (HKDF, src/tokens/tenant-token-keys.ts): a new VAULT_KEY_ID starts a new line of generations.
-- Vault-level token keys (tenant_id NULL) keep verifying the tokens they signed, for every tenant.
ALTER TABLE signing_keys ADD COLUMN tenant_id text REFERENCES tenants(id);
ALTER TABLE signing_keys ADD COLUMN generation integer;
ALTER TABLE signing_keys ADD COLUMN base_kid text;
ALTER TABLE signing_keys ADD CONSTRAINT signing_keys_tenant_check CHECK (
  (tenant_id IS NULL AND generation IS NULL AND base_kid IS NULL)
  OR (tenant_id IS NOT NULL AND generation >= 1 AND base_kid IS NOT NULL AND purpose = 'token')
);
CREATE UNIQUE INDEX signing_keys_tenant_generation ON signing_keys (base_kid, tenant_id, generation) WHERE tenant_id IS NOT NULL;
-- At most one current (not retired) key per tenant and vault key: a rotation retires the old one and
-- inserts the next in one transaction.
CREATE UNIQUE INDEX signing_keys_tenant_current ON signing_keys (base_kid, tenant_id) WHERE tenant_id IS NOT NULL AND retired_at IS NULL;
