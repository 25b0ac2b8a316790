export interface ClearanceJob {
  tenantId: string;
  requestId: string;
}

/** How a queue delivered a job: SQS counts deliveries of one message (a poison message is one delivered too often). */
export interface JobDelivery {
  receiveCount: number;
  maxReceiveCount: number;
}

/** What became of a job: finished (decided, or nothing left for this process to do), or to be tried again later. */
export type JobOutcome = { kind: "finished" } | { kind: "retry"; afterMs: number };

export type JobHandler = (job: ClearanceJob, delivery?: JobDelivery) => Promise<JobOutcome>;

/** What /readyz and /metrics show of the queue. */
export interface QueueStatus {
  kind: "memory" | "sqs";
  /** Jobs this process holds, waiting or running. */
  local_depth: number;
  /** Jobs this process is running now. */
  in_flight: number;
  /** Messages in the shared queue (SQS: visible plus in flight, approximate), when known. */
  approximate_depth?: number;
  /** Time from send to receipt of the last message received (SQS). */
  lag_ms?: number;
  /** Why the queue is degraded (e.g. SQS unreachable: new requests are judged here), absent when it is not. */
  degraded?: string;
}

/**
 * The ClearanceQueue port. `publish` hands a newly committed request to whichever process takes it
 * (SQS FIFO: any replica; in memory: this process). `enqueue` is for work this process already holds
 * the lease of (take-overs, local retries).
 */
export interface ClearanceQueue {
  /** True when another process may decide what this one published (readers then poll the row). */
  readonly shared: boolean;
  /** What admission control compares with the high watermark. */
  depth(): number;
  /** "local": this process holds the job (in memory, or SQS could not take it); "shared": the shared queue has it. */
  publish(job: ClearanceJob): Promise<"local" | "shared">;
  enqueue(job: ClearanceJob): void;
  start(handler: JobHandler): void;
  /** Resolves when every local job so far has been handled (tests use it instead of sleeping). */
  drain(): Promise<void>;
  stop(): Promise<void>;
  status(): QueueStatus;
}

/**
 * Bounded-concurrency in-memory queue. Admission is bounded by the caller's watermark check before
 * the request row is committed; jobs are never dropped here, because each one is already durable
 * and acknowledged, and leased to this process: if it dies, its leases lapse and a live process
 * takes the jobs over from the database (lease-sweeper.ts). A job to retry comes back after its delay.
 */
export class MemoryClearanceQueue implements ClearanceQueue {
  readonly shared = false;
  private readonly pending: ClearanceJob[] = [];
  private running = 0;
  /** Retries waiting for their delay: held here, so drain() waits for them too. */
  private readonly delayed = new Set<NodeJS.Timeout>();
  private handler?: JobHandler;
  private stopped = false;
  private idle: (() => void)[] = [];

  constructor(
    private readonly workers: number,
    /** How long stop() waits for running jobs; an unfinished one is released to a peer or the next start. */
    private readonly stopGraceMs = 5000,
  ) {}

  depth(): number {
    return this.pending.length + this.running + this.delayed.size;
  }

  async publish(job: ClearanceJob): Promise<"local"> {
    this.enqueue(job);
    return "local";
  }

  enqueue(job: ClearanceJob): void {
    if (this.stopped) return;
    this.pending.push(job);
    this.pump();
  }

  start(handler: JobHandler): void {
    this.handler = handler;
    this.pump();
  }

  drain(): Promise<void> {
    if (this.depth() === 0) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.pending.length = 0;
    // A retry not yet due stays with its lease: released at shutdown, taken by a peer or the next start.
    for (const timer of this.delayed) clearTimeout(timer);
    this.delayed.clear();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.drain(), new Promise((resolve) => (timer = setTimeout(resolve, this.stopGraceMs)))]);
    clearTimeout(timer);
  }

  status(): QueueStatus {
    return { kind: "memory", local_depth: this.depth(), in_flight: this.running };
  }

  private pump(): void {
    const handler = this.handler;
    if (!handler) return;
    while (this.running < this.workers && this.pending.length > 0) {
      const job = this.pending.shift()!;
      this.running++;
      void handler(job)
        .catch((): JobOutcome => ({ kind: "finished" }))
        .then((outcome) => {
          if (outcome.kind === "retry" && !this.stopped) this.retryLater(job, outcome.afterMs);
        })
        .finally(() => {
          this.running--;
          this.pump();
          this.settle();
        });
    }
  }

  private retryLater(job: ClearanceJob, afterMs: number): void {
    const timer = setTimeout(() => {
      this.delayed.delete(timer);
      this.enqueue(job);
      this.settle();
    }, afterMs);
    timer.unref();
    this.delayed.add(timer);
  }

  private settle(): void {
    if (this.depth() === 0) for (const resolve of this.idle.splice(0)) resolve();
  }
}
