import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from "node:worker_threads";
import type { Logger } from "pino";
import type { ConditionInput } from "./cel.js";
import { wallClockMs, type CelResult, type CelTask, type CelWorkerData, type CelWorkerMessage } from "./cel-worker.js";

/**
 * Policy conditions run here, in worker threads, never on the event loop. CEL has no cost limit and a
 * condition such as `args.to.exists(r, !r.matches(...))` over a long list runs for seconds of
 * synchronous JavaScript; on the main thread that stalled /healthz and every tenant's requests.
 *
 * Each request's conditions are one task with a hard budget (VAULT_CEL_TIMEOUT_MS), counted from the
 * moment a worker starts evaluating it (after compiling any expression new to that worker). Over the
 * budget the worker is terminated (V8 interrupts running JavaScript, also a busy loop) and replaced,
 * and the request goes to review with condition_timeout.
 *
 * On a busy machine the budget timer can fire late, or before a worker the OS had not scheduled has
 * begun: so when it fires, a result already sent is taken, and a task not yet started (or started
 * late) gets the rest of its budget, up to queueWaitMs in all. Only a task that has run for the
 * whole budget is stopped.
 *
 * worker_threads are used directly rather than piscina so that a hung task always ends in
 * worker.terminate(), and so that the budget excludes the wait for a free worker (see queueWaitMs).
 *
 * Every input takes this path, also tiny ones in the rules-only fast path: any input can be hostile
 * under a costly expression, and the size budget (request-schema.ts) bounds the copying cost instead.
 */

export type CelRun =
  | { kind: "done"; results: CelResult[] }
  /** The budget ran out while evaluating, or no worker was free in time. */
  | { kind: "timeout"; timeoutMs: number; waitedForWorker: boolean }
  /** A worker failed for another reason (out of memory, crashed, pool closed). */
  | { kind: "unavailable"; detail: string };

/** The port the judge evaluates conditions through. */
export interface ConditionRunner {
  readonly timeoutMs: number;
  evaluate(expressions: string[], input: ConditionInput): Promise<CelRun>;
  close(): Promise<void>;
}

// Beyond this many waiting tasks the pool is saturated: answer at once instead of growing memory.
const MAX_QUEUED = 1_024;
// A condition's memory is bounded too: a worker over this is killed by V8 and the request reviewed.
const WORKER_HEAP_MB = 128;

interface Pending {
  task: CelTask;
  resolve: (run: CelRun) => void;
  queuedTimer?: NodeJS.Timeout;
}

interface Slot {
  worker: Worker;
  /** Where the worker's results arrive; drained synchronously when a budget timer fires. */
  results: MessagePort;
  startedId: Int32Array;
  startedAt: Float64Array;
  ready: boolean;
  running?: { pending: Pending; timer: NodeJS.Timeout; postedAt: number };
}

/** From dist/ the compiled .js; from the TypeScript sources (vitest, tsx) a tiny loader (cel-worker-dev.mjs). */
function workerUrl(): URL {
  const fromSources = import.meta.url.endsWith(".ts");
  return new URL(fromSources ? "./cel-worker-dev.mjs" : "./cel-worker.js", import.meta.url);
}

export class CelPool implements ConditionRunner {
  readonly timeoutMs: number;
  private readonly size: number;
  private readonly slots = new Set<Slot>();
  private readonly queue: Pending[] = [];
  private nextId = 1;
  private closed = false;

  constructor(
    private readonly opts: {
      workers: number;
      /** The per-request budget of running conditions (VAULT_CEL_TIMEOUT_MS). */
      timeoutMs: number;
      /**
       * How long a request may wait for a free (or starting) worker before it fails closed as
       * condition_timeout. Not part of the budget: under a burst of slow conditions benign requests
       * queue behind at most workers x budget per round, and answering them late beats sending them
       * all to review. The judge passes half its own time limit (judge-factory.ts).
       */
      queueWaitMs: number;
      log?: Logger;
    },
  ) {
    this.size = Math.max(1, opts.workers);
    this.timeoutMs = opts.timeoutMs;
  }

  evaluate(expressions: string[], input: ConditionInput): Promise<CelRun> {
    if (expressions.length === 0) return Promise.resolve({ kind: "done", results: [] });
    if (this.closed) return Promise.resolve({ kind: "unavailable", detail: "condition pool is closed" });
    // Workers start on first use, so commands that never judge never start threads.
    while (this.slots.size < this.size) this.spawn();
    if (this.queue.length >= MAX_QUEUED) return Promise.resolve({ kind: "timeout", timeoutMs: this.timeoutMs, waitedForWorker: true });
    return new Promise<CelRun>((resolve) => {
      const pending: Pending = { task: { id: this.nextId++, expressions, input }, resolve };
      pending.queuedTimer = setTimeout(() => {
        const at = this.queue.indexOf(pending);
        if (at >= 0) this.queue.splice(at, 1);
        resolve({ kind: "timeout", timeoutMs: this.timeoutMs, waitedForWorker: true });
      }, this.opts.queueWaitMs);
      this.queue.push(pending);
      this.pump();
    });
  }

  /** Terminates every worker; waiting requests fail closed. */
  async close(): Promise<void> {
    this.closed = true;
    for (const pending of this.queue.splice(0)) this.finish(pending, { kind: "unavailable", detail: "condition pool is closed" });
    const workers = [...this.slots].map((slot) => this.retire(slot, { kind: "unavailable", detail: "condition pool is closed" }));
    await Promise.all(workers.map((w) => w.terminate().catch(() => 0)));
  }

  private spawn(): void {
    const { port1, port2 } = new MessageChannel();
    const data: CelWorkerData = {
      results: port2,
      startedId: new Int32Array(new SharedArrayBuffer(4)),
      startedAt: new Float64Array(new SharedArrayBuffer(8)),
    };
    const worker = new Worker(workerUrl(), { workerData: data, transferList: [port2], resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } });
    // An idle pool never keeps the process alive; a running task does, through its budget timer.
    worker.unref();
    port1.unref();
    const slot: Slot = { worker, results: port1, startedId: data.startedId, startedAt: data.startedAt, ready: false };
    this.slots.add(slot);
    port1.on("message", (msg: CelWorkerMessage) => this.onMessage(slot, msg));
    worker.on("error", (err) => {
      this.opts.log?.warn({ err }, "condition worker failed; replacing it");
      this.replace(slot, { kind: "unavailable", detail: err.message });
    });
    worker.on("exit", (code) => this.replace(slot, { kind: "unavailable", detail: `condition worker exited with code ${code}` }));
  }

  private onMessage(slot: Slot, msg: CelWorkerMessage): void {
    if ("ready" in msg) {
      slot.ready = true;
    } else if (slot.running && slot.running.pending.task.id === msg.id) {
      clearTimeout(slot.running.timer);
      const { pending } = slot.running;
      slot.running = undefined;
      this.finish(pending, { kind: "done", results: msg.results });
    }
    this.pump();
  }

  private pump(): void {
    for (const slot of this.slots) {
      if (this.queue.length === 0) return;
      if (!slot.ready || slot.running) continue;
      const pending = this.queue.shift()!;
      clearTimeout(pending.queuedTimer);
      slot.running = { pending, timer: this.budgetTimer(slot, this.timeoutMs), postedAt: wallClockMs() };
      try {
        slot.worker.postMessage(pending.task);
      } catch (err) {
        // Input that cannot be cloned never came from JSON; fail this request only.
        clearTimeout(slot.running.timer);
        slot.running = undefined;
        this.finish(pending, { kind: "unavailable", detail: err instanceof Error ? err.message : String(err) });
      }
    }
  }

  private budgetTimer(slot: Slot, ms: number): NodeJS.Timeout {
    return setTimeout(() => this.onBudgetTimer(slot), Math.max(1, ms));
  }

  private onBudgetTimer(slot: Slot): void {
    const running = slot.running;
    if (!running || !this.slots.has(slot)) return;
    const sent = receiveMessageOnPort(slot.results);
    if (sent) return this.onMessage(slot, sent.message as CelWorkerMessage);
    const now = wallClockMs();
    const started = Atomics.load(slot.startedId, 0) === running.pending.task.id;
    const left = started ? this.timeoutMs - (now - slot.startedAt[0]!) : this.timeoutMs;
    if (left > 0 && now - running.postedAt < this.opts.queueWaitMs) {
      running.timer = this.budgetTimer(slot, left);
      return;
    }
    this.opts.log?.warn({ timeoutMs: this.timeoutMs, started }, "policy conditions exceeded their time budget; terminating the worker");
    this.replace(slot, { kind: "timeout", timeoutMs: this.timeoutMs, waitedForWorker: false });
  }

  /** Removes a worker (its running task, if any, ends with `run`), and starts a fresh one in its place. */
  private replace(slot: Slot, run: CelRun): void {
    if (!this.slots.has(slot)) return;
    void this.retire(slot, run).terminate().catch(() => 0);
    // A worker that died before it was ready would die again: the next request retries instead of a
    // respawn loop here, and requests already waiting fail closed when their wait runs out.
    if (!slot.ready) this.opts.log?.error({ detail: run.kind === "unavailable" ? run.detail : run.kind }, "condition worker failed to start");
    else if (!this.closed) this.spawn();
    this.pump();
  }

  private retire(slot: Slot, run: CelRun): Worker {
    this.slots.delete(slot);
    if (slot.running) {
      clearTimeout(slot.running.timer);
      this.finish(slot.running.pending, run);
      slot.running = undefined;
    }
    slot.results.removeAllListeners("message");
    slot.results.close();
    return slot.worker;
  }

  private finish(pending: Pending, run: CelRun): void {
    clearTimeout(pending.queuedTimer);
    pending.resolve(run);
  }
}
