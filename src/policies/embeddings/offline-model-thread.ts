import { Worker } from "node:worker_threads";
import { Gauge } from "prom-client";
import { metricsRegistry } from "../../metrics.js";
import { EmbeddingUnavailableError } from "./embedding-provider.js";
import type { ModelReply, ModelTask } from "./offline-model-worker.js";

/** `loaded`: the weights are in memory (in the model thread); nothing at start loads them. */
export type OfflineModelState = "not_loaded" | "loaded";

interface Pending {
  resolve(vectors: Float32Array[]): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * A task (loading the model included) that takes longer than this is failed and the thread is ended:
 * a hung model must not hold a registration or a retrieval forever. Generous, because a first load
 * on a busy machine takes seconds and a batch of long chunks more.
 */
const TASK_TIMEOUT_MS = 120_000;

/** From dist/ the compiled .js; from the TypeScript sources (vitest, tsx) a tiny loader that registers tsx. */
function workerUrl(): URL {
  const fromSources = import.meta.url.endsWith(".ts");
  return new URL(fromSources ? "./offline-model-worker-dev.mjs" : "./offline-model-worker.js", import.meta.url);
}

/**
 * The one model thread of the process, started by the first embed (never at start-up: loading the
 * model costs ~0.3-1 s and ~170 MB, and a vault that never embeds with it should pay neither). It
 * keeps the process alive only while a task is in flight. A thread that dies fails its tasks
 * (EmbeddingUnavailableError, so the caller fails closed) and the next embed starts a new one.
 */
class OfflineModelThread {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  state: OfflineModelState = "not_loaded";

  embed(texts: string[]): Promise<Float32Array[]> {
    const worker = (this.worker ??= this.start());
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        if (!this.pending.delete(id)) return;
        reject(new EmbeddingUnavailableError(`offline embedding model gave no answer within ${TASK_TIMEOUT_MS / 1000} s`));
        // Its other tasks fail through the exit handler; the next embed starts a fresh thread.
        void worker.terminate();
      }, TASK_TIMEOUT_MS);
      timer.unref();
      this.pending.set(id, { resolve, reject, timer });
      worker.ref();
      worker.postMessage({ id, texts } satisfies ModelTask);
    });
  }

  private start(): Worker {
    // --input-type (a `node --input-type=module -e` parent) is refused by a thread that runs a file.
    const worker = new Worker(workerUrl(), { execArgv: process.execArgv.filter((a) => !a.startsWith("--input-type")) });
    worker.unref();
    worker.on("message", (msg: ModelReply) => {
      if ("loaded" in msg) {
        this.state = "loaded";
        return;
      }
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      if (this.pending.size === 0) worker.unref();
      if ("error" in msg) p.reject(new EmbeddingUnavailableError(`offline embedding model failed: ${msg.error}`));
      else p.resolve(msg.vectors);
    });
    const fail = (detail: string) => {
      if (this.worker !== worker) return;
      this.worker = undefined;
      this.state = "not_loaded";
      const failed = [...this.pending.values()];
      this.pending.clear();
      for (const p of failed) clearTimeout(p.timer);
      for (const p of failed) p.reject(new EmbeddingUnavailableError(`offline embedding model thread ${detail}`));
    };
    worker.on("error", (err) => fail(`failed: ${err.message}`));
    worker.on("exit", (code) => fail(`exited with code ${code}`));
    return worker;
  }
}

export const offlineModelThread = new OfflineModelThread();

/** 0 until the offline model is loaded (on the first embed with it), then 1: start-up never loads it. */
new Gauge({
  name: "countersign_embedding_model_loaded",
  help: "1 when the offline embedding model is loaded in this process (on first use, never at start), else 0",
  registers: [metricsRegistry],
  collect() {
    this.set(offlineModelThread.state === "loaded" ? 1 : 0);
  },
});
