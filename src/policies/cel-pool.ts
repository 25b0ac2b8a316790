import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from "node:worker_threads";
import type { Logger } from "pino";
import type { ConditionInput } from "./cel.js";
import type { CelRun, ConditionRunner } from "./condition-runner.js";
import { FairQueue } from "./fair-queue.js";
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
 *
 * No tenant may stall the others through the pool (issue 11): a tenant that sends many costly
 * conditions at once would otherwise hold every worker, and each timeout kills a worker whose
 * replacement takes ~200 ms to start. So:
 *  - waiting tasks are served round-robin by tenant (fair-queue.ts), not first come first served;
 *  - while another tenant waits, one tenant may run on at most `workers - 1` workers at once (when
 *    `workers` > 1), so a worker that frees up goes to the tenant that was held back;
 *  - the pool keeps `workers + 1` threads of which at most `workers` run tasks: the spare is warm, so
 *    a killed worker's place is taken at once, and its replacement starts in the background;
 *  - the last warm thread is kept for tenants whose tasks do not kill threads (see mayStart), so the
 *    restarts a costly tenant causes delay that tenant, not the others.
 */

// Beyond this many waiting tasks the pool is saturated: answer at once instead of growing memory. One
// tenant reaches its own limit long before the pool's, so its flood is what gets refused, not others.
const MAX_QUEUED = 4_096;
const MAX_QUEUED_PER_TENANT = 256;
// How long a tenant whose task cost its thread is kept off the last warm thread (mayStart).
const COSTLY_MEMORY_MS = 10_000;
// A condition's memory is bounded too: a worker over this is killed by V8 and the request reviewed.
const WORKER_HEAP_MB = 128;

interface Pending {
  /** Whose request this is: the key of fair queueing. */
  tenant: string;
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

/** What the pool holds now; for tests and diagnostics. */
export interface CelPoolStats {
  /** Threads alive, starting or ready: at most workers + 1. */
  threads: number;
  /** Threads started and idle: a task posted now would start at once. */
  idle: number;
  running: number;
  waiting: number;
  /** Threads started since the pool was created (first use, then one per worker lost). */
  spawned: number;
}

export class CelPool implements ConditionRunner {
  readonly timeoutMs: number;
  /** At most this many tasks run at once (VAULT_CEL_WORKERS); one more thread is kept as a warm spare. */
  private readonly size: number;
  /** How many workers one tenant may hold while another tenant waits. */
  private readonly share: number;
  private readonly slots = new Set<Slot>();
  private readonly waiting = new FairQueue<Pending>();
  private readonly runningByTenant = new Map<string, number>();
  /** When a tenant's task last cost its thread (over budget, out of memory): see mayStart. */
  private readonly lastCostlyAt = new Map<string, number>();
  private running = 0;
  private spawned = 0;
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
    this.share = Math.max(1, this.size - 1);
    this.timeoutMs = opts.timeoutMs;
  }

  evaluate(expressions: string[], input: ConditionInput, tenant: string): Promise<CelRun> {
    if (expressions.length === 0) return Promise.resolve({ kind: "done", results: [] });
    if (this.closed) return Promise.resolve({ kind: "unavailable", detail: "condition pool is closed" });
    // Threads start on first use, so commands that never judge never start them; a thread that failed
    // to start is retried here, by the next request (see replace()).
    while (this.slots.size < this.size + 1) this.spawn();
    if (this.waiting.size >= MAX_QUEUED || this.waiting.sizeOf(tenant) >= MAX_QUEUED_PER_TENANT) {
      return Promise.resolve({ kind: "timeout", timeoutMs: this.timeoutMs, waitedForWorker: true });
    }
    return new Promise<CelRun>((resolve) => {
      const pending: Pending = { tenant, task: { id: this.nextId++, expressions, input }, resolve };
      pending.queuedTimer = setTimeout(() => {
        if (this.waiting.remove(tenant, pending)) resolve({ kind: "timeout", timeoutMs: this.timeoutMs, waitedForWorker: true });
      }, this.opts.queueWaitMs);
      this.waiting.push(tenant, pending);
      this.pump();
    });
  }

  stats(): CelPoolStats {
    const idle = [...this.slots].filter((s) => s.ready && !s.running).length;
    return { threads: this.slots.size, idle, running: this.running, waiting: this.waiting.size, spawned: this.spawned };
  }

  /** Terminates every worker; waiting requests fail closed. */
  async close(): Promise<void> {
    this.closed = true;
    for (const pending of this.waiting.drain()) this.finish(pending, { kind: "unavailable", detail: "condition pool is closed" });
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
    this.spawned++;
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
      this.finish(this.release(slot), { kind: "done", results: msg.results });
    }
    this.pump();
  }

  /** Starts waiting tasks on idle threads: at most `size` at once, tenants in turn. */
  private pump(): void {
    while (this.running < this.size && this.waiting.size > 0) {
      const idle = [...this.slots].filter((s) => s.ready && !s.running);
      if (idle.length === 0) return;
      const next = this.waiting.shift((tenant) => this.mayStart(tenant, idle.length));
      if (!next) return;
      this.start(idle[0]!, next.item);
    }
  }

  /**
   * A tenant at its share waits while another tenant has work waiting; alone, it may use every worker.
   * The last warm thread is kept for a tenant with nothing running that has not cost a thread in the
   * last COSTLY_MEMORY_MS: threads killed over budget restart slowly (~200 ms each, more under load),
   * and without this a tenant sending costly conditions would take each thread as soon as it is up,
   * so everyone else's next task would wait for a thread start. (A time, not "its last task", so that
   * cheap tasks sent between costly ones do not clear it.)
   */
  private mayStart(tenant: string, idle: number): boolean {
    const running = this.runningByTenant.get(tenant) ?? 0;
    if (running >= this.share && this.waiting.keys > 1) return false;
    return idle > 1 || (running === 0 && !this.costlyRecently(tenant));
  }

  private costlyRecently(tenant: string): boolean {
    const at = this.lastCostlyAt.get(tenant);
    if (at === undefined) return false;
    if (performance.now() - at < COSTLY_MEMORY_MS) return true;
    this.lastCostlyAt.delete(tenant);
    return false;
  }

  private start(slot: Slot, pending: Pending): void {
    clearTimeout(pending.queuedTimer);
    slot.running = { pending, timer: this.budgetTimer(slot, this.timeoutMs), postedAt: wallClockMs() };
    this.running++;
    this.runningByTenant.set(pending.tenant, (this.runningByTenant.get(pending.tenant) ?? 0) + 1);
    try {
      slot.worker.postMessage(pending.task);
    } catch (err) {
      // Input that cannot be cloned never came from JSON; fail this request only.
      this.finish(this.release(slot), { kind: "unavailable", detail: err instanceof Error ? err.message : String(err) });
    }
  }

  /** Ends the slot's running task (the caller settles it) and frees the slot and the tenant's share. */
  private release(slot: Slot): Pending {
    const { pending, timer } = slot.running!;
    clearTimeout(timer);
    slot.running = undefined;
    this.running--;
    const left = (this.runningByTenant.get(pending.tenant) ?? 1) - 1;
    if (left > 0) this.runningByTenant.set(pending.tenant, left);
    else this.runningByTenant.delete(pending.tenant);
    return pending;
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

  /**
   * Removes a worker (its running task, if any, ends with `run`). The warm spare takes its place at once
   * (pump), and a fresh thread starts in the background to become the next spare.
   */
  private replace(slot: Slot, run: CelRun): void {
    if (!this.slots.has(slot)) return;
    if (slot.running) this.lastCostlyAt.set(slot.running.pending.tenant, performance.now());
    void this.retire(slot, run).terminate().catch(() => 0);
    // A worker that died before it was ready would die again: the next request retries instead of a
    // respawn loop here, and requests already waiting fail closed when their wait runs out.
    if (!slot.ready) this.opts.log?.error({ detail: run.kind === "unavailable" ? run.detail : run.kind }, "condition worker failed to start");
    else if (!this.closed) this.spawn();
    this.pump();
  }

  private retire(slot: Slot, run: CelRun): Worker {
    this.slots.delete(slot);
    if (slot.running) this.finish(this.release(slot), run);
    slot.results.removeAllListeners("message");
    slot.results.close();
    return slot.worker;
  }

  private finish(pending: Pending, run: CelRun): void {
    clearTimeout(pending.queuedTimer);
    pending.resolve(run);
  }
}
