import type { Sql } from "../db/sql.js";
import { sqlState, UNIQUE_VIOLATION } from "../db/sql.js";
import { SecretUnresolvedError } from "../config/secrets-provider.js";
import { AppError } from "../errors.js";
import { createApiKey, type CreatedKey } from "./api-keys.js";
import { newTenantId } from "./ids.js";
import type { TenantDatabases } from "./tenant-databases.js";
import { TenantSecretsUnavailableError } from "./tenant-secrets.js";

export interface CreatedTenant {
  tenantId: string;
  name: string;
  adminKey: CreatedKey;
  /** The name of the tenant's bundle in AWS Secrets Manager, for a tenant created with a secret reference. */
  secretRef?: string;
  /** Why the tenant's database is not open yet (its bundle cannot be read): it opens on first use once it can. */
  databasePending?: string;
}

export interface NewTenant {
  name: string;
  dsn?: string;
  adminKey?: string;
  /** `--secret-ref [NAME]`: the database is described by that bundle, or by `<TENANT_SECRET_PREFIX>/<tenant_id>` without a name. */
  secretRef?: { name?: string };
}

/**
 * Creates a tenant with its first admin key, then provisions and migrates the tenant's own database.
 * The tenant row and the key are committed together: a tenant nobody can administer must never exist,
 * whatever moment a crash picks. The database comes after the commit (CREATE DATABASE cannot run in a
 * transaction) and is idempotent: a crash before it leaves a tenant whose database is made on first use.
 */
export async function createTenant(control: Sql, tenantDbs: TenantDatabases, args: NewTenant): Promise<CreatedTenant> {
  const tenant = await registerTenant(control, tenantDbs, args);
  try {
    await tenantDbs.get(tenant.tenantId);
  } catch (err) {
    // The bundle of `<prefix>/<tenant_id>` can only be written once the id is known: the tenant (and its
    // admin key, shown once) stands, and its database opens on first use once the bundle is readable.
    if (!(tenant.secretRef && err instanceof TenantSecretsUnavailableError)) throw err;
    return { ...tenant, databasePending: err.message };
  }
  return tenant;
}

/** The committed half of createTenant: the control row and the admin key, in one transaction. */
export async function registerTenant(control: Sql, tenantDbs: TenantDatabases, args: NewTenant): Promise<CreatedTenant> {
  const tenantId = newTenantId();
  if (args.dsn && args.secretRef) throw new AppError("bad_request", "give --dsn or --secret-ref, not both: a bundle describes the tenant's database");
  const dsnRef = args.dsn ? storedDsnReference(tenantDbs, tenantId, args.dsn) : null;
  // Only the bundle's name is stored: what it holds is read from Secrets Manager when the tenant is used.
  const secretRef = args.secretRef ? tenantDbs.secretReference(tenantId, args.secretRef.name) : null;
  const adminKey = await control.transaction(async (tx) => {
    try {
      await tx.query("INSERT INTO tenants (id, name, db_name, db_dsn_ref, tenant_secret_ref) VALUES ($1, $2, $3, $4, $5)", [
        tenantId,
        args.name,
        dsnRef ? null : tenantDbs.dbNameFor(tenantId),
        dsnRef,
        secretRef,
      ]);
    } catch (err) {
      if (sqlState(err) === UNIQUE_VIOLATION && (err as { constraint?: string }).constraint === "tenants_secret_ref_unique") {
        throw new AppError("bad_request", `The secret ${secretRef} is already another tenant's bundle; each tenant needs its own`);
      }
      if (sqlState(err) === UNIQUE_VIOLATION) throw new AppError("bad_request", `A tenant named ${args.name} already exists`);
      throw err;
    }
    return createApiKey(tx, { tenantId, scope: "admin", label: "initial admin", rawKey: args.adminKey });
  });
  return { tenantId, name: args.name, adminKey, ...(secretRef ? { secretRef } : {}) };
}

/** The DSN as a secret reference (sealed, or the operator's env:/file: reference); never the DSN in clear. */
function storedDsnReference(tenantDbs: TenantDatabases, tenantId: string, dsn: string): string {
  try {
    return tenantDbs.dsnReference(tenantId, dsn);
  } catch (err) {
    if (err instanceof SecretUnresolvedError) throw new AppError("bad_request", err.message);
    throw err;
  }
}

/** Tenants named `name` that have no active admin key (left by a start of an older version that crashed). */
export async function tenantsWithoutAdminKey(control: Sql, name: string): Promise<string[]> {
  const rows = await control.query<{ id: string }>(
    `SELECT t.id FROM tenants t WHERE t.name = $1 AND NOT EXISTS
       (SELECT 1 FROM api_keys k WHERE k.tenant_id = t.id AND k.scope = 'admin' AND k.revoked_at IS NULL)`,
    [name],
  );
  return rows.map((r) => r.id);
}

export async function countTenants(control: Sql): Promise<number> {
  return Number((await control.query<{ n: number }>("SELECT count(*)::int AS n FROM tenants"))[0]?.n ?? 0);
}
