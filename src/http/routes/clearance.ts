import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { argsBodyBudget, assertArgsBudget, clearanceRequestSchema } from "../../requests/request-schema.js";
import type { AppContext } from "../app-context.js";
import { requireScope } from "../../tenancy/api-keys.js";
import { AppError } from "../../errors.js";
import { idempotencyKeyOf, principalOf } from "../auth.js";
import { clearanceExamples } from "../openapi/examples/clearance.js";
import { documented } from "../openapi/route-doc.js";
import { clearanceResponseSchema } from "../openapi/schemas/clearance.js";
import { queryInteger } from "../query.js";
import { captureSignedBody, signedOrKey } from "./sigilum-auth.js";

/** ?wait=SECONDS (0-60): hold an undecided request's answer until its status changes. */
const waitQuery = z.object({ wait: queryInteger(0, 60).default(0).describe("Seconds (0-60) to hold an undecided answer until its status changes.") });

export const requestIdParams = z.object({ request_id: z.string().min(1).max(256) });

const decided = { description: "Decided: approved (with the A-JWT), denied, or pending_review.", schema: clearanceResponseSchema };
const processing = { description: "Still processing: poll GET /clearance-status/{request_id}.", schema: clearanceResponseSchema, example: clearanceExamples.processing };

export function clearanceRoutes(app: FastifyInstance, ctx: AppContext) {
  // An API key, a Sigilum agent signature (docs/agent-identity.md), or both.
  const preHandler = signedOrKey(ctx);
  const signedErrors = [
    "SIGNATURE_MISSING", "SIGNATURE_INVALID", "SIGNATURE_EXPIRED", "SIGNATURE_COMPONENTS_INVALID", "SIGNATURE_DIGEST_MISMATCH",
    "SIGNATURE_NAMESPACE_MISMATCH", "SIGNATURE_NONCE_REPLAY", "NONCE_STORE_UNAVAILABLE", "AGENT_NAMESPACE_UNKNOWN", "AGENT_CLAIM_REQUIRED",
  ];

  // The size budget is enforced twice: on the raw text by the body parser, so that an oversized body
  // is refused before it is parsed (cheap for the event loop), and on the parsed body (the authority).
  app.post(
    "/request-clearance",
    {
      preParsing: captureSignedBody,
      preHandler,
      config: {
        jsonMemberBudget: argsBodyBudget(ctx.config.argsBudget),
        ...documented({
          summary: "Ask for a decision on one tool call",
          description:
            "The Ledgix SDK's call (wire protocol §2.1). The server applies the defaults; unknown fields are ignored (§6.11) and the " +
            "optional fields accept `null` as not given. The Ledgix fields `destination_*`, `data_categories`, `purpose`, " +
            "`processing_register_ref` and `dataset_ref` are stored, not evaluated. The answer is 200 with a decision when it is " +
            "ready within the vault's wait budget, else 202 `processing`. Denials are 200 too: `decision_status` decides. " +
            "An agent may sign the request (Sigilum profile of RFC 9421) with or instead of an API key: a key with an approved claim " +
            "makes its `agent_id` verified, and conditions see it as `agent` (docs/agent-identity.md).",
          tags: ["clearance"],
          auth: ["agent", "admin"],
          body: clearanceRequestSchema,
          bodyExample: clearanceExamples.request,
          idempotencyKey: true,
          responses: { 200: { ...decided, example: clearanceExamples.approved }, 202: processing },
          errors: ["args_too_large", "queue_saturated", "signer_unavailable", "bad_request", ...signedErrors, "AGENT_ID_MISMATCH"],
        }),
      },
    },
    async (request, reply) => {
      const principal = principalOf(request);
      requireScope(principal, ["agent", "admin"], "request clearance");
      const body = clearanceRequestSchema.parse(request.body);
      assertArgsBudget(body, ctx.config.argsBudget);
      // A verified agent's id is its claim's (or its subject): the body may repeat it, never contradict it.
      const verified = request.signedAgent;
      if (verified) {
        const claimed = (request.body as { agent_id?: unknown } | null)?.agent_id;
        if (claimed !== undefined && claimed !== null && claimed !== verified.agentId) {
          throw new AppError("AGENT_ID_MISMATCH", `agent_id "${String(claimed).slice(0, 100)}" is not the signer's verified agent id "${verified.agentId}"`);
        }
        body.agent_id = verified.agentId;
      }
      const result = await ctx.clearance.submit(request.tenantSql, principal, body, request.body, idempotencyKeyOf(request));
      return reply.code(result.httpStatus).send(result.body);
    },
  );

  app.get(
    "/clearance-status/:request_id",
    {
      preHandler,
      config: documented({
        summary: "A clearance request's decision as it stands",
        description:
          "The same answer as /request-clearance (wire protocol §2.2). The `token` is included only for the key that requested the " +
          "clearance, or an admin key; a reviewer's answer never carries it.",
        tags: ["clearance"],
        auth: ["agent", "reviewer", "admin"],
        params: requestIdParams,
        query: waitQuery,
        responses: { 200: { ...decided, example: clearanceExamples.pendingReview }, 202: processing },
        errors: ["request_not_found", ...signedErrors],
      }),
    },
    async (request, reply) => {
      const { request_id } = requestIdParams.parse(request.params);
      const { wait } = waitQuery.parse(request.query);
      const result = await ctx.clearance.status(request.tenantSql, principalOf(request), request_id, wait * 1000);
      return reply.code(result.httpStatus).send(result.body);
    },
  );
}
