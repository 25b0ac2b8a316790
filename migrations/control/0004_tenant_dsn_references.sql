-- Tenant DSNs are no longer stored in clear: a tenant given a DSN keeps a secret reference instead
-- (src/config/secret-seal.ts): `sealed:v1:...` (the DSN sealed with VAULT_TRANSPORT_KEY_BASE64),
-- `env:NAME` / `file:/path` (the operator's own reference), or `dsn:<url>` for a DSN with no password.
ALTER TABLE tenants ADD COLUMN db_dsn_ref text;
-- SQL cannot seal (the key is not in the database): existing DSNs become `dsn:` references here, and
-- those that hold a password are sealed by the vault at its next start (TenantDatabases.sealStoredDsns),
-- or it warns, naming the tenant, while no sealing key is set.
UPDATE tenants SET db_dsn_ref = 'dsn:' || db_dsn WHERE db_dsn IS NOT NULL;
ALTER TABLE tenants DROP CONSTRAINT IF EXISTS tenants_check;
ALTER TABLE tenants DROP COLUMN db_dsn;
ALTER TABLE tenants ADD CONSTRAINT tenants_database_check CHECK ((db_name IS NULL) <> (db_dsn_ref IS NULL));
