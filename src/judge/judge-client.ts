import { EmbeddingUnavailableError, embedInBatches, type Embedded, type EmbeddingProvider } from "./embeddings/embedding-provider.js";
import type { Judge, JudgeInput, Verdict } from "./judge.js";
import { toWireInput } from "./wire.js";

/**
 * The vault's side of `countersign judge`: POST /evaluate and POST /embed with X-API-Key. Errors
 * and non-2xx answers throw; the fail-closed wrapper turns them into review and counts them.
 */
export class JudgeClient implements Judge {
  constructor(
    private readonly baseUrl: string,
    private readonly apiKey: string,
    private readonly timeoutMs: number,
  ) {}

  async evaluate(input: JudgeInput): Promise<Verdict> {
    return (await this.post("/evaluate", toWireInput(input))) as Verdict;
  }

  /** Embeddings computed by the judge service, so a vault behind it never loads a model itself. */
  embeddings(configuredModel: string): EmbeddingProvider {
    return {
      model: configuredModel,
      embed: async (texts: string[]): Promise<Embedded> => {
        // Small batches: each call must finish well inside the judge timeout.
        const vectors = await embedInBatches(texts, 32, async (batch) => {
          const answer = await this.embedBatch(batch);
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

  private async embedBatch(texts: string[]): Promise<Embedded> {
    let res: { model?: unknown; vectors?: unknown };
    try {
      res = (await this.post("/embed", { texts })) as typeof res;
    } catch (err) {
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
    const res = await fetch(new URL(path, this.baseUrl), {
      method: "POST",
      headers: { "content-type": "application/json", "x-api-key": this.apiKey },
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`judge answered ${res.status}: ${text.slice(0, 200)}`);
    return JSON.parse(text) as unknown;
  }
}
