import type { Sql } from "../db/sql.js";
import { sqlState, UNIQUE_VIOLATION } from "../db/sql.js";
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
 * Creates a tenant, provisions and migrates its own database, and issues its first admin key.
 * The control row is written first so a crash mid-way leaves a tenant that provisioning can finish.
 */
export async function createTenant(
  control: Sql,
  tenantDbs: TenantDatabases,
  args: { name: string; dsn?: string; adminKey?: string },
): Promise<CreatedTenant> {
  const tenantId = newTenantId();
  try {
    await control.query("INSERT INTO tenants (id, name, db_name, db_dsn) VALUES ($1, $2, $3, $4)", [
      tenantId,
      args.name,
      args.dsn ? null : tenantDbs.dbNameFor(tenantId),
      args.dsn ?? null,
    ]);
  } catch (err) {
    if (sqlState(err) === UNIQUE_VIOLATION) throw new AppError("bad_request", `A tenant named ${args.name} already exists`);
    throw err;
  }
  await tenantDbs.get(tenantId);
  const adminKey = await createApiKey(control, { tenantId, scope: "admin", label: "initial admin", rawKey: args.adminKey });
  return { tenantId, name: args.name, adminKey };
}

export async function countTenants(control: Sql): Promise<number> {
  return Number((await control.query<{ n: number }>("SELECT count(*)::int AS n FROM tenants"))[0]?.n ?? 0);
}
