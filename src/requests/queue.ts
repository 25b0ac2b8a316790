export interface ClearanceJob {
  tenantId: string;
  requestId: string;
}

/** The ClearanceQueue port: in-memory workers here; SQS FIFO plugs in behind the same shape. */
export interface ClearanceQueue {
  /** Jobs waiting or running; admission control compares this with the high watermark. */
  depth(): number;
  enqueue(job: ClearanceJob): void;
  start(handler: (job: ClearanceJob) => Promise<void>): void;
  /** Resolves when every job enqueued so far has been handled (tests use it instead of sleeping). */
  drain(): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Bounded-concurrency in-memory queue. Admission is bounded by the caller's watermark check before
 * the request row is committed; jobs are never dropped here, because each one is already durable
 * and acknowledged, and leased to this process: if it dies, its leases lapse and a live process
 * takes the jobs over from the database (lease-sweeper.ts).
 */
export class MemoryClearanceQueue implements ClearanceQueue {
  private readonly pending: ClearanceJob[] = [];
  private running = 0;
  private handler?: (job: ClearanceJob) => Promise<void>;
  private stopped = false;
  private idle: (() => void)[] = [];

  constructor(
    private readonly workers: number,
    /** How long stop() waits for running jobs; an unfinished one is released to a peer or the next start. */
    private readonly stopGraceMs = 5000,
  ) {}

  depth(): number {
    return this.pending.length + this.running;
  }

  enqueue(job: ClearanceJob): void {
    if (this.stopped) return;
    this.pending.push(job);
    this.pump();
  }

  start(handler: (job: ClearanceJob) => Promise<void>): void {
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
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.drain(), new Promise((resolve) => (timer = setTimeout(resolve, this.stopGraceMs)))]);
    clearTimeout(timer);
  }

  private pump(): void {
    const handler = this.handler;
    if (!handler) return;
    while (this.running < this.workers && this.pending.length > 0) {
      const job = this.pending.shift()!;
      this.running++;
      void handler(job)
        .catch(() => {})
        .finally(() => {
          this.running--;
          this.pump();
          if (this.depth() === 0) for (const resolve of this.idle.splice(0)) resolve();
        });
    }
  }
}
