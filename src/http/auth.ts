import type { FastifyRequest } from "fastify";
import type { AppContext } from "../context.js";
import { AppError } from "../errors.js";
import type { Principal } from "../tenancy/api-keys.js";

declare module "fastify" {
  interface FastifyRequest {
    principal?: Principal;
  }
}

/** preHandler: X-Vault-API-Key → principal, then the per-key rate limit. */
export function authenticate(ctx: AppContext) {
  return async (request: FastifyRequest) => {
    const header = request.headers["x-vault-api-key"];
    const principal = await ctx.auth.authenticate(Array.isArray(header) ? header[0] : header);
    ctx.rateLimiter.check(principal.keyId);
    request.principal = principal;
  };
}

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
