import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import type { ZodType } from "zod";
import { approvedClaimsPage, claimView, verifyClaim } from "../../agents/claim-views.js";
import { AppError } from "../../errors.js";
import { requireScope } from "../../tenancy/api-keys.js";
import type { AppContext } from "../app-context.js";
import { authenticate, principalOf } from "../auth.js";
import { documented, type RouteDoc } from "../openapi/route-doc.js";
import { RateLimiter } from "../rate-limit.js";
import * as s from "./agent-schemas.js";
import { captureSignedBody, serviceKey, verifySigned } from "./sigilum-auth.js";

/** The request's fields by Sigilum's rules: 400 VALIDATION_ERROR with one entry per problem. */
function parse<T>(schema: ZodType<T>, value: unknown): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const errors = result.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
  throw new AppError("VALIDATION_ERROR", errors.slice(0, 3).map((e) => `${e.path || "(body)"}: ${e.message}`).join("; "), { errors });
}

const SIGNED = ["SIGNATURE_MISSING", "SIGNATURE_INVALID", "SIGNATURE_EXPIRED", "SIGNATURE_COMPONENTS_INVALID", "SIGNATURE_DIGEST_MISMATCH", "SIGNATURE_NONCE_REPLAY", "NONCE_STORE_UNAVAILABLE", "rate_limited"];
const SERVICE = ["UNAUTHORIZED", "FORBIDDEN", "SIGNATURE_NAMESPACE_MISMATCH", "tenant_secrets_unavailable"];
const tags = ["agent identity"];
/** Every problem on these routes also carries Sigilum's `error` member. */
const sigilum = (doc: RouteDoc) => ({ sigilumErrors: true, ...documented(doc) });

/**
 * The Sigilum-compatible API (reference §7): claims submitted by a protected service for a signing
 * agent, their review actions, the runtime check /v1/verify and the bulk listing. Requests are signed
 * (the Sigilum profile of RFC 9421, docs/agent-identity.md); errors use Sigilum's codes.
 */
export function sigilumRoutes(app: FastifyInstance, ctx: AppContext) {
  // The seed's limit for /v1/verify: 2000 a minute per signer namespace.
  const verifyLimiter = new RateLimiter({ rps: 2000 / 60, burst: 2000, ttlSeconds: 120 }, ctx.clock);

  app.get("/v1/verify", {
    config: sigilum({
      summary: "Is this agent key authorized for a service?",
      description:
        "Signed by an agent of `namespace` (its signature's namespace must be the query's, else 403). `authorized` is true only for an approved claim; " +
        "otherwise `reason` is no_approved_claim, claim_pending, claim_rejected or claim_revoked. At most 2000 calls a minute per namespace. Do not cache a negative answer for more than 30 s.",
      tags, auth: "none", query: s.verifyQuery,
      responses: { 200: { description: "The authorization as it stands", schema: s.verifyAnswerSchema, example: s.agentExamples.verifyAuthorized } },
      errors: ["VALIDATION_ERROR", ...SIGNED, "SIGNATURE_NAMESPACE_MISMATCH", "AGENT_NAMESPACE_UNKNOWN", "tenant_secrets_unavailable"],
    }),
  }, async (request, reply) => {
    const q = parse(s.verifyQuery, request.query);
    const signer = await verifySigned(ctx, request, { expect: { namespace: q.namespace }, onVerified: (ns) => verifyLimiter.check(`verify:${ns}`) });
    reply.header("cache-control", "no-store");
    return verifyClaim(signer.sql, q.namespace, q.service, q.public_key);
  });

  app.get("/v1/namespaces/claims", {
    config: sigilum({
      summary: "A service's approved claims, a page at a time",
      description: "A protected service's key (X-Vault-API-Key or Authorization: Bearer) and a signature by an agent of one of the tenant's namespaces. Every claim listed is approved; `limit` defaults to 500, at most 2000.",
      tags, auth: ["service"], query: s.namespaceClaimsQuery,
      responses: { 200: { description: "One page of approved claims", schema: s.namespaceClaimsSchema, example: s.agentExamples.namespaceClaims } },
      errors: ["VALIDATION_ERROR", ...SIGNED, ...SERVICE],
    }),
  }, async (request) => {
    const q = parse(s.namespaceClaimsQuery, request.query);
    const principal = await serviceKey(ctx, request);
    const signer = await verifySigned(ctx, request, { apiKeyTenant: principal.tenantId });
    if (q.service !== undefined && q.service !== principal.serviceSlug) {
      throw new AppError("FORBIDDEN", `API key belongs to service "${principal.serviceSlug}" but the request is for "${q.service}"`);
    }
    return approvedClaimsPage(signer.sql, principal.serviceSlug!, { limit: q.limit, offset: q.offset });
  });

  app.post("/v1/claims", {
    preParsing: captureSignedBody,
    config: sigilum({
      summary: "Submit an agent's claim to a service",
      description:
        "A protected service's key, and the agent's own signature: its namespace and key must be the body's (403 SIGNATURE_NAMESPACE_MISMATCH / SIGNATURE_KEY_MISMATCH). " +
        "A new claim goes to review under the tenant's review rules (201 pending), or is refused at once by a limit (201 rejected: 10 services per namespace, " +
        "10 approved agents per service, 20 pending claims per namespace); a claim already pending or approved answers 200. `nonce` may be used once per service.",
      tags, auth: ["service"], body: s.claimBody, bodyExample: s.agentExamples.claimBody,
      responses: {
        201: { description: "A new claim", schema: s.submitAnswerSchema, example: s.agentExamples.submitted },
        200: { description: "The claim already pending or approved for this key", schema: s.submitAnswerSchema, example: s.agentExamples.existing },
      },
      errors: ["VALIDATION_ERROR", ...SIGNED, ...SERVICE, "SIGNATURE_KEY_MISMATCH", "NONCE_REPLAY"],
    }),
  }, async (request, reply) => {
    const body = parse(s.claimBody, request.body);
    const principal = await serviceKey(ctx, request);
    const signer = await verifySigned(ctx, request, { apiKeyTenant: principal.tenantId, expect: { namespace: body.namespace, publicKey: body.public_key } });
    const outcome = await ctx.agents.claims.submit(principal, signer, body);
    return reply.code(outcome.httpStatus).send(outcome.body);
  });

  const reviewerAction = (action: "approve" | "reject", doc: Pick<RouteDoc, "summary" | "description">) =>
    app.post(`/v1/claims/:id/${action}`, {
      preHandler: authenticate(ctx),
      config: sigilum({
        ...doc, tags, auth: ["reviewer", "admin"], params: s.claimParams, body: s.claimActionBody, bodyExample: { reason: "known agent of the billing team" },
        responses: { 200: { description: "The claim after the vote, with the review's progress", schema: s.claimVoteSchema, example: s.agentExamples.voted } },
        errors: ["VALIDATION_ERROR", "NOT_FOUND", "CLAIM_NOT_PENDING", "reviewer_not_eligible", "self_approval_forbidden", "principal_approval_forbidden", "already_voted", "request_not_pending",
          // Under require_passkey this route (no assertion in its body) cannot approve: POST /reviews/{request_id}/decision with `passkey` can.
          ...(action === "approve" ? ["SERVICE_LIMIT_REACHED", "AGENT_LIMIT_REACHED", "passkey_required"] : []), "csrf_header_missing"],
      }),
    }, (request) => vote(request, action === "approve"));

  const vote = async (request: FastifyRequest, approved: boolean) => {
    const principal = principalOf(request);
    requireScope(principal, ["reviewer", "admin"], "decide agent claims");
    const { id } = parse(s.claimParams, request.params);
    const body = parse(s.claimActionBody, request.body ?? undefined);
    const { claim, review } = await ctx.agents.claims.vote(request.tenantSql, principal, id, approved, body?.reason ?? "");
    return { ...claimView(claim), review };
  };

  reviewerAction("approve", {
    summary: "Approve a pending claim",
    description: "A vote through the review machinery: the claim's review request needs the tenant's quorum, and separation of duties applies (the claim's subject cannot approve it). The claim stays pending until the rules are met. When the tenant's rules say `require_passkey`, this route cannot approve (403 passkey_required): approve the claim's review request with a passkey through POST /reviews/{request_id}/decision (docs/passkeys.md).",
  });
  reviewerAction("reject", { summary: "Reject a pending claim", description: "One reviewer's rejection ends the review; the claim is rejected (final)." });

  app.post("/v1/claims/:id/revoke", {
    preHandler: authenticate(ctx),
    config: sigilum({
      summary: "Revoke an approved claim",
      description: "The key loses the service at once; the claim's review request gets an `agent_claim.revoked` ledger event, and sigilum webhooks a `request.revoked`.",
      tags, auth: ["reviewer", "admin"], params: s.claimParams, body: s.claimActionBody, bodyExample: { reason: "laptop lost" },
      responses: { 200: { description: "The revoked claim", schema: s.claimSchema, example: s.agentExamples.revoked } },
      errors: ["VALIDATION_ERROR", "NOT_FOUND", "CLAIM_NOT_APPROVED", "reviewer_not_eligible", "csrf_header_missing"],
    }),
  }, async (request: FastifyRequest, _reply: FastifyReply) => {
    const principal = principalOf(request);
    requireScope(principal, ["reviewer", "admin"], "revoke agent claims");
    const { id } = parse(s.claimParams, request.params);
    const body = parse(s.claimActionBody, request.body ?? undefined);
    return claimView(await ctx.agents.claims.revoke(request.tenantSql, principal, id, body?.reason ?? ""));
  });
}
