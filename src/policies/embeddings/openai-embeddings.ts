import OpenAI from "openai";
import { outboundFailureOf } from "../../http-client/bounded-fetch.js";
import { EmbeddingUnavailableError, embedInBatches, normalize, type EmbedOptions, type Embedded, type EmbeddingProvider } from "./embedding-provider.js";
import { openAiClient, providerModelName, type OpenAiSettings } from "../../http-client/openai-client.js";

/**
 * Any OpenAI-compatible /v1/embeddings endpoint: OpenAI, a LiteLLM proxy, vLLM, Ollama. A redirect,
 * an answer over EMBEDDING_MAX_RESPONSE_BYTES or a timeout is an EmbeddingUnavailableError.
 */
export class OpenAiEmbeddings implements EmbeddingProvider {
  private readonly client: OpenAI;

  constructor(
    readonly model: string,
    settings: OpenAiSettings,
  ) {
    this.client = openAiClient(settings);
  }

  async embed(texts: string[], opts: EmbedOptions = {}): Promise<Embedded> {
    if (texts.length === 0) return { model: this.model, vectors: [] };
    // A tenant's key replaces the client's for this call only (the SDK applies request headers last).
    const headers = opts.apiKey ? { Authorization: `Bearer ${opts.apiKey}` } : undefined;
    const vectors = await embedInBatches(texts, 128, async (batch) => {
      try {
        const res = await this.client.embeddings.create({ model: providerModelName(this.model), input: batch, encoding_format: "float" }, { headers });
        return [...res.data].sort((a, b) => a.index - b.index).map((d) => normalize(d.embedding));
      } catch (err) {
        if (err instanceof EmbeddingUnavailableError) throw err;
        throw new EmbeddingUnavailableError(`embedding endpoint failed: ${(outboundFailureOf(err) ?? (err as Error)).message}`);
      }
    });
    return { model: this.model, vectors };
  }
}
