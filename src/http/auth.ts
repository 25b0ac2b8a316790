import type { FastifyRequest } from "fastify";
import type { AppContext } from "./app-context.js";
import { AppError } from "../errors.js";
import type { Principal } from "../tenancy/api-keys.js";
import { sessionTokenOf } from "../tenancy/console-sessions.js";
import { attachTenantSql } from "./tenant-sql.js";

declare module "fastify" {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/**
 * preHandler: X-Vault-API-Key → principal, or else the console's session cookie; then the per-key
 * rate limit. A cookie is sent by the browser on its own, so a state-changing request that relies
 * on it must also carry X-Countersign-Console, which another site's form or fetch cannot add
 * without a CORS preflight (SameSite=Strict already keeps the cookie off cross-site requests).
 * Last, the tenant's database is opened once for the request (request.tenantSql), after the rate
 * limit so a throttled key costs no tenant lookup. Service keys pass only where `serviceKeys` is set.
 * Routes that touch only the control database
 * (reviewers, the console session) pass `tenantDatabase: false`, so they keep working while a
 * tenant's own database cannot be opened.
 */
export function authenticate(ctx: AppContext, opts: { tenantDatabase?: boolean; serviceKeys?: boolean } = {}) {
  const tenantDatabase = opts.tenantDatabase ?? true;
  return async (request: FastifyRequest) => {
    const header = request.headers["x-vault-api-key"];
    const key = Array.isArray(header) ? header[0] : header;
    const session = key === undefined ? sessionTokenOf(request.headers.cookie) : undefined;
    let principal: Principal;
    if (session !== undefined) {
      principal = await ctx.consoleSessions.authenticate(session);
      if (!SAFE_METHODS.has(request.method) && request.headers["x-countersign-console"] !== "1") {
        throw new AppError("csrf_header_missing", "Send X-Countersign-Console: 1 with console requests that change state");
      }
    } else {
      principal = await ctx.auth.authenticate(key);
    }
    // A protected service's key is good for the agent-identity routes only (src/http/routes/sigilum.ts),
    // which say so: everywhere else it is refused, whatever the route's own scope check.
    if (principal.scope === "service" && !opts.serviceKeys) {
      throw new AppError("insufficient_scope", "A service key may only call the agent-identity endpoints (/v1/claims, /v1/namespaces/claims)");
    }
    ctx.rateLimiter.check(principal.keyId);
    request.principal = principal;
    if (tenantDatabase) await attachTenantSql(ctx.tenantDbs, request, principal);
  };
}

const SAFE_METHODS = new Set(["GET", "HEAD", "OPTIONS"]);

export function principalOf(request: FastifyRequest): Principal {
  if (!request.principal) throw new AppError("unauthorized", "Not authenticated");
  return request.principal;
}

/** Idempotency-Key: optional; when present, 1-255 visible ASCII characters. */
export function idempotencyKeyOf(request: FastifyRequest): string | undefined {
  const raw = request.headers["idempotency-key"];
  const key = Array.isArray(raw) ? raw[0] : raw;
  if (key === undefined) return undefined;
  if (!/^[\x21-\x7e]{1,255}$/.test(key)) throw new AppError("bad_request", "Idempotency-Key must be 1-255 visible ASCII characters");
  return key;
}
