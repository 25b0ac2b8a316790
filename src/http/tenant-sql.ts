import type { FastifyRequest } from "fastify";
import type { Sql } from "../db/sql.js";
import type { Principal } from "../tenancy/api-keys.js";
import type { TenantDatabases } from "../tenancy/tenant-databases.js";

declare module "fastify" {
  interface FastifyRequest {
    /**
     * The authenticated tenant's database, opened once per request by authenticate() (src/http/auth.ts).
     * Set on every route that runs authenticate(); routes without it (health, console assets, sign-in)
     * or with `tenantDatabase: false` (reviewers, console session) must not read it.
     */
    tenantSql: Sql;
  }
}

/**
 * Resolves the principal's tenant database and hangs it on the request, so routes hand one `sql` to
 * the services instead of each looking the tenant up again. Errors from TenantDatabases.get (404
 * not_found for a tenant that no longer exists, 503 tenant_secrets_unavailable with Retry-After when
 * the tenant's bundle in Secrets Manager cannot be read, 500 when its database cannot be opened) go
 * to the error handler unchanged (AppErrors become problem+json there), as they did when every route
 * looked its tenant up itself. Only that tenant's requests fail: nothing here is shared between tenants.
 */
export async function attachTenantSql(tenantDbs: TenantDatabases, request: FastifyRequest, principal: Principal): Promise<void> {
  request.tenantSql = await tenantDbs.get(principal.tenantId);
}
