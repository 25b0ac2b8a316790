import type { FastifyInstance } from "fastify";
import type { AppContext } from "../../context.js";
import { registerPolicySchema } from "../../policies/policy-schema.js";
import { registerPolicy } from "../../policies/policy-store.js";
import { requireScope } from "../../tenancy/api-keys.js";
import { withIdempotency } from "../../tenancy/idempotency.js";
import { canonicalJson, sha256Hex } from "../../tokens/canonical-json.js";
import { authenticate, idempotencyKeyOf, principalOf } from "../auth.js";

export function policyRoutes(app: FastifyInstance, ctx: AppContext) {
  // Admin only: an agent that could rewrite its own policy would approve itself.
  app.post("/register-policy", { preHandler: authenticate(ctx) }, async (request) => {
    const principal = principalOf(request);
    requireScope(principal, ["admin"], "register policies");
    const doc = registerPolicySchema.parse(request.body);
    const sql = await ctx.tenantDbs.get(principal.tenantId);
    const result = await withIdempotency(sql, "register-policy", idempotencyKeyOf(request), sha256Hex(canonicalJson(request.body)), () =>
      registerPolicy(sql, doc),
    );
    ctx.policies.invalidate(principal.tenantId);
    return result;
  });
}
