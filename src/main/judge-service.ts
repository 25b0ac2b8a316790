import { createHash, timingSafeEqual } from "node:crypto";
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyRequest } from "fastify";
import type { Logger } from "pino";
import { systemClock } from "../clock.js";
import { ConfigError, type Config, type ListenerLimits } from "../config/config.js";
import { openAdminContext } from "./context.js";
import { AppError } from "../errors.js";
import { registerJsonParser } from "../http/json-body.js";
import { limitedServerFactory } from "../http/listener-limits.js";
import { clientErrorProblem, errorHandler, sendProblem } from "../http/problem.js";
import { RateLimiter } from "../http/rate-limit.js";
import { createLogger } from "../log.js";
import { PolicyCache } from "../policies/policy-store.js";
import type { EmbeddingProvider } from "../policies/embeddings/embedding-provider.js";
import { checkKnowledge, createEmbeddingProvider, createEvaluationJudge, createModelCredentials, tenantEmbeddings } from "../judge/judge-factory.js";
import type { Judge } from "../judge/judge.js";
import { metricsRegistry } from "../judge/metrics.js";
import { embedBodySchema, evaluateBodySchema, fromWireInput } from "../judge/wire.js";

const sha256 = (s: string) => createHash("sha256").update(s).digest();

/** X-API-Key against JUDGE_API_KEY: both hashed first, so the comparison is constant-time at any length. */
function keyMatches(presented: string | string[] | undefined, expected: string): boolean {
  const value = Array.isArray(presented) ? presented[0] : presented;
  return value !== undefined && timingSafeEqual(sha256(value), sha256(expected));
}

export interface JudgeServiceDeps {
  apiKey: string;
  judge: Judge;
  embeddings: EmbeddingProvider;
  /**
   * POST /embed with `tenant_id`: opens that tenant's database (so its bundle is read: 404 for an
   * unknown tenant, 503 tenant_secrets_unavailable for an unreadable bundle) and returns `embeddings`
   * carrying its own key. startJudgeService always gives it; an app built without tenants (tests of
   * the listener) refuses `tenant_id` rather than embed with a key the tenant did not choose.
   */
  embeddingsFor?: (tenantId: string) => Promise<EmbeddingProvider>;
  limiter: RateLimiter;
  log: Logger;
  ready: () => Promise<void>;
  /** Socket limits when the app listens; the vault's variables (VAULT_HTTP_*) apply to the judge too. */
  limits?: ListenerLimits;
}

/** The `countersign judge` HTTP app: POST /evaluate and POST /embed behind X-API-Key. Never listens itself. */
export function buildJudgeServer(deps: JudgeServiceDeps): FastifyInstance {
  const app: FastifyInstance = Fastify({
    serverFactory: deps.limits ? limitedServerFactory(deps.limits) : undefined,
    loggerInstance: deps.log as FastifyBaseLogger,
    bodyLimit: 16 * 1024 * 1024,
    frameworkErrors: (err, request, reply) => errorHandler(err, request, reply),
    clientErrorHandler: clientErrorProblem,
  });
  registerJsonParser(app);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler((request, reply) => sendProblem(reply, request, "not_found", `No route ${request.method} ${request.url.split("?")[0]}`));

  const guard = async (request: FastifyRequest) => {
    if (!keyMatches(request.headers["x-api-key"], deps.apiKey)) throw new AppError("unauthorized", "X-API-Key is missing or wrong");
    deps.limiter.check("judge");
  };

  app.get("/healthz", async () => ({ status: "ok" }));
  app.get("/readyz", async (request, reply) => {
    try {
      await deps.ready();
    } catch {
      return sendProblem(reply, request, "not_ready", "Control database is unreachable");
    }
    return { status: "ready", embedding_model: deps.embeddings.model };
  });
  app.get("/metrics", async (_request, reply) => {
    reply.type(metricsRegistry.contentType);
    return metricsRegistry.metrics();
  });

  app.post("/evaluate", { preHandler: guard }, async (request) => deps.judge.evaluate(fromWireInput(evaluateBodySchema.parse(request.body))));

  app.post("/embed", { preHandler: guard }, async (request) => {
    const { texts, tenant_id } = embedBodySchema.parse(request.body);
    if (tenant_id !== undefined && !deps.embeddingsFor) throw new AppError("bad_request", "this judge serves no tenants: tenant_id cannot be honoured");
    // Outside the try: the tenant's own errors (not_found, tenant_secrets_unavailable) keep their codes.
    const embeddings = tenant_id === undefined ? deps.embeddings : await deps.embeddingsFor!(tenant_id);
    let embedded;
    try {
      embedded = await embeddings.embed(texts);
    } catch (err) {
      throw new AppError("embedding_unavailable", `Embedding failed: ${(err as Error).message}`, { retryAfterSeconds: 5 });
    }
    return { model: embedded.model, dimensions: embedded.vectors[0]?.length ?? 0, vectors: embedded.vectors.map((v) => Array.from(v)) };
  });
  return app;
}

export interface RunningJudge {
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

/** One judge worker: control database for tenant routing, the evaluation pipeline, the listener. */
export function assertJudgeConfig(config: Config): void {
  if (!config.secretRefs.judgeServiceApiKey) throw new ConfigError("Invalid configuration:\n  JUDGE_API_KEY: required; the judge refuses unauthenticated callers");
  if (config.database.kind !== "postgres") {
    throw new ConfigError("Invalid configuration:\n  DATABASE_URL: the judge service shares the vault's PostgreSQL; the embedded database is in-process only");
  }
}

export async function startJudgeService(config: Config, workers = 1): Promise<RunningJudge> {
  assertJudgeConfig(config);
  const log = createLogger(config);
  const admin = await openAdminContext(config);
  try {
    const policies = new PolicyCache(systemClock, config.caches.policyTtlMs);
    const tenantSql = (tenantId: string) => admin.tenantDbs.get(tenantId);
    const embeddings = createEmbeddingProvider(config, admin.secrets);
    // The tenants' own model keys come from their bundles, read when their databases are opened;
    // one ModelCredentials for evaluation and POST /embed alike.
    const credentials = createModelCredentials(config, admin.tenantKeys, log);
    const judge = createEvaluationJudge(config, admin.secrets, { tenantSql, policies, embeddings, log, credentials });
    const knowledgeCheck = checkKnowledge(admin.control, admin.tenantDbs, embeddings.model, log).catch((err) => log.error({ err }, "knowledge check failed"));
    // The allowance is for the whole service, shared evenly by its worker processes.
    const { rps, burst } = config.judgeService.rateLimit;
    const limiter = new RateLimiter({ rps: rps / workers, burst: Math.max(1, Math.floor(burst / workers)), ttlSeconds: 3600 }, systemClock);
    const app = buildJudgeServer({
      // assertJudgeConfig checked that JUDGE_API_KEY is configured; loadSecrets that it resolved.
      apiKey: admin.secrets.judgeServiceApiKey!,
      judge,
      embeddings,
      embeddingsFor: async (tenantId) => {
        await tenantSql(tenantId);
        return tenantEmbeddings(embeddings, credentials, tenantId);
      },
      limiter,
      log,
      ready: async () => void (await admin.control.query("SELECT 1")),
      limits: config.http.limits,
    });
    const url = await app.listen({ host: config.judgeService.host, port: config.judgeService.port });
    return {
      app,
      url,
      async close() {
        await app.close();
        // After the listener: no evaluation is in flight, so the condition worker threads can go.
        await judge.close();
        await knowledgeCheck;
        await admin.close();
      },
    };
  } catch (err) {
    await admin.close().catch(() => {});
    throw err;
  }
}
