import { createHash } from "node:crypto";
import { z } from "zod";
import type { ClearanceJob } from "./queue.js";
import type { OutgoingMessage } from "./sqs-calls.js";

/** The message body: the request's address, nothing of its content (that stays in the tenant's database). */
const messageSchema = z.strictObject({ v: z.literal(1), tenant_id: z.string().min(1).max(64), request_id: z.string().min(1).max(128) });

/** A request's message: its FIFO group is a tenant shard, its deduplication id the request id. */
export function messageFor(job: ClearanceJob, shards: number): OutgoingMessage {
  return {
    body: JSON.stringify({ v: 1, tenant_id: job.tenantId, request_id: job.requestId }),
    group: groupFor(job, shards),
    deduplicationId: job.requestId,
  };
}

/** The job a received body names, or undefined when it is not a message this vault sent. */
export function jobOf(body: string | undefined): ClearanceJob | undefined {
  let json: unknown;
  try {
    json = JSON.parse(body ?? "");
  } catch {
    return undefined;
  }
  const parsed = messageSchema.safeParse(json);
  return parsed.success ? { tenantId: parsed.data.tenant_id, requestId: parsed.data.request_id } : undefined;
}

/** The FIFO group of a request: its tenant and one of `shards` slots, fixed by the request id. */
export function groupFor(job: ClearanceJob, shards: number): string {
  const slot = createHash("sha256").update(job.requestId).digest().readUInt32BE(0) % shards;
  return `${job.tenantId}.${slot}`;
}

/** The redrive policy's maxReceiveCount (the queue's own poison limit), when the queue has one. */
export function parseRedrive(text: string | undefined): number | undefined {
  if (!text) return undefined;
  try {
    const n = Number((JSON.parse(text) as { maxReceiveCount?: unknown }).maxReceiveCount);
    return Number.isInteger(n) && n > 0 ? n : undefined;
  } catch {
    return undefined;
  }
}
