import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import { checkConstraint, ConstraintError } from "../../grants/constraint.js";
import { describeConstraint } from "../../grants/describe-constraint.js";
import { MAX_CONSTRAINT_LENGTH } from "../../grants/grant-spec.js";
import { requireScope } from "../../tenancy/api-keys.js";
import { voterOf } from "../../tenancy/reviewers.js";
import type { AppContext } from "../app-context.js";
import { authenticate, principalOf } from "../auth.js";
import { documented } from "../openapi/route-doc.js";
import { describeConstraintSchema, grantExample, grantListExample, grantListSchema, grantSchema, revokedGrantExample } from "../openapi/schemas/grants.js";
import { queryInteger } from "../query.js";

const tags = ["grants"];
const auth = ["reviewer", "admin"] as const;

const listQuery = z.object({
  status: z.enum(["active", "all"]).default("active").describe("active (default): not revoked and not expired; all: every grant, newest first."),
  limit: queryInteger(1, 200).default(50).describe("Page size, 1-200 (default 50)."),
  cursor: z.string().min(1).max(500).optional().describe("The next_cursor of the previous page."),
});
const grantParams = z.object({ grant_id: z.string().min(1).max(128) });
const revokeBody = z.strictObject({ reason: z.string().max(500).default("").describe("Why, for the ledger event and the grant.revoked webhook.") });
const describeBody = z.strictObject({ constraint: z.string().max(MAX_CONSTRAINT_LENGTH) });

/**
 * Scoped grants (docs/grants.md): listing, one grant, revoking, and the plain-words rendering of a
 * constraint the console shows while a reviewer types it (one implementation, the server's, over
 * the CEL parser). Grants are created only by approving votes (POST /reviews/{id}/decision).
 */
export function grantRoutes(app: FastifyInstance, ctx: AppContext) {
  const preHandler = authenticate(ctx);
  const reviewer = (request: FastifyRequest, action: string) => {
    const principal = principalOf(request);
    requireScope(principal, auth, action);
    return principal;
  };

  app.get("/grants", {
    preHandler,
    config: documented({
      summary: "List grants",
      description: "Active grants (default) or all of them, newest first, with keyset pagination.",
      tags, auth, query: listQuery,
      responses: { 200: { description: "One page of grants", schema: grantListSchema, example: grantListExample } },
      errors: ["validation_failed", "bad_request", "insufficient_scope", "tenant_secrets_unavailable"],
    }),
  }, async (request) => {
    reviewer(request, "list grants");
    return ctx.grants.list(request.tenantSql, listQuery.parse(request.query));
  });

  app.get("/grants/:grant_id", {
    preHandler,
    config: documented({
      summary: "Read one grant",
      tags, auth, params: grantParams,
      responses: { 200: { description: "The grant", schema: grantSchema, example: grantExample } },
      errors: ["validation_failed", "insufficient_scope", "grant_not_found", "tenant_secrets_unavailable"],
    }),
  }, async (request) => {
    reviewer(request, "read grants");
    return ctx.grants.show(request.tenantSql, grantParams.parse(request.params).grant_id);
  });

  app.post("/grants/:grant_id/revoke", {
    preHandler,
    config: documented({
      summary: "Revoke a grant",
      description:
        "Stops the grant at once: no request judged after the revoke commits is approved by it (matching reads the database, and an approval share-locks its grant). Recorded as a `grant.revoked` vault.audit ledger event and sent as a `grant.revoked` webhook. Any reviewer of the tenant may revoke: revoking only narrows.",
      tags, auth, params: grantParams, body: revokeBody, bodyExample: { reason: "Ticket closed" },
      responses: { 200: { description: "The grant, revoked", schema: grantSchema, example: revokedGrantExample } },
      errors: ["validation_failed", "insufficient_scope", "csrf_header_missing", "grant_not_found", "grant_already_revoked", "signer_unavailable", "tenant_secrets_unavailable"],
    }),
  }, async (request) => {
    const principal = reviewer(request, "revoke grants");
    const { grant_id } = grantParams.parse(request.params);
    const { reason } = revokeBody.parse(request.body ?? {});
    const voter = voterOf(principal);
    return ctx.grants.revoke(request.tenantSql, principal.tenantId, grant_id, { id: voter.id, name: voter.name }, reason);
  });

  app.post("/grants/describe-constraint", {
    preHandler,
    config: documented({
      summary: "A constraint in plain words",
      description:
        "What the console shows while a reviewer types a grant's constraint: whether a vote may carry it (it compiles and reads only `args`) and its plain-words rendering, e.g. `args.amount <= 200 && args.currency == \"usd\"` → \"amount ≤ 200 and currency = usd\". Changes nothing.",
      tags, auth, body: describeBody, bodyExample: { constraint: 'args.amount <= 200 && args.currency == "usd"' },
      responses: { 200: { description: "The words, and whether the constraint is valid", schema: describeConstraintSchema, example: { valid: true, words: "amount ≤ 200 and currency = usd" } } },
      errors: ["validation_failed", "insufficient_scope", "csrf_header_missing", "tenant_secrets_unavailable"],
    }),
  }, async (request) => {
    reviewer(request, "describe constraints");
    const { constraint } = describeBody.parse(request.body);
    try {
      checkConstraint(constraint);
      return { valid: true, words: describeConstraint(constraint) };
    } catch (err) {
      return { valid: false, words: constraint, error: err instanceof ConstraintError ? err.message : "the constraint does not compile" };
    }
  });
}
