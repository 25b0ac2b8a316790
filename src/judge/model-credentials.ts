import type { Logger } from "pino";
import type { TenantKeys } from "../tenancy/tenant-keys.js";

/** The keys one tenant's judge calls carry; absent: the vault's own (LLM_API_KEY, EMBEDDING_API_KEY). */
export interface TenantModelKeys {
  llmApiKey?: string;
  embeddingApiKey?: string;
}

const NONE: TenantModelKeys = Object.freeze({});

/**
 * Which model credentials the judge sends for a tenant: its bundle's `llm_api_key` and
 * `embedding_api_key` (TenantKeys, read when the tenant's database was opened, which the judge does
 * first), else the vault's. It mirrors the vault-wide rule of config.ts: the LLM key also goes to the
 * embedding endpoint when that endpoint is the LLM's own.
 *
 * A tenant key this judge has no use for (no LLM configured, or the offline embedding model) is
 * said once per tenant in a warning naming the field, never the value: it is not silently ignored.
 */
export class ModelCredentials {
  private readonly warned = new Set<string>();

  constructor(
    private readonly keys: Pick<TenantKeys, "modelKeysFor"> | undefined,
    private readonly setup: {
      /** An LLM is configured (LLM_MODEL). */
      llm: boolean;
      /** Embeddings go to an endpoint that takes a key (not the offline model). */
      remoteEmbeddings: boolean;
      /** The embedding endpoint is the LLM's own (no EMBEDDING_BASE_URL, or the same URL). */
      embeddingsOnLlmEndpoint: boolean;
      log: Logger;
    },
  ) {}

  for(tenantId: string): TenantModelKeys {
    const own = this.keys?.modelKeysFor(tenantId);
    if (!own || (own.llmApiKey === undefined && own.embeddingApiKey === undefined)) return NONE;
    const { llm, remoteEmbeddings, embeddingsOnLlmEndpoint } = this.setup;
    if (own.llmApiKey !== undefined && !llm) this.warnOnce(tenantId, "llm_api_key", "no LLM is configured on this judge (LLM_MODEL)");
    if (own.embeddingApiKey !== undefined && !remoteEmbeddings) this.warnOnce(tenantId, "embedding_api_key", "this judge embeds with the offline model");
    const embeddingApiKey = own.embeddingApiKey ?? (embeddingsOnLlmEndpoint ? own.llmApiKey : undefined);
    return { llmApiKey: llm ? own.llmApiKey : undefined, embeddingApiKey: remoteEmbeddings ? embeddingApiKey : undefined };
  }

  private warnOnce(tenantId: string, field: string, why: string): void {
    const key = `${tenantId}\0${field}`;
    if (this.warned.has(key)) return;
    this.warned.add(key);
    this.setup.log.warn({ tenantId, field }, `the tenant's bundle gives ${field}, but ${why}: the key is not used`);
  }
}
