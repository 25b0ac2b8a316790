-- A tenant whose database is described by a bundle in AWS Secrets Manager (`countersign tenants create
-- --secret-ref`) keeps the bundle's name here: a reference, never the secret. The bundle itself (DSN or
-- password, keys, model credentials) is read by the vault when the tenant is first used
-- (src/tenancy/tenant-secrets.ts). NULL: the tenant's database is the vault's own or its db_dsn_ref.
ALTER TABLE tenants ADD COLUMN tenant_secret_ref text;
-- A bundle describes the database, so a DSN given for the tenant as well would be a second answer.
ALTER TABLE tenants ADD CONSTRAINT tenants_secret_ref_check CHECK (tenant_secret_ref IS NULL OR db_dsn_ref IS NULL);
-- One bundle per tenant: two tenants reading one bundle would share a database, and with it each
-- other's requests, ledger and tokens.
CREATE UNIQUE INDEX tenants_secret_ref_unique ON tenants (tenant_secret_ref) WHERE tenant_secret_ref IS NOT NULL;
