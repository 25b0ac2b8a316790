import type { FastifyInstance } from "fastify";
import { z } from "zod";
import { executionCloseSchema, executionReportSchema, jtiSchema } from "../../requests/execution-service.js";
import { requireScope } from "../../tenancy/api-keys.js";
import type { AppContext } from "../app-context.js";
import { authenticate, principalOf } from "../auth.js";
import { tokenExecutionExamples } from "../openapi/examples/token-execution.js";
import { documented } from "../openapi/route-doc.js";
import { executionResponseSchema, unreportedListSchema } from "../openapi/schemas/token-execution.js";
import { queryInteger } from "../query.js";

const jtiParams = z.object({ jti: jtiSchema.describe("The token's `jti` claim (also in /consume-token's answer).") });

const unreportedQuery = z.object({
  limit: queryInteger(1, 200).default(50).describe("Page size, 1-200 (default 50)."),
  cursor: z.string().min(1).max(500).optional().describe("The next_cursor of the previous page."),
});

const reportDoc = documented({
  summary: "Report what the action of a burned token did",
  description:
    "Closes the loop after `/consume-token`: the consumer (a gateway, the SDK's guard, any caller) reports the action's result, " +
    "with the API key that burned the token or an admin key (another agent key is 403 `not_token_consumer`), " +
    "recorded once as a `token.executed` ledger event that links the approval and the burn (and a `token.executed` webhook). " +
    "Sending the same report again answers the stored one with `replayed: true`; a different report for the same token is 409. " +
    "`outcome` defaults from `status`: 2xx/3xx succeeded, another status failed, null error. Unknown fields are refused.",
  tags: ["tokens"],
  auth: ["agent", "admin"],
  params: jtiParams,
  body: executionReportSchema,
  bodyExample: tokenExecutionExamples.reportRequest,
  responses: { 200: { description: "The stored report.", schema: executionResponseSchema, example: tokenExecutionExamples.reported } },
  errors: ["validation_failed", "insufficient_scope", "not_token_consumer", "token_not_found", "token_not_consumed", "execution_already_reported", "signer_unavailable", "tenant_secrets_unavailable"],
});

const unreportedDoc = documented({
  summary: "Burned tokens never reported (lost-consume recovery)",
  description:
    "Tokens burned more than `VAULT_EXECUTION_REPORT_TIMEOUT_SECONDS` ago with no execution report, newest first: the action may " +
    "or may not have run. A reviewer closes one with `POST /tokens/{jti}/execution/close`. Keyset pagination: pass `next_cursor` back as `cursor`.",
  tags: ["tokens"],
  auth: ["reviewer", "admin"],
  query: unreportedQuery,
  responses: { 200: { description: "One page of unreported burns.", schema: unreportedListSchema, example: tokenExecutionExamples.unreported } },
  errors: ["validation_failed", "insufficient_scope", "tenant_secrets_unavailable"],
});

const closeDoc = documented({
  summary: "Close a burn that was never reported, as outcome unknown",
  description:
    "For a lost consume: records the same `token.executed` event a report would, with outcome `unknown`, no status, the reviewer's note " +
    "as `detail`, and who closed it (name and reviewer id). Refused with 409 `execution_report_not_overdue` until the burn is older than " +
    "`VAULT_EXECUTION_REPORT_TIMEOUT_SECONDS`, and under the rules of a review vote (eligible reviewers, not the request's key, not its human principal). " +
    "Closing again with the same note answers the stored report (`replayed: true`); any other report is 409.",
  tags: ["tokens"],
  auth: ["reviewer", "admin"],
  params: jtiParams,
  body: executionCloseSchema,
  bodyExample: tokenExecutionExamples.closeRequest,
  responses: { 200: { description: "The stored report.", schema: executionResponseSchema, example: tokenExecutionExamples.closed } },
  errors: [
    "validation_failed",
    "insufficient_scope",
    "csrf_header_missing",
    "reviewer_not_eligible",
    "self_approval_forbidden",
    "principal_approval_forbidden",
    "token_not_found",
    "token_not_consumed",
    "execution_report_not_overdue",
    "execution_already_reported",
    "signer_unavailable",
    "tenant_secrets_unavailable",
  ],
});

/** Execution reports and lost-consume recovery (src/requests/execution-service.ts). */
export function tokenExecutionRoutes(app: FastifyInstance, ctx: AppContext) {
  const preHandler = authenticate(ctx);

  app.post("/tokens/:jti/execution", { preHandler, config: reportDoc }, async (request) => {
    const principal = principalOf(request);
    requireScope(principal, ["agent", "admin"], "report executions");
    const { jti } = jtiParams.parse(request.params);
    return ctx.execution.report(request.tenantSql, principal, jti, executionReportSchema.parse(request.body));
  });

  app.get("/tokens/unreported", { preHandler, config: unreportedDoc }, async (request) => {
    requireScope(principalOf(request), ["reviewer", "admin"], "list unreported burns");
    return ctx.execution.unreported(request.tenantSql, unreportedQuery.parse(request.query));
  });

  app.post("/tokens/:jti/execution/close", { preHandler, config: closeDoc }, async (request) => {
    const principal = principalOf(request);
    requireScope(principal, ["reviewer", "admin"], "close unreported burns");
    const { jti } = jtiParams.parse(request.params);
    return ctx.execution.close(request.tenantSql, principal, jti, executionCloseSchema.parse(request.body).note);
  });
}
