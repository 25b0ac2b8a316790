import type { FastifyInstance } from "fastify";
import { consumeTokenSchema, mintTokenSchema } from "../../clearance/request-schema.js";
import type { AppContext } from "../../context.js";
import { requireScope } from "../../tenancy/api-keys.js";
import { withIdempotency } from "../../tenancy/idempotency.js";
import { canonicalJson, sha256Hex } from "../../tokens/canonical-json.js";
import { authenticate, idempotencyKeyOf, principalOf } from "../auth.js";

export function tokenRoutes(app: FastifyInstance, ctx: AppContext) {
  const preHandler = authenticate(ctx);

  app.post("/mint-token", { preHandler }, async (request) => {
    const principal = principalOf(request);
    requireScope(principal, ["agent", "admin"], "mint tokens");
    const body = mintTokenSchema.parse(request.body);
    const bodyHash = sha256Hex(canonicalJson(request.body));
    const sql = await ctx.tenantDbs.get(principal.tenantId);
    return withIdempotency(sql, "mint-token", idempotencyKeyOf(request), bodyHash, () => ctx.mint.mint(principal, body, bodyHash));
  });

  app.post("/consume-token", { preHandler }, async (request) => {
    const principal = principalOf(request);
    requireScope(principal, ["agent", "admin"], "consume tokens");
    return ctx.consume.consume(principal, consumeTokenSchema.parse(request.body));
  });

  // Public: verifiers need it without credentials (the SDK sends its key anyway; it is ignored).
  app.get("/.well-known/jwks.json", async (_request, reply) => {
    reply.header("Cache-Control", "public, max-age=60");
    return ctx.keys.jwks();
  });
}
