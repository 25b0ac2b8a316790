import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import { createApiKey, type CreatedKey } from "../tenancy/api-keys.js";

/**
 * Protected services: the services agents claim access to (Sigilum's service slugs), one table per
 * tenant. Each service has its own `service` API keys, made here because a key must name its service
 * and the control database (where keys live) cannot check that the tenant's service exists.
 */
export const SERVICE_SLUG_PATTERN = /^[a-z0-9]([a-z0-9-]{0,62}[a-z0-9])?$/;
export const MAX_SERVICES_PER_TENANT = 200;

export interface ProtectedService {
  slug: string;
  name: string;
  description: string;
  created_at: Date;
}

export async function createService(sql: Sql, s: { slug: string; name: string; description: string; now: Date }): Promise<ProtectedService> {
  const [count] = await sql.query<{ n: number }>("SELECT count(*)::int AS n FROM protected_services");
  if (Number(count?.n ?? 0) >= MAX_SERVICES_PER_TENANT) throw new AppError("bad_request", `A tenant may register at most ${MAX_SERVICES_PER_TENANT} protected services`);
  const rows = await sql.query<ProtectedService>(
    `INSERT INTO protected_services (slug, name, description, created_at) VALUES ($1, $2, $3, $4)
     ON CONFLICT (slug) DO NOTHING RETURNING slug, name, description, created_at`,
    [s.slug, s.name, s.description, s.now],
  );
  if (!rows[0]) throw new AppError("protected_service_exists", `A protected service ${s.slug} already exists`);
  return rows[0];
}

export async function listServices(sql: Sql): Promise<ProtectedService[]> {
  return sql.query<ProtectedService>("SELECT slug, name, description, created_at FROM protected_services ORDER BY slug");
}

export async function getService(sql: Sql, slug: string): Promise<ProtectedService | undefined> {
  return (await sql.query<ProtectedService>("SELECT slug, name, description, created_at FROM protected_services WHERE slug = $1", [slug]))[0];
}

/** A new `service` key for one of the tenant's services; the raw key is in the answer only. */
export async function createServiceKey(control: Sql, tenantSql: Sql, tenantId: string, slug: string, label?: string): Promise<CreatedKey> {
  if (!(await getService(tenantSql, slug))) throw new AppError("protected_service_not_found", `No protected service ${slug}`);
  return createApiKey(control, { tenantId, scope: "service", serviceSlug: slug, label: label ?? `service ${slug}` });
}
