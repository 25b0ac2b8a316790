import type { FastifyInstance } from "fastify";
import { reviewDecisionSchema } from "../../clearance/request-schema.js";
import type { AppContext } from "../../context.js";
import { authenticate, principalOf } from "../auth.js";
import { requestIdParams } from "./clearance.js";

export function reviewRoutes(app: FastifyInstance, ctx: AppContext) {
  app.post("/reviews/:request_id/decision", { preHandler: authenticate(ctx) }, async (request) => {
    const { request_id } = requestIdParams.parse(request.params);
    const body = reviewDecisionSchema.parse(request.body);
    return (await ctx.reviews.decide(principalOf(request), request_id, body.approved, body.review_reason)).body;
  });
}
