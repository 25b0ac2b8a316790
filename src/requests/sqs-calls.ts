import {
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  SQSClient,
  type Message,
} from "@aws-sdk/client-sqs";
import type { AwsClientConfig } from "../config/aws.js";
import type { SqsQueueConfig } from "../config/config.js";
import { MicroBatch } from "./micro-batch.js";

/** SQS calls other than the long poll: bounded, so a hung endpoint never holds a request handler. */
const CALL_TIMEOUT_MS = 5000;
/** SQS's own limit on entries per batch call. */
const SQS_BATCH_MAX = 10;
/** How long a send or delete waits for others to share its call: short next to a decision's own time. */
const SQS_BATCH_WAIT_MS = 2;

/** One entry's fate in a batch call: done, or the error SQS gave for it. */
export type EntryResult = { ok: true } | { ok: false; error: string };

export interface OutgoingMessage {
  body: string;
  group: string;
  deduplicationId: string;
}

/**
 * The clearance queue's calls to SQS, one queue URL. Sends and deletes made close together share
 * a batch call (SendMessageBatch, DeleteMessageBatch): each SDK call costs the vault about half a
 * millisecond of CPU, so under load ten requests make one call instead of ten.
 */
export class SqsCalls {
  private readonly client: SQSClient;
  private readonly sends = new MicroBatch((m: OutgoingMessage[]) => this.sendBatch(m), SQS_BATCH_MAX, SQS_BATCH_WAIT_MS);
  private readonly deletes = new MicroBatch((r: string[]) => this.deleteBatch(r), SQS_BATCH_MAX, SQS_BATCH_WAIT_MS);

  constructor(
    aws: AwsClientConfig,
    private readonly config: SqsQueueConfig,
  ) {
    this.client = new SQSClient({
      ...aws,
      maxAttempts: 3,
      requestHandler: { connectionTimeout: CALL_TIMEOUT_MS, requestTimeout: (config.waitTimeSeconds + 5) * 1000, throwOnRequestTimeout: true },
    });
  }

  send(message: OutgoingMessage): Promise<EntryResult> {
    return this.sends.add(message).catch((err: unknown): EntryResult => ({ ok: false, error: describeSqsError(err) }));
  }

  delete(receipt: string): Promise<EntryResult> {
    return this.deletes.add(receipt).catch((err: unknown): EntryResult => ({ ok: false, error: describeSqsError(err) }));
  }

  /** Long poll for up to `max` messages, with the delivery count and send time of each. */
  async receive(max: number, abort: AbortSignal): Promise<Message[]> {
    const out = await this.client.send(
      new ReceiveMessageCommand({
        QueueUrl: this.config.queueUrl,
        MaxNumberOfMessages: Math.min(10, max),
        WaitTimeSeconds: this.config.waitTimeSeconds,
        VisibilityTimeout: this.config.visibilityTimeoutSeconds,
        MessageSystemAttributeNames: ["ApproximateReceiveCount", "SentTimestamp"],
      }),
      { abortSignal: abort },
    );
    return out.Messages ?? [];
  }

  async setVisibility(receipt: string, seconds: number): Promise<void> {
    await this.client.send(
      new ChangeMessageVisibilityCommand({ QueueUrl: this.config.queueUrl, ReceiptHandle: receipt, VisibilityTimeout: Math.min(43_200, seconds) }),
      { abortSignal: AbortSignal.timeout(CALL_TIMEOUT_MS) },
    );
  }

  async attributes(names: ("FifoQueue" | "RedrivePolicy" | "ApproximateNumberOfMessages" | "ApproximateNumberOfMessagesNotVisible")[]): Promise<Record<string, string>> {
    const out = await this.client.send(new GetQueueAttributesCommand({ QueueUrl: this.config.queueUrl, AttributeNames: names }), {
      abortSignal: AbortSignal.timeout(CALL_TIMEOUT_MS),
    });
    return out.Attributes ?? {};
  }

  close(): void {
    this.client.destroy();
  }

  private async sendBatch(messages: OutgoingMessage[]): Promise<EntryResult[]> {
    const out = await this.client.send(
      new SendMessageBatchCommand({
        QueueUrl: this.config.queueUrl,
        Entries: messages.map((m, i) => ({ Id: String(i), MessageBody: m.body, MessageGroupId: m.group, MessageDeduplicationId: m.deduplicationId })),
      }),
      { abortSignal: AbortSignal.timeout(CALL_TIMEOUT_MS) },
    );
    return entryResults(messages.length, out);
  }

  private async deleteBatch(receipts: string[]): Promise<EntryResult[]> {
    const out = await this.client.send(
      new DeleteMessageBatchCommand({ QueueUrl: this.config.queueUrl, Entries: receipts.map((r, i) => ({ Id: String(i), ReceiptHandle: r })) }),
      { abortSignal: AbortSignal.timeout(CALL_TIMEOUT_MS) },
    );
    return entryResults(receipts.length, out);
  }
}

/** Per entry of a batch answer (entries are identified by their index). */
function entryResults(count: number, out: { Successful?: { Id?: string }[]; Failed?: { Id?: string; Code?: string; Message?: string }[] }): EntryResult[] {
  const results: EntryResult[] = Array.from({ length: count }, () => ({ ok: false, error: "missing from the batch answer" }));
  for (const s of out.Successful ?? []) results[Number(s.Id)] = { ok: true };
  for (const f of out.Failed ?? []) results[Number(f.Id)] = { ok: false, error: `${f.Code ?? "Failed"}: ${f.Message ?? ""}`.trim() };
  return results;
}

/** An AWS error by its name and status, never a request's content. */
export function describeSqsError(err: unknown): string {
  const e = err as { name?: string; message?: string; $metadata?: { httpStatusCode?: number } };
  const status = e.$metadata?.httpStatusCode ? ` HTTP ${e.$metadata.httpStatusCode}` : "";
  return `${e.name ?? "Error"}${status}: ${(e.message ?? String(err)).slice(0, 200)}`;
}
