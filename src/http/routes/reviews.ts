import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { reviewDecisionSchema } from "../../requests/request-schema.js";
import type { AppContext } from "../app-context.js";
import { requireScope } from "../../tenancy/api-keys.js";
import { authenticate, principalOf } from "../auth.js";
import { queryInteger } from "../query.js";
import { requestIdParams } from "./clearance.js";

const listQuery = z.object({
  status: z.enum(["pending", "approved", "denied", "expired", "all"]).default("pending"),
  policy_id: z.string().min(1).max(128).optional(),
  tool_name: z.string().min(1).max(256).optional(),
  agent_id: z.string().min(1).max(256).optional(),
  limit: queryInteger(1, 200).default(50),
  cursor: z.string().min(1).max(500).optional(),
});

const HEARTBEAT_MS = 15_000;

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

  app.get("/reviews", { preHandler }, async (request) => {
    reviewer(request, "list reviews");
    return ctx.reviewReader.list(request.tenantSql, listQuery.parse(request.query));
  });

  app.get("/reviews/stream", { preHandler }, async (request, reply) => {
    const principal = reviewer(request, "follow reviews");
    await stream(ctx, principal.tenantId, request, reply, streams);
  });

  app.get("/reviews/:request_id", { preHandler }, async (request) => {
    const principal = reviewer(request, "read a review");
    const { request_id } = requestIdParams.parse(request.params);
    return ctx.reviewReader.detail(request.tenantSql, principal, request_id);
  });

  app.post("/reviews/:request_id/decision", { preHandler }, async (request) => {
    const { request_id } = requestIdParams.parse(request.params);
    const body = reviewDecisionSchema.parse(request.body);
    return (await ctx.reviews.decide(request.tenantSql, principalOf(request), request_id, body.approved, body.review_reason)).body;
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
