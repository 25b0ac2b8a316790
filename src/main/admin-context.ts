import path from "node:path";
import type { Config } from "../config/config.js";
import { StoredSecrets } from "../tenancy/stored-secrets.js";
import { adminSecretNames, loadSecrets, type Secrets } from "../config/secrets.js";
import { migrate } from "../db/migrate.js";
import { ensurePgDatabase, databaseNameOf, PgDatabase } from "../db/pg-database.js";
import { PgliteDatabase } from "../db/pglite-database.js";
import type { Database } from "../db/sql.js";
import { TenantDatabases } from "../tenancy/tenant-databases.js";
import { TenantSecrets } from "../tenancy/tenant-secrets.js";
import { BundleTenantKeys, type TenantKeys } from "../tenancy/tenant-keys.js";
import { secretsManagerClient } from "../config/secret-bundle.js";
import { SecretsManagerProvider } from "../config/secrets-manager-provider.js";

export async function openControlDatabase(config: Config): Promise<Database> {
  const target = config.database;
  if (target.kind === "postgres") {
    await ensurePgDatabase(target.url, databaseNameOf(target.url));
    return new PgDatabase(target.url, config.pools.controlMax);
  }
  return PgliteDatabase.open(target.dataDir === "memory://" ? "memory://" : path.join(target.dataDir, "control"));
}

export interface AdminContext {
  config: Config;
  secrets: Secrets;
  control: Database;
  tenantDbs: TenantDatabases;
  /** Each tenant's sealing keys and model credentials: its bundle's, over the vault's own. */
  tenantKeys: TenantKeys;
  close(): Promise<void>;
}

/** What the admin CLI needs: the migrated control database and tenant routing, no signing key. */
export async function openAdminContext(config: Config): Promise<AdminContext> {
  const control = await openControlDatabase(config);
  try {
    await migrate(control, "control");
  } catch (err) {
    await control.close().catch(() => {});
    throw err;
  }
  let secrets: Secrets;
  try {
    secrets = await loadSecrets(config.secretRefs, config.secretsProvider, adminSecretNames);
  } catch (err) {
    await control.close().catch(() => {});
    throw err;
  }
  // Tenant DSNs are stored as secret references: sealed with the sealing key, or resolved by the provider.
  // TENANT_SECRET_PREFIX: tenants created with --secret-ref read their database from a bundle in AWS Secrets
  // Manager (read when first used, no call at start-up). Without it nothing changes: no client is made.
  const tenantSecrets = config.tenantSecrets
    ? new TenantSecrets(new SecretsManagerProvider(secretsManagerClient(config.aws)), {
        prefix: config.tenantSecrets.prefix,
        cacheTtlMs: config.tenantSecrets.cacheTtlMs,
      })
    : undefined;
  const stored = new StoredSecrets(config.secretsProvider, secrets.sealingKey);
  const tenantDbs = new TenantDatabases(control, config.database, config.pools.tenantMax, stored, tenantSecrets);
  return {
    config,
    secrets,
    control,
    tenantDbs,
    tenantKeys: new BundleTenantKeys(secrets.sealingKey, tenantSecrets),
    async close() {
      await tenantDbs.closeAll();
      tenantSecrets?.close();
      await control.close();
    },
  };
}
