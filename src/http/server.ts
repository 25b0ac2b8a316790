import cors from "@fastify/cors";
import type http from "node:http";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { AppContext } from "./app-context.js";
import { registerJsonParser } from "./json-body.js";
import { limitedServerFactory } from "./listener-limits.js";
import { clientErrorProblem, errorHandler, sendProblem } from "./problem.js";
import { clearanceRoutes } from "./routes/clearance.js";
import { consoleRoutes } from "./routes/console.js";
import { healthRoutes } from "./routes/health.js";
import { ledgerRoutes } from "./routes/ledger.js";
import { policyRoutes } from "./routes/policies.js";
import { reviewerRoutes } from "./routes/reviewers.js";
import { keyRoutes } from "./routes/keys.js";
import { reviewRoutes } from "./routes/reviews.js";
import { passkeyRoutes } from "./routes/passkeys.js";
import { grantRoutes } from "./routes/grants.js";
import { tokenRoutes } from "./routes/tokens.js";
import { tenantTokenKeyRoutes } from "./routes/tenant-token-keys.js";
import { tokenVerificationRoutes } from "./routes/token-verification.js";
import { tokenExecutionRoutes } from "./routes/token-execution.js";
import { webhookRoutes } from "./routes/webhooks.js";
import { recordHttpMetrics } from "./http-metrics.js";
import { registerOpenApi } from "./openapi/document.js";
import { rootRoutes } from "./routes/root.js";
import { stepAuthAdminRoutes } from "./routes/stepauth-admin.js";
import { stepAuthRoutes } from "./routes/stepauth.js";
import { agentAdminRoutes } from "./routes/agent-admin.js";
import { sigilumRoutes } from "./routes/sigilum.js";

/**
 * Builds the vault's HTTP app from a context. It never listens: entrypoints and tests decide that.
 * `serverFactory` hands it a server that already listens (src/http/early-listener.ts); without one the
 * app gets its own server, with the same socket limits.
 */
export async function buildServer(
  ctx: AppContext,
  serverFactory: (handler: http.RequestListener) => http.Server = limitedServerFactory(ctx.config.http.limits),
): Promise<FastifyInstance> {
  const app: FastifyInstance = Fastify({
    serverFactory,
    loggerInstance: ctx.log as FastifyBaseLogger,
    bodyLimit: ctx.config.http.maxBodyBytes,
    // The Ledgix SDK concatenates base URL and path, so a trailing slash in the URL yields "//path".
    routerOptions: { ignoreDuplicateSlashes: true, ignoreTrailingSlash: true, maxParamLength: 300 },
    // Bad percent-encoding and over-long path params are refused by the router, before any route.
    frameworkErrors: (err, request, reply) => errorHandler(err, request, reply),
    clientErrorHandler: clientErrorProblem,
  });
  if (ctx.config.http.corsOrigin) {
    await app.register(cors, {
      origin: ctx.config.http.corsOrigin,
      allowedHeaders: ["Content-Type", "X-Vault-API-Key", "Idempotency-Key"],
      exposedHeaders: ["Retry-After"],
    });
  }
  registerJsonParser(app);
  recordHttpMetrics(app);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) => sendProblem(reply, request, "not_found", `No route ${request.method} ${request.url.split("?")[0]}`));
  // After the error handlers, which the docs plugin's routes take, and before every route: the
  // document and the route registry see only the routes registered after it.
  await registerOpenApi(app);
  rootRoutes(app);
  healthRoutes(app, ctx);
  clearanceRoutes(app, ctx);
  reviewRoutes(app, ctx);
  passkeyRoutes(app, ctx);
  grantRoutes(app, ctx);
  webhookRoutes(app, ctx);
  reviewerRoutes(app, ctx);
  keyRoutes(app, ctx);
  tokenRoutes(app, ctx);
  tokenVerificationRoutes(app, ctx);
  tenantTokenKeyRoutes(app, ctx);
  tokenExecutionRoutes(app, ctx);
  policyRoutes(app, ctx);
  ledgerRoutes(app, ctx);
  stepAuthAdminRoutes(app, ctx);
  stepAuthRoutes(app, ctx);
  agentAdminRoutes(app, ctx);
  sigilumRoutes(app, ctx);
  consoleRoutes(app);
  return app;
}
