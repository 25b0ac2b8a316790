import type { Message } from "@aws-sdk/client-sqs";
import type { Logger } from "pino";
import type { Clock } from "../clock.js";
import type { AwsClientConfig } from "../config/aws.js";
import { ConfigError } from "../config/config-error.js";
import type { SqsQueueConfig } from "../config/config.js";
import { MemoryClearanceQueue, type ClearanceJob, type ClearanceQueue, type JobHandler, type QueueStatus } from "./queue.js";
import { queueMetrics } from "./queue-metrics.js";
import { describeSqsError as describe, SqsCalls } from "./sqs-calls.js";
import { jobOf, messageFor, parseRedrive } from "./sqs-messages.js";

/** How often the shared queue's approximate depth is read for admission control and /readyz. */
const DEPTH_POLL_MS = 1000;


export interface SqsQueueDeps {
  aws: AwsClientConfig;
  /** Where the client connects, for start-up errors. */
  endpoint: string;
  workers: number;
  log: Logger;
  /** Message lag is measured against it (SQS stamps the send time). */
  clock: Clock;
  stopGraceMs?: number;
}

/**
 * The clearance queue on SQS FIFO, shared by every vault replica. A request's row is committed
 * (leased to the queue) before its message is sent; whichever replica receives the message claims
 * the row, judges it while extending the message's visibility, and deletes the message only after
 * the decision commits. A message delivered again finds the request decided (the transition is
 * guarded) or claimed by a live process, and is deleted. A failed send is judged in the sending
 * process instead, so an SQS outage slows nothing down and loses nothing.
 *
 * MessageGroupId is a tenant shard: FIFO hands out one message per group at a time, so shards are
 * the parallelism, and one tenant's slow judge holds only its own shards.
 */
export class SqsClearanceQueue implements ClearanceQueue {
  readonly shared = true;
  /** Jobs this process holds itself: take-overs by the lease sweeper, and requests whose send failed. */
  private readonly local: MemoryClearanceQueue;
  private handler?: JobHandler;
  private stopped = false;
  private readonly abort = new AbortController();
  private inFlight = 0;
  /** Slots promised to receive calls in progress. */
  private reserved = 0;
  private readonly receipts = new Set<string>();
  private slotWaiters: (() => void)[] = [];
  private sharedDepth?: number;
  private lagMs?: number;
  private degraded?: string;
  private depthTimer?: NodeJS.Timeout;
  private pollers: Promise<void>[] = [];

  private constructor(
    private readonly sqs: SqsCalls,
    private readonly config: SqsQueueConfig,
    /** Deliveries after which a message is poison: the redrive policy's, one short of the DLQ, or ours. */
    private readonly maxReceiveCount: number,
    private readonly deps: SqsQueueDeps,
  ) {
    this.local = new MemoryClearanceQueue(deps.workers, deps.stopGraceMs);
  }

  /** Connects and checks the queue (reachable, FIFO); a failure stops start-up naming the variable and the endpoint. */
  static async open(config: SqsQueueConfig, deps: SqsQueueDeps): Promise<SqsClearanceQueue> {
    const sqs = new SqsCalls(deps.aws, config);
    const where = `VAULT_CLEARANCE_SQS_QUEUE_URL: the queue ${config.queueUrl} at ${deps.endpoint}`;
    let attributes: Record<string, string>;
    try {
      attributes = await sqs.attributes(["FifoQueue", "RedrivePolicy"]);
    } catch (err) {
      sqs.close();
      throw new ConfigError(`Invalid configuration:\n  ${where} cannot be reached (${describe(err)})`);
    }
    if (attributes.FifoQueue !== "true") {
      sqs.close();
      throw new ConfigError(`Invalid configuration:\n  ${where} is not a FIFO queue (its name must end in .fifo, created with FifoQueue=true)`);
    }
    const redrive = parseRedrive(attributes.RedrivePolicy);
    const queue = new SqsClearanceQueue(sqs, config, redrive ? Math.max(1, redrive - 1) : config.maxReceiveCount, deps);
    await queue.refreshDepth();
    return queue;
  }

  depth(): number {
    return (this.sharedDepth ?? 0) + this.local.depth();
  }

  async publish(job: ClearanceJob): Promise<"local" | "shared"> {
    const sent = await this.sqs.send(messageFor(job, this.config.groupShards));
    if (sent.ok) return "shared";
    this.failed("send", sent.error);
    this.local.enqueue(job);
    return "local";
  }

  enqueue(job: ClearanceJob): void {
    this.local.enqueue(job);
  }

  start(handler: JobHandler): void {
    if (this.handler) return;
    this.handler = handler;
    this.local.start(handler);
    const pollers = Math.min(4, Math.max(1, Math.ceil(this.deps.workers / 10)));
    for (let i = 0; i < pollers; i++) this.pollers.push(this.poll());
    this.depthTimer = setInterval(() => void this.refreshDepth(), DEPTH_POLL_MS);
    this.depthTimer.unref();
  }

  async drain(): Promise<void> {
    await this.local.drain();
    while (this.inFlight > 0) await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    clearInterval(this.depthTimer);
    this.abort.abort();
    // Pollers waiting for a free slot would otherwise wait for a job to end before they see the stop.
    for (const wake of this.slotWaiters.splice(0)) wake();
    await Promise.allSettled(this.pollers);
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise((resolve) => (timer = setTimeout(resolve, this.deps.stopGraceMs ?? 5000)));
    await Promise.race([Promise.all([this.drain(), this.local.stop()]), grace]);
    clearTimeout(timer);
    // Messages still being worked on go back to the queue at once, for a peer, rather than after their timeout.
    await Promise.allSettled([...this.receipts].map((receipt) => this.setVisibility(receipt, 0)));
    this.sqs.close();
  }

  status(): QueueStatus {
    return {
      kind: "sqs",
      local_depth: this.local.depth(),
      in_flight: this.inFlight + this.local.status().in_flight,
      ...(this.sharedDepth !== undefined ? { approximate_depth: this.sharedDepth } : {}),
      ...(this.lagMs !== undefined ? { lag_ms: this.lagMs } : {}),
      ...(this.degraded ? { degraded: this.degraded } : {}),
    };
  }

  /** One long-poll loop: receives as many messages as there are free workers, and runs each. */
  private async poll(): Promise<void> {
    let backoffMs = 250;
    while (!this.stopped) {
      // Slots are reserved before the call, so pollers side by side never take more than the workers.
      const room = Math.min(10, this.deps.workers - this.inFlight - this.reserved);
      if (room <= 0) {
        await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
        continue;
      }
      this.reserved += room;
      let messages: Message[];
      try {
        messages = await this.sqs.receive(room, this.abort.signal);
        backoffMs = 250;
        this.degraded = undefined;
      } catch (err) {
        if (this.stopped) return;
        this.failed("receive", err);
        await this.pause(backoffMs);
        backoffMs = Math.min(5000, backoffMs * 2);
        continue;
      } finally {
        this.reserved -= room;
      }
      for (const message of messages) void this.run(message);
    }
  }

  /** Waits, cut short by stop(). */
  private pause(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, ms);
      timer.unref();
      this.abort.signal.addEventListener("abort", () => (clearTimeout(timer), resolve()), { once: true });
    });
  }

  private async run(message: Message): Promise<void> {
    const receipt = message.ReceiptHandle!;
    this.inFlight++;
    this.receipts.add(receipt);
    queueMetrics.inFlight.set(this.inFlight);
    // Visibility is extended while the job runs, however long the judge takes.
    const visibility = this.config.visibilityTimeoutSeconds;
    let ended = false;
    const heartbeat = setInterval(() => void this.setVisibility(receipt, visibility, () => ended), Math.max(500, (visibility * 1000) / 3));
    heartbeat.unref();
    const end = () => {
      ended = true;
      clearInterval(heartbeat);
    };
    try {
      const job = jobOf(message.Body);
      if (!job) {
        // Not a message this vault sent: nothing to decide, so it is removed rather than redelivered forever.
        queueMetrics.poison.inc();
        this.deps.log.error({ messageId: message.MessageId }, "unreadable clearance message removed from the queue");
        end();
        await this.remove(receipt);
        return;
      }
      const sent = Number(message.Attributes?.SentTimestamp);
      if (Number.isFinite(sent)) {
        this.lagMs = Math.max(0, this.deps.clock.nowMs() - sent);
        queueMetrics.lag.observe(this.lagMs / 1000);
      }
      const receiveCount = Number(message.Attributes?.ApproximateReceiveCount ?? 1);
      if (receiveCount > this.maxReceiveCount) queueMetrics.poison.inc();
      const delivery = { receiveCount, maxReceiveCount: this.maxReceiveCount };
      let outcome = await this.handler!(job, delivery).catch(() => undefined);
      // A retry runs again here, the message kept invisible meanwhile: only deliveries whose receiver
      // died count towards poison, never the vault's own retries (an outage of a tenant's database).
      while (outcome?.kind === "retry" && !this.stopped) {
        await this.pause(outcome.afterMs);
        if (this.stopped) break;
        outcome = await this.handler!(job, delivery).catch(() => undefined);
      }
      // Deleted only once the decision committed; a job cut short by stop() goes back to the queue.
      end();
      if (outcome?.kind === "finished") await this.remove(receipt);
    } finally {
      end();
      this.receipts.delete(receipt);
      this.inFlight--;
      queueMetrics.inFlight.set(this.inFlight);
      for (const wake of this.slotWaiters.splice(0)) wake();
    }
  }

  private async remove(receipt: string): Promise<void> {
    const removed = await this.sqs.delete(receipt);
    // Harmless: the message comes back, finds the request decided, and is deleted then.
    if (!removed.ok) this.failed("delete", removed.error);
  }

  /** `ended`: the job finished while the call was on its way; its answer (the message is gone) is no failure. */
  private async setVisibility(receipt: string, seconds: number, ended?: () => boolean): Promise<void> {
    try {
      await this.sqs.setVisibility(receipt, seconds);
    } catch (err) {
      if (ended?.()) return;
      // If the message becomes visible while still being judged, a peer claims nothing: the row is leased here.
      this.failed("change_visibility", err);
    }
  }

  private async refreshDepth(): Promise<void> {
    try {
      const a = await this.sqs.attributes(["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]);
      this.sharedDepth = Number(a.ApproximateNumberOfMessages ?? 0) + Number(a.ApproximateNumberOfMessagesNotVisible ?? 0);
      queueMetrics.depth.set({ scope: "shared" }, this.sharedDepth);
    } catch (err) {
      // Unknown, not the last value seen: while SQS is unreachable new requests are judged here, and
      // admission then goes by this process's own depth.
      this.sharedDepth = undefined;
      this.failed("get_queue_attributes", err);
    }
    queueMetrics.depth.set({ scope: "local" }, this.local.depth());
  }

  private failed(operation: string, err: unknown): void {
    const error = typeof err === "string" ? err : describe(err);
    queueMetrics.sqsErrors.inc({ operation });
    // /readyz is public: it names the call and the error's kind, never AWS's message (ARNs, role names).
    this.degraded = `SQS ${operation} failed (${error.split(/[:\s]/)[0]})`;
    this.deps.log.warn({ operation, error }, "SQS call failed");
  }
}
