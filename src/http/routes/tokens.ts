import type { FastifyInstance } from "fastify";
import { consumeTokenSchema, mintTokenSchema } from "../../requests/request-schema.js";
import type { AppContext } from "../app-context.js";
import { requireScope } from "../../tenancy/api-keys.js";
import { canonicalJson, sha256Hex } from "../../tokens/canonical-json.js";
import { authenticate, idempotencyKeyOf, principalOf } from "../auth.js";

export function tokenRoutes(app: FastifyInstance, ctx: AppContext) {
  const preHandler = authenticate(ctx);

  app.post("/mint-token", { preHandler }, async (request) => {
    const principal = principalOf(request);
    requireScope(principal, ["agent", "admin"], "mint tokens");
    const body = mintTokenSchema.parse(request.body);
    return ctx.mint.mintOnce(request.tenantSql, principal, body, sha256Hex(canonicalJson(request.body)), idempotencyKeyOf(request));
  });

  app.post("/consume-token", { preHandler }, async (request) => {
    const principal = principalOf(request);
    requireScope(principal, ["agent", "admin"], "consume tokens");
    return ctx.consume.consume(request.tenantSql, principal, consumeTokenSchema.parse(request.body));
  });

  // Public: verifiers need it without credentials (the SDK sends its key anyway; it is ignored).
  app.get("/.well-known/jwks.json", async (_request, reply) => {
    reply.header("Cache-Control", "public, max-age=60");
    return await ctx.keys.jwks();
  });
}
