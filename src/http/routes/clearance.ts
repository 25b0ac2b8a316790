import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { argsBodyBudget, assertArgsBudget, clearanceRequestSchema } from "../../requests/request-schema.js";
import type { AppContext } from "../app-context.js";
import { requireScope } from "../../tenancy/api-keys.js";
import { authenticate, idempotencyKeyOf, principalOf } from "../auth.js";
import { queryInteger } from "../query.js";

/** ?wait=SECONDS (0-60): hold an undecided request's answer until its status changes. */
const waitQuery = z.object({ wait: queryInteger(0, 60).default(0) });

export const requestIdParams = z.object({ request_id: z.string().min(1).max(256) });

export function clearanceRoutes(app: FastifyInstance, ctx: AppContext) {
  const preHandler = authenticate(ctx);

  // The size budget is enforced twice: on the raw text by the body parser, so that an oversized body
  // is refused before it is parsed (cheap for the event loop), and on the parsed body (the authority).
  app.post("/request-clearance", { preHandler, config: { jsonMemberBudget: argsBodyBudget(ctx.config.argsBudget) } }, async (request, reply) => {
    const principal = principalOf(request);
    requireScope(principal, ["agent", "admin"], "request clearance");
    const body = clearanceRequestSchema.parse(request.body);
    assertArgsBudget(body, ctx.config.argsBudget);
    const result = await ctx.clearance.submit(request.tenantSql, principal, body, request.body, idempotencyKeyOf(request));
    return reply.code(result.httpStatus).send(result.body);
  });

  app.get("/clearance-status/:request_id", { preHandler }, async (request, reply) => {
    const { request_id } = requestIdParams.parse(request.params);
    const { wait } = waitQuery.parse(request.query);
    const result = await ctx.clearance.status(request.tenantSql, principalOf(request), request_id, wait * 1000);
    return reply.code(result.httpStatus).send(result.body);
  });
}
