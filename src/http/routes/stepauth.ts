import type { FastifyInstance, FastifyRequest } from "fastify";
import { AppError, isAppError } from "../../errors.js";
import type { StepAuthSender } from "../../stepauth/sender-store.js";
import type { AppContext } from "../app-context.js";
import {
  cancelledSchema,
  directoryExamples,
  directorySchema,
  envelopeExample,
  envelopeSchema,
  metadataExample,
  metadataSchema,
  pendingSchema,
  pollParams,
  spDoc,
  submittedExample,
  submittedSchema,
  tenantParams,
} from "./stepauth-docs.js";

/**
 * Bodies here are signed envelopes, read as raw bytes (any content type): the signatures cover the
 * payload inside exactly as sent. 1 MiB is far above any real message (a request payload is at most
 * 256 KiB, which base64 makes 342 KiB) and bounds what an unauthenticated sender can make us read.
 */
export const STEPAUTH_BODY_LIMIT = 1024 * 1024;

/**
 * The StepAuth SP endpoints, each tenant its own hub under /stepauth/{tenant}/v1 (docs/stepauth.md).
 * No API key: the envelope authenticates its sender. Errors are problem+json that also carry the
 * `error` and `message` members the StepAuth SDKs read; load is shed with 503 and Retry-After,
 * never 429, because the SDKs retry 5xx and not 4xx.
 */
export function stepAuthRoutes(app: FastifyInstance, ctx: AppContext) {
  void app.register(async (scope) => {
    scope.removeAllContentTypeParsers();
    scope.addContentTypeParser("*", { parseAs: "buffer", bodyLimit: STEPAUTH_BODY_LIMIT }, (_request, body, done) => done(null, body));
    routes(scope, ctx);
  });
}

/** Per sender and tenant, the vault's per-key rate: charged once the Ed25519 signature verified, before the ML-DSA-65 one (envelope-auth.ts). */
const limiter = (ctx: AppContext, tenant: string) => (sender: StepAuthSender) => ctx.rateLimiter.check(`stepauth:${tenant}:${sender.id}`);

function bodyOf(request: FastifyRequest): Uint8Array | undefined {
  return request.body instanceof Uint8Array ? request.body : undefined;
}

/** Shedding load answers 503 with Retry-After here (the SDKs do not retry 429). */
async function shed<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (isAppError(err) && (err.code === "rate_limited" || err.code === "queue_saturated")) {
      throw new AppError("overloaded", err.message, { retryAfterSeconds: err.extra.retryAfterSeconds ?? 1 });
    }
    throw err;
  }
}

const directoryKinds = ["users", "groups", "policies"] as const;

function routes(app: FastifyInstance, ctx: AppContext) {
  // A tenant id that cannot exist is the same 404 as one that does not (never a validation error).
  const sqlOf = async (request: FastifyRequest) => {
    const params = tenantParams.safeParse(request.params);
    if (!params.success) throw new AppError("not_found", "No such tenant");
    return { tenant: params.data.tenant, sql: await ctx.tenantDbs.get(params.data.tenant) };
  };

  app.get(
    "/stepauth/:tenant/v1/metadata",
    { config: spDoc({ summary: "The hub's metadata: entity, published keysets, host", params: tenantParams, responses: { 200: { description: "Hub metadata", schema: metadataSchema, example: metadataExample } } }) },
    async (request) => {
      const { tenant, sql } = await sqlOf(request);
      return ctx.stepauth.metadata(sql, tenant);
    },
  );

  app.post(
    "/stepauth/:tenant/v1/authorization-requests",
    {
      bodyLimit: STEPAUTH_BODY_LIMIT,
      config: spDoc({
        summary: "Submit a signed AuthorizationRequest",
        description: "Processing order: envelope, sender, all-of signature, recipient and fields, callback URL, approver, duplicate per sender; then the exact payload bytes are stored and decided like a clearance request.",
        params: tenantParams,
        body: envelopeSchema,
        bodyExample: envelopeExample,
        responses: { 202: { description: "Accepted; the decision comes by callback or poll", schema: submittedSchema, example: submittedExample } },
        errors: ["wrong_recipient", "timestamp_out_of_range", "operator_depth_exceeded", "unknown_category", "invalid_callback_url", "unknown_approver", "approver_set_too_large", "duplicate_request"],
      }),
    },
    async (request, reply) =>
      shed(async () => {
        const { tenant, sql } = await sqlOf(request);
        reply.code(202);
        return ctx.stepauth.submitter.submit(sql, tenant, bodyOf(request), limiter(ctx, tenant));
      }),
  );

  app.post(
    "/stepauth/:tenant/v1/authorization-requests/cancel",
    {
      bodyLimit: STEPAUTH_BODY_LIMIT,
      config: spDoc({
        summary: "Cancel a request the sender submitted",
        description: "Payload `{requestId, spId|senderId, timestamp}`. A cancelled request is decided denied and never signed approved; 409 already_decided when a decision exists (poll for it).",
        params: tenantParams,
        body: envelopeSchema,
        bodyExample: envelopeExample,
        responses: { 200: { description: "Cancelled", schema: cancelledSchema, example: { requestId: submittedExample.requestId, status: "cancelled" } } },
        errors: ["timestamp_out_of_range", "request_not_found", "already_decided"],
      }),
    },
    async (request) =>
      shed(async () => {
        const { tenant, sql } = await sqlOf(request);
        return ctx.stepauth.queries.cancel(sql, tenant, bodyOf(request), limiter(ctx, tenant));
      }),
  );

  app.post(
    "/stepauth/:tenant/v1/authorization-requests/:requestId/decision",
    {
      bodyLimit: STEPAUTH_BODY_LIMIT,
      config: spDoc({
        summary: "Poll for a request's signed decision",
        description: "Payload `{senderId, recipientId, requestUri, timestamp}`; `requestUri` is this request's exact path. 200: the signed Decision envelope; 202: not decided yet.",
        params: pollParams,
        body: envelopeSchema,
        bodyExample: envelopeExample,
        responses: {
          200: { description: "The signed Decision envelope", schema: envelopeSchema, example: envelopeExample },
          202: { description: "Not decided yet", schema: pendingSchema, example: { requestId: submittedExample.requestId, status: "pending" } },
        },
        errors: ["wrong_recipient", "timestamp_out_of_range", "request_not_found"],
      }),
    },
    async (request, reply) =>
      shed(async () => {
        const { tenant, sql } = await sqlOf(request);
        const params = pollParams.safeParse(request.params);
        // An id no request can have (over 256 characters) is not found, like any unknown one.
        if (!params.success) throw new AppError("request_not_found", "This sender has no request with this requestId");
        const { requestId } = params.data;
        const answer = await ctx.stepauth.queries.poll(sql, tenant, requestId, bodyOf(request), request.url, limiter(ctx, tenant));
        if (answer.status === 202) return reply.code(202).send(answer.body);
        return reply.code(200).type("application/json").send(answer.envelope);
      }),
  );

  for (const kind of directoryKinds) {
    app.post(
      `/stepauth/:tenant/v1/${kind}`,
      {
        bodyLimit: STEPAUTH_BODY_LIMIT,
        config: spDoc({
          summary: `List routable approvers: ${kind}`,
          description: "Payload `{senderId, recipientId, requestUri, timestamp, limit?, cursor?}`; `requestUri` is this request's exact path and query. Ids are NameIDs an SP may use as `action.approver`.",
          params: tenantParams,
          body: envelopeSchema,
          bodyExample: envelopeExample,
          responses: { 200: { description: `One page of ${kind}`, schema: directorySchema, example: directoryExamples[kind] } },
          errors: ["wrong_recipient", "timestamp_out_of_range"],
        }),
      },
      async (request) =>
        shed(async () => {
          const { tenant, sql } = await sqlOf(request);
          return ctx.stepauth.directory(sql, tenant, kind, bodyOf(request), request.url, limiter(ctx, tenant));
        }),
    );
  }
}

