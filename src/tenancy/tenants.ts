import type { Sql } from "../db/sql.js";
import { sqlState, UNIQUE_VIOLATION } from "../db/sql.js";
import { SecretUnresolvedError } from "../config/secrets-provider.js";
import { AppError } from "../errors.js";
import { createApiKey, type CreatedKey } from "./api-keys.js";
import { newTenantId } from "./ids.js";
import type { TenantDatabases } from "./tenant-databases.js";

export interface CreatedTenant {
  tenantId: string;
  name: string;
  adminKey: CreatedKey;
}

/**
 * Creates a tenant with its first admin key, then provisions and migrates the tenant's own database.
 * The tenant row and the key are committed together: a tenant nobody can administer must never exist,
 * whatever moment a crash picks. The database comes after the commit (CREATE DATABASE cannot run in a
 * transaction) and is idempotent: a crash before it leaves a tenant whose database is made on first use.
 */
export async function createTenant(
  control: Sql,
  tenantDbs: TenantDatabases,
  args: { name: string; dsn?: string; adminKey?: string },
): Promise<CreatedTenant> {
  const tenant = await registerTenant(control, tenantDbs, args);
  await tenantDbs.get(tenant.tenantId);
  return tenant;
}

/** The committed half of createTenant: the control row and the admin key, in one transaction. */
export async function registerTenant(
  control: Sql,
  tenantDbs: TenantDatabases,
  args: { name: string; dsn?: string; adminKey?: string },
): Promise<CreatedTenant> {
  const tenantId = newTenantId();
  const dsnRef = args.dsn ? storedDsnReference(tenantDbs, tenantId, args.dsn) : null;
  const adminKey = await control.transaction(async (tx) => {
    try {
      await tx.query("INSERT INTO tenants (id, name, db_name, db_dsn_ref) VALUES ($1, $2, $3, $4)", [
        tenantId,
        args.name,
        dsnRef ? null : tenantDbs.dbNameFor(tenantId),
        dsnRef,
      ]);
    } catch (err) {
      if (sqlState(err) === UNIQUE_VIOLATION) throw new AppError("bad_request", `A tenant named ${args.name} already exists`);
      throw err;
    }
    return createApiKey(tx, { tenantId, scope: "admin", label: "initial admin", rawKey: args.adminKey });
  });
  return { tenantId, name: args.name, adminKey };
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
