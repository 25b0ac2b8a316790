import { boundedFetch } from "../http-client/bounded-fetch.js";
import { findDuplicateKey } from "../tokens/duplicate-keys.js";
import { EmbeddingUnavailableError, embedInBatches, type Embedded, type EmbeddingProvider } from "../policies/embeddings/embedding-provider.js";
import type { Judge, JudgeInput, Verdict } from "./judge.js";
import { toWireInput } from "./wire.js";

/**
 * The vault's side of `countersign judge`: POST /evaluate and POST /embed with X-API-Key. Errors
 * and non-2xx answers throw; the fail-closed wrapper turns them into review and counts them. The
 * calls follow no redirect (one would carry the key and the agent's request elsewhere), and an
 * answer over VAULT_JUDGE_MAX_RESPONSE_BYTES or past the timeout is an error like any other.
 */
export class JudgeClient implements Judge {
  constructor(
    private readonly baseUrl: string,
    private readonly apiKey: string,
    private readonly timeoutMs: number,
    private readonly maxResponseBytes: number,
  ) {}

  async evaluate(input: JudgeInput): Promise<Verdict> {
    return (await this.post("/evaluate", toWireInput(input))) as Verdict;
  }

  /**
   * Embeddings computed by the judge service, so a vault behind it never loads a model itself.
   * `tenantId`: the judge embeds with that tenant's own key (its bundle's `embedding_api_key`, which
   * the judge reads itself: no key crosses this wire); absent, with the judge's EMBEDDING_API_KEY.
   */
  embeddings(configuredModel: string, tenantId?: string): EmbeddingProvider {
    return {
      model: configuredModel,
      embed: async (texts: string[]): Promise<Embedded> => {
        // Small batches: each call must finish well inside the judge timeout, and its answer fit the
        // response cap (8 texts of 4096 floats as JSON is about 0.7 MB, under the 1 MiB default).
        const vectors = await embedInBatches(texts, 8, async (batch) => {
          const answer = await this.embedBatch(batch, tenantId);
          // Chunks are reused and searched by model name: the two processes must agree on it.
          if (answer.model !== configuredModel) {
            throw new EmbeddingUnavailableError(`the judge embeds with ${answer.model} but this vault's EMBEDDING_MODEL is ${configuredModel}; set the same value on both`);
          }
          return answer.vectors;
        });
        return { model: configuredModel, vectors };
      },
    };
  }

  private async embedBatch(texts: string[], tenantId: string | undefined): Promise<Embedded> {
    let res: { model?: unknown; vectors?: unknown };
    try {
      res = (await this.post("/embed", tenantId === undefined ? { texts } : { texts, tenant_id: tenantId })) as typeof res;
    } catch (err) {
      // Any failure, the judge's 503 tenant_secrets_unavailable (it cannot read the tenant's bundle)
      // included: nothing is embedded, so registration answers 503 embedding_unavailable and writes nothing.
      throw new EmbeddingUnavailableError(`judge service could not embed: ${(err as Error).message}`);
    }
    const valid =
      typeof res.model === "string" &&
      Array.isArray(res.vectors) &&
      res.vectors.length === texts.length &&
      res.vectors.every((v) => Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === "number" && Number.isFinite(x)));
    if (!valid) throw new EmbeddingUnavailableError("judge service returned an invalid embedding answer");
    return { model: res.model as string, vectors: (res.vectors as number[][]).map((v) => Float32Array.from(v)) };
  }

  private async post(path: string, body: unknown): Promise<unknown> {
    const res = await boundedFetch(
      new URL(path, this.baseUrl),
      { method: "POST", headers: { "content-type": "application/json", "x-api-key": this.apiKey }, body: JSON.stringify(body) },
      { timeoutMs: this.timeoutMs, maxResponseBytes: this.maxResponseBytes },
    );
    const text = await res.text();
    if (!res.ok) throw new Error(`judge answered ${res.status}: ${text.slice(0, 200)}`);
    const parsed = JSON.parse(text) as unknown;
    // A verdict with a repeated name ({"decision":"deny","decision":"approve"}) has no one meaning
    // (RFC 7493 §2.3); it is an error, which the fail-closed wrapper turns into review.
    const repeated = findDuplicateKey(text);
    if (repeated !== null) throw new Error(`judge answer repeats the member name at ${repeated}`);
    return parsed;
  }
}
