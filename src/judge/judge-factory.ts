import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import type { Secrets } from "../config/secrets.js";
import type { Database, Sql } from "../db/sql.js";
import { CelPool } from "../policies/cel-pool.js";
import { vectorStorageOf } from "../policies/policy-chunks.js";
import type { PolicyCache } from "../policies/policy-store.js";
import type { TenantKeys } from "../tenancy/tenant-keys.js";
import type { EmbeddingProvider } from "../policies/embeddings/embedding-provider.js";
import { OFFLINE_MODEL, OfflineEmbeddings } from "../policies/embeddings/offline-embeddings.js";
import { OpenAiEmbeddings } from "../policies/embeddings/openai-embeddings.js";
import { EvaluationJudge } from "./evaluation-judge.js";
import { JudgeClient } from "./judge-client.js";
import type { Judge } from "./judge.js";
import { LlmEvaluator } from "./llm/llm-evaluator.js";
import { ModelCredentials } from "./model-credentials.js";
import { PolicyRetriever } from "./retrieval.js";
import { StubJudge } from "./stub-judge.js";

/** EMBEDDING_MODEL: the offline model (default) or `<provider>/<model>` on an OpenAI-compatible endpoint. */
export function createEmbeddingProvider(config: Config, secrets: Pick<Secrets, "embeddingApiKey">): EmbeddingProvider {
  const { model, baseUrl, maxResponseBytes } = config.embeddings;
  if (model === OFFLINE_MODEL) return new OfflineEmbeddings();
  return new OpenAiEmbeddings(model, { baseUrl, apiKey: secrets.embeddingApiKey, timeoutMs: config.llm?.timeoutMs ?? 30_000, maxResponseBytes });
}

/**
 * Which model keys each tenant's calls carry: its bundle's (TenantKeys), else the vault's. One
 * instance per process, shared by the judge and by policy-text embedding, so a tenant's key is
 * used (or warned about, once) the same way everywhere. `tenantKeys` absent (benchmarks): the vault's.
 */
export function createModelCredentials(config: Config, tenantKeys: Pick<TenantKeys, "modelKeysFor"> | undefined, log: Logger): ModelCredentials {
  const { baseUrl: embeddingUrl } = config.embeddings;
  return new ModelCredentials(tenantKeys, {
    llm: config.llm !== undefined,
    remoteEmbeddings: config.embeddings.model !== OFFLINE_MODEL,
    embeddingsOnLlmEndpoint: !embeddingUrl || embeddingUrl === config.llm?.baseUrl,
    log,
  });
}

/**
 * `provider` as one tenant uses it: every call carries the tenant's own embedding key (its bundle's
 * `embedding_api_key`), read at call time, after the caller opened the tenant's database (which
 * reads the bundle); a tenant without one gets the provider's own key (EMBEDDING_API_KEY).
 */
export function tenantEmbeddings(provider: EmbeddingProvider, credentials: ModelCredentials, tenantId: string): EmbeddingProvider {
  return {
    model: provider.model,
    embed: (texts, opts) => provider.embed(texts, { ...opts, apiKey: opts?.apiKey ?? credentials.for(tenantId).embeddingApiKey }),
  };
}

/**
 * The evaluation pipeline as the judge service and the embedded vault both run it. `credentials`:
 * each tenant's own model keys (createModelCredentials), sent on its calls instead of LLM_API_KEY /
 * EMBEDDING_API_KEY; absent (benchmarks), every call carries the vault's.
 */
export function createEvaluationJudge(
  config: Config,
  secrets: Pick<Secrets, "llmApiKey">,
  deps: { tenantSql: (tenantId: string) => Promise<Sql>; policies: PolicyCache; embeddings: EmbeddingProvider; log: Logger; credentials?: ModelCredentials },
): EvaluationJudge {
  const credentials = deps.credentials ?? createModelCredentials(config, undefined, deps.log);
  return new EvaluationJudge({
    credentials,
    tenantSql: deps.tenantSql,
    policies: deps.policies,
    // Half the judge's time limit: a request that cannot get a worker is reviewed as condition_timeout,
    // which says why, before FailClosedJudge would give up on it as judge_timeout.
    conditions: new CelPool({
      workers: config.cel.workers,
      timeoutMs: config.cel.timeoutMs,
      queueWaitMs: Math.max(config.cel.timeoutMs, Math.floor(config.clearance.judgeTimeoutMs / 2)),
      log: deps.log,
    }),
    retriever: new PolicyRetriever(deps.embeddings, config.embeddings.topK),
    llm: config.llm ? new LlmEvaluator({ ...config.llm, apiKey: secrets.llmApiKey }) : null,
    log: deps.log,
  });
}

export interface VaultJudge {
  judge: Judge;
  /** What the vault embeds policy text with when no tenant is concerned: its own provider, or the judge service's. */
  embeddings: EmbeddingProvider;
  /**
   * What the vault embeds one tenant's policy text with: `embeddings` carrying that tenant's
   * `embedding_api_key` (in-process), or asking the judge service to use it (remote). The caller
   * has opened the tenant's database first, which read its bundle.
   */
  embeddingsFor(tenantId: string): EmbeddingProvider;
  /** True when judging needs no network I/O, so the vault may decide in the request handler. */
  local: boolean;
  kind: "remote" | "stub" | "in-process";
  /** Stops what the judge runs in this process (the condition worker threads); nothing for the others. */
  close(): Promise<void>;
  /** The in-process judge's condition pool, retrieval and LLM, which replay shares; absent for the others. */
  parts?: EvaluationJudge["parts"];
}

/**
 * The vault's judge: `countersign judge` over HTTP (which opens the tenants' bundles itself), the
 * development stub, or in-process evaluation with each tenant's model keys from `tenantKeys`.
 */
export function createVaultJudge(
  config: Config,
  secrets: Secrets,
  deps: { tenantSql: (tenantId: string) => Promise<Sql>; policies: PolicyCache; log: Logger; tenantKeys: Pick<TenantKeys, "modelKeysFor"> },
): VaultJudge {
  if (config.judge.url) {
    const client = new JudgeClient(config.judge.url, secrets.judgeApiKey!, config.clearance.judgeTimeoutMs, config.judge.maxResponseBytes);
    const model = config.embeddings.model;
    return {
      judge: client,
      embeddings: client.embeddings(model),
      embeddingsFor: (tenantId) => client.embeddings(model, tenantId),
      local: false,
      kind: "remote",
      close: async () => {},
    };
  }
  const embeddings = createEmbeddingProvider(config, secrets);
  const { tenantKeys, ...rest } = deps;
  const credentials = createModelCredentials(config, tenantKeys, deps.log);
  if (config.judge.allowStub) {
    deps.log.warn("VAULT_ALLOW_STUB_JUDGE is on: every clearance request goes to human review (development only)");
    // The stub judges nothing, but policy text is still embedded: with each tenant's key, as elsewhere.
    const embeddingsFor = (tenantId: string) => tenantEmbeddings(embeddings, credentials, tenantId);
    return { judge: new StubJudge(), embeddings, embeddingsFor, local: true, kind: "stub", close: async () => {} };
  }
  const judge = createEvaluationJudge(config, secrets, { ...rest, embeddings, credentials });
  return {
    judge,
    embeddings,
    embeddingsFor: (tenantId) => tenantEmbeddings(embeddings, credentials, tenantId),
    local: !config.llm,
    kind: "in-process",
    close: () => judge.close(),
    parts: judge.parts,
  };
}

/**
 * Start-up checks of the knowledge base, logged once: pgvector missing on the server (retrieval
 * falls back to an exact scan), and chunks embedded by another model than the configured one.
 */
export async function checkKnowledge(
  control: Database,
  tenants: { listTenantIds(): Promise<string[]>; get(id: string): Promise<Sql> },
  model: string,
  log: Logger,
): Promise<void> {
  const serverHasPgvector =
    control.engine === "pglite" || (await control.query("SELECT 1 FROM pg_available_extensions WHERE name = 'vector'")).length > 0;
  if (!serverHasPgvector) log.warn("pgvector is not installed on this PostgreSQL server: policy retrieval uses an exact cosine scan (same ranking, slower at scale)");
  const exactTenants: string[] = [];
  for (const tenantId of await tenants.listTenantIds()) {
    const sql = await tenants.get(tenantId);
    if ((await vectorStorageOf(sql)) === "exact") exactTenants.push(tenantId);
    const stale = await sql.query<{ model: string; chunks: number }>(
      `SELECT c.embedding_model AS model, count(*)::int AS chunks FROM policy_chunks c
         JOIN policies p ON p.current_version_id = c.policy_version_id
        WHERE c.embedding_model <> $1 GROUP BY c.embedding_model`,
      [model],
    );
    for (const s of stale) {
      log.warn({ tenantId, embeddedWith: s.model, chunks: s.chunks, configured: model }, "policy chunks were embedded with another model and are not searched; run `countersign policies reembed`");
    }
  }
  if (serverHasPgvector && exactTenants.length > 0) {
    // Created before pgvector was installed, or by a role that may not create the extension.
    log.warn({ tenants: exactTenants.slice(0, 20), count: exactTenants.length }, "some tenant databases store vectors without pgvector; retrieval there uses the exact scan");
  }
}
