import type { FastifyInstance } from "fastify";
import { consumeTokenSchema, mintTokenSchema } from "../../requests/request-schema.js";
import type { AppContext } from "../app-context.js";
import { requireScope } from "../../tenancy/api-keys.js";
import { canonicalJson, sha256Hex } from "../../tokens/canonical-json.js";
import { authenticate, idempotencyKeyOf, principalOf } from "../auth.js";
import { tokenExamples } from "../openapi/examples/tokens.js";
import { documented } from "../openapi/route-doc.js";
import { consumeResponseSchema, jwksSchema, mintResponseSchema } from "../openapi/schemas/tokens.js";

export function tokenRoutes(app: FastifyInstance, ctx: AppContext) {
  const preHandler = authenticate(ctx);

  app.post(
    "/mint-token",
    {
      preHandler,
      config: documented({
        summary: "A fresh A-JWT for a remembered approval",
        description:
          "The Ledgix SDK's decision cache (wire protocol §2.3): a new token, with a new `jti`, bound to an earlier approval that " +
          "still holds (same key, a policy decision rather than a human one, not made on a verified agent's signature, the policy version unchanged). Unknown fields are ignored.",
        tags: ["tokens"],
        auth: ["agent", "admin"],
        body: mintTokenSchema,
        bodyExample: tokenExamples.mintRequest,
        idempotencyKey: true,
        responses: { 200: { description: "The new token and the mint request's id.", schema: mintResponseSchema, example: tokenExamples.minted } },
        errors: ["request_not_found", "approval_not_reusable", "signer_unavailable"],
      }),
    },
    async (request) => {
      const principal = principalOf(request);
      requireScope(principal, ["agent", "admin"], "mint tokens");
      const body = mintTokenSchema.parse(request.body);
      return ctx.mint.mintOnce(request.tenantSql, principal, body, sha256Hex(canonicalJson(request.body)), idempotencyKeyOf(request));
    },
  );

  app.post(
    "/consume-token",
    {
      preHandler,
      config: documented({
        summary: "Burn a token before the action runs",
        description:
          "Checks the signature, expiry, audience, and (when given) the tool and the arguments against the token's binding, then burns " +
          "its `jti` once: a second consume answers 409. `tool_args` may be sent as approved or in the caller's original key spelling.",
        tags: ["tokens"],
        auth: ["agent", "admin"],
        body: consumeTokenSchema,
        bodyExample: tokenExamples.consumeRequest,
        responses: { 200: { description: "Burned: the token's claims.", schema: consumeResponseSchema, example: tokenExamples.consumed } },
        errors: ["token_invalid", "token_expired", "tenant_mismatch", "token_binding_mismatch", "token_not_found", "token_already_consumed", "signer_unavailable"],
      }),
    },
    async (request) => {
      const principal = principalOf(request);
      requireScope(principal, ["agent", "admin"], "consume tokens");
      return ctx.consume.consume(request.tenantSql, principal, consumeTokenSchema.parse(request.body));
    },
  );

  // Public: verifiers need it without credentials (the SDK sends its key anyway; it is ignored).
  app.get(
    "/.well-known/jwks.json",
    {
      config: documented({
        summary: "The vault's public signing keys",
        description:
          "Every public key the vault has signed with, token keys and ledger keys (wire protocol §2.5). A key header, if sent, is " +
          "ignored. `Cache-Control: public, max-age=60`.",
        tags: ["tokens"],
        auth: "none",
        responses: { 200: { description: "A JWK set of Ed25519 keys.", schema: jwksSchema, example: tokenExamples.jwks } },
      }),
    },
    async (_request, reply) => {
      reply.header("Cache-Control", "public, max-age=60");
      return await ctx.keys.jwks();
    },
  );
}
