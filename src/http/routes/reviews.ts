import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { argsBudgetViolation, reviewDecisionSchema } from "../../requests/request-schema.js";
import { AppError } from "../../errors.js";
import type { AppContext } from "../app-context.js";
import { decidedByQuery } from "../../reviews/review-queries.js";
import { requireScope } from "../../tenancy/api-keys.js";
import { authenticate, principalOf } from "../auth.js";
import { queryInteger } from "../query.js";
import { requestIdParams } from "./clearance.js";
import { documented } from "../openapi/route-doc.js";
import {
  reviewDecisionResponseExample,
  reviewDecisionResponseSchema,
  reviewDetailExample,
  reviewDetailSchema,
  reviewListExample,
  reviewListSchema,
  reviewStreamExample,
  reviewStreamSchema,
} from "../openapi/schemas/reviews.js";

// The descriptions are for the OpenAPI document only; they change nothing in parsing.
const listQuery = z.object({
  status: z.enum(["pending", "approved", "denied", "expired", "all"]).default("pending").describe("pending: the queue, oldest first; the others: the history, most recently decided first. expired: denied because no one decided in time."),
  decided_by: decidedByQuery.describe("review (default): requests that went to review; automatic: decided by the conditions or the judge alone; any: both."),
  policy_id: z.string().min(1).max(128).optional(),
  tool_name: z.string().min(1).max(256).optional(),
  agent_id: z.string().min(1).max(256).optional(),
  limit: queryInteger(1, 200).default(50).describe("Page size, 1-200 (default 50)."),
  cursor: z.string().min(1).max(500).optional().describe("The next_cursor of the previous page."),
});

const HEARTBEAT_MS = 15_000;

// Every route here opens the tenant's database, hence tenant_secrets_unavailable.
const listDoc = documented({
  summary: "List reviews: the pending queue, or the decided history",
  description:
    "Pending reviews oldest first; decided ones most recently decided first. By default only requests that went to review; `decided_by` adds those the conditions or the judge decided alone. Keyset pagination: pass `next_cursor` back as `cursor`.",
  tags: ["reviews"],
  auth: ["reviewer", "admin"],
  query: listQuery,
  responses: { 200: { description: "One page of review summaries", schema: reviewListSchema, example: reviewListExample } },
  errors: ["validation_failed", "insufficient_scope", "tenant_secrets_unavailable"],
});

const streamDoc = documented({
  summary: "Follow reviews live (server-sent events)",
  description:
    "An `event: review` whose `data` is the review's summary (as in GET /reviews) each time a review is created or changes, in any vault process; a `: ping` comment every 15 s keeps proxies from closing the stream.",
  tags: ["reviews"],
  auth: ["reviewer", "admin"],
  responses: { 200: { description: "The event stream; it stays open", schema: reviewStreamSchema, example: reviewStreamExample, mediaType: "text/event-stream" } },
  errors: ["insufficient_scope", "tenant_secrets_unavailable"],
});

const detailDoc = documented({
  summary: "Read one review in full",
  description: "Everything a reviewer needs to decide: arguments, context, evidence, rules, votes, what the caller may do, and the request's place in the ledger.",
  tags: ["reviews"],
  auth: ["reviewer", "admin"],
  params: requestIdParams,
  responses: { 200: { description: "The request as a review", schema: reviewDetailSchema, example: reviewDetailExample } },
  errors: ["validation_failed", "insufficient_scope", "request_not_found", "tenant_secrets_unavailable"],
});

const decisionDoc = documented({
  summary: "Approve or deny a pending request",
  description:
    "One vote per reviewer. Any deny ends the request; approvals count until its rules are met. The key that submitted the request, and its human principal, may not approve it. An agent key may only cancel a request it submitted (approved: false). When the request's rules say `require_passkey`, an approval must carry `passkey`: a WebAuthn assertion over the options of POST /reviews/{request_id}/passkey-options (docs/passkeys.md); a deny never needs one. " +
    "An approval may also carry `grant` (widen it to later matching requests of the same tool, policy and agent for the session or a window of minutes, optionally only where a CEL `constraint` over args holds) and `edited_tool_args` (the token then binds these arguments instead of the requested ones); every approving vote must carry the same as the first (409 vote_mismatch). The answer then has `grant` (the grant created once the approval completes) and `edited_tool_args` (docs/grants.md).",
  tags: ["reviews"],
  auth: ["reviewer", "admin", "agent"],
  params: requestIdParams,
  body: reviewDecisionSchema,
  bodyExample: {
    approved: true,
    review_reason: "Order checked against the ticket; refunds like it for this agent this hour",
    grant: { scope: "window", window_minutes: 60, constraint: 'args.amount <= 200 && args.currency == "usd"' },
    edited_tool_args: { amount: 150, currency: "usd", order_id: "A-1043" },
  },
  responses: { 200: { description: "The clearance answer after the vote, with the review's progress", schema: reviewDecisionResponseSchema, example: reviewDecisionResponseExample } },
  errors: [
    "validation_failed",
    "insufficient_scope",
    "csrf_header_missing",
    "request_not_found",
    "request_not_pending",
    "reviewer_not_eligible",
    "self_approval_forbidden",
    "principal_approval_forbidden",
    "already_voted",
    "passkey_required",
    "passkey_invalid",
    "grant_not_allowed",
    "invalid_constraint",
    "constraint_excludes_request",
    "edited_args_denied",
    "args_too_large",
    "vote_mismatch",
    // An agent claim's review (src/agents/): the approval would pass a claim limit.
    "SERVICE_LIMIT_REACHED",
    "AGENT_LIMIT_REACHED",
    "signer_unavailable",
    "tenant_secrets_unavailable",
  ],
});

/** The reviewer workflow: the queue and history, one request in full, votes, and a live feed. */
export function reviewRoutes(app: FastifyInstance, ctx: AppContext) {
  const preHandler = authenticate(ctx);
  // Open SSE streams end when the server closes, so shutdown never waits on an open console.
  const streams = new Set<() => void>();
  app.addHook("preClose", async () => {
    for (const end of [...streams]) end();
  });
  const reviewer = (request: FastifyRequest, action: string) => {
    const principal = principalOf(request);
    requireScope(principal, ["reviewer", "admin"], action);
    return principal;
  };

  app.get("/reviews", { preHandler, config: listDoc }, async (request) => {
    reviewer(request, "list reviews");
    return ctx.reviewReader.list(request.tenantSql, listQuery.parse(request.query));
  });

  app.get("/reviews/stream", { preHandler, config: streamDoc }, async (request, reply) => {
    const principal = reviewer(request, "follow reviews");
    await stream(ctx, principal.tenantId, request, reply, streams);
  });

  app.get("/reviews/:request_id", { preHandler, config: detailDoc }, async (request) => {
    const principal = reviewer(request, "read a review");
    const { request_id } = requestIdParams.parse(request.params);
    const detail = await ctx.reviewReader.detail(request.tenantSql, principal, request_id);
    // A StepAuth request: what the SP asked, summary first, and where its callback and decision stand.
    const stepauth = await ctx.stepauth.reviewMember(request.tenantSql, request_id);
    return stepauth ? { ...detail, stepauth } : detail;
  });

  app.post("/reviews/:request_id/decision", { preHandler, config: decisionDoc }, async (request) => {
    const { request_id } = requestIdParams.parse(request.params);
    // Everything beyond approved and review_reason (a passkey assertion, a grant, edited arguments) goes to the vote as is.
    const { approved, review_reason, ...extra } = reviewDecisionSchema.parse(request.body);
    // Edited arguments are judged, stored and signed like requested ones: the same size budget (413 args_too_large).
    const violation = extra.edited_tool_args ? argsBudgetViolation({ tool_args: extra.edited_tool_args, context: {} }, ctx.config.argsBudget) : null;
    if (violation) throw new AppError("args_too_large", `edited_tool_args: ${violation.replace(/^\/tool_args/, "/edited_tool_args")}`);
    return (await ctx.reviews.decide(request.tenantSql, principalOf(request), request_id, approved, review_reason, extra)).body;
  });
}

/**
 * Server-sent events: `event: review` with the review's summary each time one is created or
 * changes, in this or any other vault process; a comment every 15 s keeps proxies from timing out.
 */
async function stream(ctx: AppContext, tenantId: string, request: FastifyRequest, reply: FastifyReply, streams: Set<() => void>): Promise<void> {
  const raw = reply.raw;
  let closed = false;
  const send = (text: string) => {
    if (!closed) raw.write(text);
  };
  const unwatch = await ctx.reviewBus.watch(tenantId, (requestId) => {
    ctx.reviewReader.summary(request.tenantSql, requestId).then(
      (summary) => send(`event: review\ndata: ${JSON.stringify(summary)}\n\n`),
      (err) => request.log.warn({ err, requestId }, "review stream could not read a changed review"),
    );
  });
  reply.hijack();
  raw.writeHead(200, {
    "content-type": "text/event-stream; charset=utf-8",
    "cache-control": "no-cache, no-transform",
    connection: "keep-alive",
    "x-accel-buffering": "no",
  });
  send("retry: 2000\n: connected\n\n");
  const heartbeat = setInterval(() => send(": ping\n\n"), HEARTBEAT_MS);
  heartbeat.unref();
  const end = () => {
    if (closed) return;
    closed = true;
    clearInterval(heartbeat);
    unwatch();
    streams.delete(end);
    raw.end();
  };
  streams.add(end);
  request.raw.on("close", end);
}
