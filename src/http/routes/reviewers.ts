import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { AppContext } from "../app-context.js";
import { requireScope } from "../../tenancy/api-keys.js";
import { SESSION_COOKIE, sessionTokenOf } from "../../tenancy/console-sessions.js";
import { AppError } from "../../errors.js";
import { createReviewer, disableReviewer, listReviewers } from "../../tenancy/reviewers.js";
import { authenticate, principalOf } from "../auth.js";
import { documented } from "../openapi/route-doc.js";
import {
  consoleSessionExample,
  consoleSessionSchema,
  createdReviewerExample,
  createdReviewerSchema,
  createReviewerExample,
  disabledReviewerExample,
  disabledReviewerSchema,
  reviewerListExample,
  reviewerListSchema,
  signedInExample,
  signedInSchema,
  signedOutExample,
  signedOutSchema,
  signInExample,
} from "../openapi/schemas/reviewers.js";

const reviewerBody = z.strictObject({
  name: z.string().trim().min(1).max(200),
  email: z.email().max(320),
  groups: z.array(z.string().trim().min(1).max(64)).max(20).default([]),
});
const reviewerParams = z.object({ reviewer_id: z.string().min(1).max(100) });
const signIn = z.strictObject({ api_key: z.string().min(1).max(512) });

const createDoc = documented({
  summary: "Add a reviewer",
  description: "A reviewer identity (name, email, groups) and its first reviewer key, returned once.",
  tags: ["reviewers"],
  auth: ["admin"],
  body: reviewerBody,
  bodyExample: createReviewerExample,
  responses: { 201: { description: "The reviewer and its one-time API key", schema: createdReviewerSchema, example: createdReviewerExample } },
  errors: ["validation_failed", "insufficient_scope", "csrf_header_missing", "reviewer_exists"],
});

const listDoc = documented({
  summary: "List the tenant's reviewers",
  description: "Disabled reviewers are listed too, with `disabled_at`.",
  tags: ["reviewers"],
  auth: ["admin", "reviewer"],
  responses: { 200: { description: "Every reviewer of the tenant, oldest first", schema: reviewerListSchema, example: reviewerListExample } },
  errors: ["insufficient_scope"],
});

const disableDoc = documented({
  summary: "Disable a reviewer",
  description: "Their past votes stay; their keys and console sessions stop working.",
  tags: ["reviewers"],
  auth: ["admin"],
  params: reviewerParams,
  responses: { 200: { description: "The reviewer is disabled", schema: disabledReviewerSchema, example: disabledReviewerExample } },
  errors: ["validation_failed", "insufficient_scope", "csrf_header_missing", "reviewer_not_found"],
});

const signInDoc = documented({
  summary: "Sign in to the review console",
  description:
    "Exchanges a reviewer or admin key for a 12-hour session in an HttpOnly, SameSite=Strict `cs_session` cookie (Set-Cookie), so the browser never keeps the key. State-changing requests made with the cookie must send `X-Countersign-Console: 1`.",
  tags: ["console"],
  auth: "none",
  body: signIn,
  bodyExample: signInExample,
  responses: { 200: { description: "Signed in; the session cookie is set", schema: signedInSchema, example: signedInExample } },
  errors: ["validation_failed", "unauthorized", "insufficient_scope"],
});

const whoAmIDoc = documented({
  summary: "Who the console session (or key) is",
  tags: ["console"],
  auth: ["agent", "reviewer", "admin"],
  responses: { 200: { description: "The tenant, scope and reviewer identity behind the cookie or key", schema: consoleSessionSchema, example: consoleSessionExample } },
});

const signOutDoc = documented({
  summary: "Sign out of the review console",
  description: "Ends the session named by the cookie, if any, and clears the cookie.",
  tags: ["console"],
  auth: ["agent", "reviewer", "admin"],
  responses: { 200: { description: "Signed out", schema: signedOutSchema, example: signedOutExample } },
  errors: ["csrf_header_missing"],
});

/** Reviewer identities (admin), and the console's sign-in with a reviewer or admin key. */
export function reviewerRoutes(app: FastifyInstance, ctx: AppContext) {
  // Reviewers and sessions live in the control database: no tenant database is opened for these routes.
  const preHandler = authenticate(ctx, { tenantDatabase: false });

  app.post("/reviewers", { preHandler, config: createDoc }, async (request, reply) => {
    const principal = principalOf(request);
    requireScope(principal, ["admin"], "add reviewers");
    const body = reviewerBody.parse(request.body);
    const created = await createReviewer(ctx.control, { tenantId: principal.tenantId, ...body });
    return reply.code(201).send({ reviewer_id: created.id, name: created.name, email: created.email, groups: created.groups, api_key: created.api_key, api_key_id: created.api_key_id });
  });

  app.get("/reviewers", { preHandler, config: listDoc }, async (request) => {
    const principal = principalOf(request);
    requireScope(principal, ["admin", "reviewer"], "list reviewers");
    return { reviewers: await listReviewers(ctx.control, principal.tenantId) };
  });

  // Disabling keeps the reviewer's past votes (and their ledger events) and stops their keys and sessions.
  app.delete("/reviewers/:reviewer_id", { preHandler, config: disableDoc }, async (request) => {
    const principal = principalOf(request);
    requireScope(principal, ["admin"], "disable reviewers");
    const { reviewer_id } = reviewerParams.parse(request.params);
    if (!(await disableReviewer(ctx.control, principal.tenantId, reviewer_id))) {
      throw new AppError("reviewer_not_found", `No active reviewer ${reviewer_id} in this tenant`);
    }
    return { reviewer_id, disabled: true };
  });

  app.post("/console/session", { config: signInDoc }, async (request, reply) => {
    const { api_key } = signIn.parse(request.body);
    const principal = await ctx.auth.authenticate(api_key);
    requireScope(principal, ["reviewer", "admin"], "sign in to the review console");
    const session = await ctx.consoleSessions.open(principal);
    // HttpOnly: scripts never see it; Strict: other sites' requests never carry it.
    const secure = request.protocol === "https" ? "; Secure" : "";
    reply.header("set-cookie", `${SESSION_COOKIE}=${session.token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${Math.floor((session.expiresAt.getTime() - ctx.clock.nowMs()) / 1000)}${secure}`);
    return { ...whoIs(principal), expires_at: session.expiresAt.toISOString() };
  });

  app.get("/console/session", { preHandler, config: whoAmIDoc }, async (request) => whoIs(principalOf(request)));

  app.delete("/console/session", { preHandler, config: signOutDoc }, async (request, reply) => {
    const token = sessionTokenOf(request.headers.cookie);
    if (token) await ctx.consoleSessions.close(token);
    reply.header("set-cookie", `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0`);
    return { signed_out: true };
  });
}

function whoIs(principal: ReturnType<typeof principalOf>) {
  const reviewer = principal.reviewer ?? { id: principal.keyId, name: `${principal.scope} key`, email: "", groups: [] };
  return { tenant_id: principal.tenantId, scope: principal.scope, reviewer };
}
