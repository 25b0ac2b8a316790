/**
 * The clearance queue on SQS FIFO, against fauxqs (a real SQS protocol server) and real PostgreSQL:
 * two vaults share one queue; messages are deleted only after decisions commit; a message delivered
 * again changes nothing; a poison message ends in review; a failed send is judged locally; the queue
 * depth refuses new requests with 429; a queue that is unreachable or not FIFO stops start-up.
 */
import { ChangeMessageVisibilityCommand, GetQueueAttributesCommand, ReceiveMessageCommand, SendMessageCommand } from "@aws-sdk/client-sqs";
import { mkdtempSync, readdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import type { Judge, Verdict } from "../../src/judge/judge.js";
import { startVault } from "../../src/main/serve.js";
import type { ClearanceJob, JobDelivery } from "../../src/requests/queue.js";
import { SqsClearanceQueue } from "../../src/requests/sqs-queue.js";
import { verifyLikeSdk } from "../helpers/sdk-checks.js";
import { sqsEnv, startSqs, type SqsTestServer } from "../helpers/sqs-test-server.js";
import { call, freePort, newKey, newPgDatabase, refundPolicy, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";
import { systemClock } from "../../src/clock.js";

const queued = {
  VAULT_CLEARANCE_MODE: "queued",
  VAULT_CLEARANCE_SQS_WAIT_TIME_SECONDS: "1",
  VAULT_CLEARANCE_SQS_VISIBILITY_TIMEOUT_SECONDS: "5",
  // Condition time budgets are not what these tests are about: a busy test machine must not turn a
  // decision into a condition_timeout review.
  VAULT_CEL_TIMEOUT_MS: "5000",
};

let sqs: SqsTestServer;
beforeAll(async () => {
  sqs = await startSqs();
});
afterAll(async () => {
  await sqs?.stop();
});

async function queueCounts(queueUrl: string): Promise<{ visible: number; inFlight: number }> {
  const out = await sqs.client().send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] }),
  );
  return { visible: Number(out.Attributes!.ApproximateNumberOfMessages), inFlight: Number(out.Attributes!.ApproximateNumberOfMessagesNotVisible) };
}

async function ledgerEventsOf(v: TestVault, requestId: string): Promise<number> {
  const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
  const rows = await sql.query<{ n: string }>("SELECT count(*)::text AS n FROM ledger_events WHERE request_id = $1", [requestId]);
  return Number(rows[0]!.n);
}

describe("two vaults sharing one SQS FIFO queue", () => {
  let db: TestDatabase;
  let a: TestVault;
  let b: TestVault;
  let queueUrl: string;
  beforeAll(async () => {
    db = newPgDatabase();
    queueUrl = sqs.fifoQueue();
    const env = { ...queued, ...sqsEnv(sqs.endpoint, queueUrl) };
    a = await startTestVault(db, { env });
    b = await startTestVault(db, { env, adminKey: a.adminKey });
    await call(a.url, "POST", "/register-policy", { key: a.adminKey, body: refundPolicy });
  });
  afterAll(async () => {
    await a?.close();
    await b?.close();
    await db?.drop();
  });

  it("decides every request published by either vault, once, and deletes each message after its decision", async () => {
    const agent = await newKey(a, "agent");
    const amounts = Array.from({ length: 30 }, (_, i) => [50, 500, 5000][i % 3]!);
    const submitted = await Promise.all(
      amounts.map((amount, i) =>
        call(i % 2 ? a.url : b.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount } } }),
      ),
    );
    for (const res of submitted) expect([200, 202]).toContain(res.status);
    const expected = { 50: "approved", 500: "pending_review", 5000: "denied" } as Record<number, string>;
    for (const [i, res] of submitted.entries()) {
      await expect
        .poll(async () => (await call(a.url, "GET", `/clearance-status/${res.body.request_id}`, { key: agent })).body.status, { timeout: 30_000 })
        .toBe(expected[amounts[i]!]);
    }
    const approved = submitted.find((_, i) => amounts[i] === 50)!;
    const status = await call(b.url, "GET", `/clearance-status/${approved.body.request_id}`, { key: agent });
    await verifyLikeSdk(b.url, status.body.token);
    for (const res of submitted) expect(await ledgerEventsOf(a, res.body.request_id)).toBe(1);
    await expect.poll(() => queueCounts(queueUrl), { timeout: 15_000 }).toEqual({ visible: 0, inFlight: 0 });
  });

  it("a message delivered again for a decided request changes nothing and is deleted", async () => {
    const agent = await newKey(a, "agent");
    const res = await call(a.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 20 } } });
    const requestId: string = res.body.request_id;
    await expect.poll(async () => (await call(a.url, "GET", `/clearance-status/${requestId}`, { key: agent })).body.status).toBe("approved");
    const before = await call(a.url, "GET", `/clearance-status/${requestId}`, { key: agent });
    // The same job again, as SQS would redeliver it (a new deduplication id, so FIFO does not drop it).
    await sqs.client().send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify({ v: 1, tenant_id: a.tenantId, request_id: requestId }),
        MessageGroupId: `${a.tenantId}.0`,
        MessageDeduplicationId: `${requestId}-again`,
      }),
    );
    await expect.poll(() => queueCounts(queueUrl), { timeout: 15_000 }).toEqual({ visible: 0, inFlight: 0 });
    const after = await call(a.url, "GET", `/clearance-status/${requestId}`, { key: agent });
    expect(after.body.decided_at).toBe(before.body.decided_at);
    expect(after.body.status).toBe("approved");
    expect(await ledgerEventsOf(a, requestId)).toBe(1);
  });

  it("an unreadable message is removed, counted as poison, and nothing is decided", async () => {
    await sqs.client().send(
      new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: "{not json", MessageGroupId: "junk", MessageDeduplicationId: "junk-1" }),
    );
    await expect.poll(() => queueCounts(queueUrl), { timeout: 15_000 }).toEqual({ visible: 0, inFlight: 0 });
    const metrics = await fetch(`${a.url}/metrics`).then((r) => r.text());
    const metricsB = await fetch(`${b.url}/metrics`).then((r) => r.text());
    // Both vaults share this process's metrics registry, so the counter is read once.
    expect(metrics + metricsB).toMatch(/countersign_clearance_sqs_poison_total [1-9]/);
  });

  it("a message for a tenant that does not exist is removed, not delivered again forever", async () => {
    await sqs.client().send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify({ v: 1, tenant_id: "t_00000000000000000000", request_id: "req_gone" }),
        MessageGroupId: "t_00000000000000000000.0",
        MessageDeduplicationId: "req_gone",
      }),
    );
    await expect.poll(() => queueCounts(queueUrl), { timeout: 15_000 }).toEqual({ visible: 0, inFlight: 0 });
  });

  it("/readyz and /metrics show the queue: kind, depth, in flight and lag", async () => {
    // The shared depth is read from SQS each second.
    await expect.poll(async () => (await call(a.url, "GET", "/readyz")).body.queue.approximate_depth, { timeout: 10_000 }).toBe(0);
    const ready = await call(a.url, "GET", "/readyz");
    expect(ready.status).toBe(200);
    expect(ready.body.queue).toMatchObject({ kind: "sqs", local_depth: 0, in_flight: 0, approximate_depth: 0 });
    expect(ready.body.queue.lag_ms).toBeGreaterThanOrEqual(0);
    expect(ready.body.degraded).toBeUndefined();
    const metrics = await fetch(`${a.url}/metrics`).then((r) => r.text());
    expect(metrics).toContain('countersign_clearance_queue_depth{scope="shared"} 0');
    expect(metrics).toMatch(/countersign_clearance_queue_lag_seconds_count [1-9]/);
  });
});

describe("SqsClearanceQueue deliveries", () => {
  it("counts deliveries, so a message whose receivers kept dying is handed over as poison", async () => {
    const queueUrl = sqs.fifoQueue({ maxReceiveCount: 3 });
    const config = loadConfig({ ...sqsEnv(sqs.endpoint, queueUrl), VAULT_CLEARANCE_SQS_WAIT_TIME_SECONDS: "1" });
    const queue = await SqsClearanceQueue.open(config.clearance.sqs!, {
      aws: config.aws.clientConfig("sqs"),
      endpoint: sqs.endpoint,
      workers: 2,
      log: pino({ level: "silent" }),
      clock: systemClock,
    });
    try {
      expect(await queue.publish({ tenantId: "t_poison", requestId: "req_poison" })).toBe("shared");
      // Two receivers take the message and die without deleting it (its visibility is ended at once).
      const raw = sqs.client();
      for (let i = 0; i < 2; i++) {
        const out = await raw.send(new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 1, MessageSystemAttributeNames: ["All"] }));
        expect(out.Messages).toHaveLength(1);
        await raw.send(new ChangeMessageVisibilityCommand({ QueueUrl: queueUrl, ReceiptHandle: out.Messages![0]!.ReceiptHandle!, VisibilityTimeout: 0 }));
      }
      const delivered: [ClearanceJob, JobDelivery | undefined][] = [];
      queue.start(async (job, delivery) => {
        delivered.push([job, delivery]);
        return { kind: "finished" };
      });
      await expect.poll(() => delivered.length, { timeout: 10_000 }).toBe(1);
      // The redrive policy moves it to the DLQ after 3 receives: the third is the last chance, so it is poison.
      expect(delivered[0]).toEqual([{ tenantId: "t_poison", requestId: "req_poison" }, { receiveCount: 3, maxReceiveCount: 2 }]);
      await expect.poll(() => queueCounts(queueUrl)).toEqual({ visible: 0, inFlight: 0 });
    } finally {
      await queue.stop();
    }
  });

  it("a job that outlasts the visibility timeout keeps its message invisible: delivered once", async () => {
    const queueUrl = sqs.fifoQueue();
    const config = loadConfig({ ...sqsEnv(sqs.endpoint, queueUrl), VAULT_CLEARANCE_SQS_WAIT_TIME_SECONDS: "1", VAULT_CLEARANCE_SQS_VISIBILITY_TIMEOUT_SECONDS: "2" });
    const queue = await SqsClearanceQueue.open(config.clearance.sqs!, { aws: config.aws.clientConfig("sqs"), endpoint: sqs.endpoint, workers: 2, log: pino({ level: "silent" }), clock: systemClock });
    try {
      await queue.publish({ tenantId: "t_slow", requestId: "req_slow" });
      const deliveries: number[] = [];
      let finished = false;
      queue.start(async (_job, delivery) => {
        deliveries.push(delivery!.receiveCount);
        // A slow judge: twice the visibility timeout.
        await new Promise((resolve) => setTimeout(resolve, 4000));
        finished = true;
        return { kind: "finished" };
      });
      await expect.poll(() => finished, { timeout: 10_000 }).toBe(true);
      expect(deliveries).toEqual([1]);
      await expect.poll(() => queueCounts(queueUrl)).toEqual({ visible: 0, inFlight: 0 });
    } finally {
      await queue.stop();
    }
  });

  it("a retry runs again in the same receiver after its delay, the message kept: no extra delivery is counted", async () => {
    const queueUrl = sqs.fifoQueue();
    const config = loadConfig({ ...sqsEnv(sqs.endpoint, queueUrl), VAULT_CLEARANCE_SQS_WAIT_TIME_SECONDS: "1" });
    const queue = await SqsClearanceQueue.open(config.clearance.sqs!, { aws: config.aws.clientConfig("sqs"), endpoint: sqs.endpoint, workers: 2, log: pino({ level: "silent" }), clock: systemClock });
    try {
      await queue.publish({ tenantId: "t_retry", requestId: "req_retry" });
      const counts: number[] = [];
      queue.start(async (_job, delivery) => {
        counts.push(delivery!.receiveCount);
        return counts.length < 2 ? { kind: "retry", afterMs: 200 } : { kind: "finished" };
      });
      await expect.poll(() => counts, { timeout: 10_000 }).toEqual([1, 1]);
      await expect.poll(() => queueCounts(queueUrl)).toEqual({ visible: 0, inFlight: 0 });
    } finally {
      await queue.stop();
    }
  });
});

/** A judge held until the test lets it answer: work stays in flight. */
class HeldJudge implements Judge {
  private release?: () => void;
  private gate = new Promise<void>((resolve) => (this.release = resolve));
  waiting = 0;
  async evaluate(): Promise<Verdict> {
    this.waiting++;
    await this.gate;
    this.waiting--;
    return { decision: "approve", reason: "held judge", reason_code: null, confidence_bucket: "high", policy_id: null, policy_version_id: null, policy_content_hash: null, applied_policies: [], matched_condition_ids: [], citations: [], evidence_chunks: [], trace: {} };
  }
  open(): void {
    this.release!();
  }
  hold(): void {
    this.gate = new Promise<void>((resolve) => (this.release = resolve));
  }
}

describe("one vault on SQS with a held judge", () => {
  let db: TestDatabase;
  let v: TestVault;
  let judge: HeldJudge;
  let queueUrl: string;
  beforeAll(async () => {
    db = newPgDatabase();
    queueUrl = sqs.fifoQueue();
    judge = new HeldJudge();
    v = await startTestVault(db, {
      env: {
        ...queued,
        ...sqsEnv(sqs.endpoint, queueUrl),
        VAULT_CLEARANCE_ASYNC_WORKERS: "1",
        VAULT_CLEARANCE_ASYNC_QUEUE_SIZE: "4",
        VAULT_CLEARANCE_QUEUE_HIGH_WATERMARK_PERCENT: "75",
        VAULT_CLEARANCE_SYNC_WAIT_MS: "0",
        VAULT_JUDGE_TIMEOUT_MS: "600000",
      },
      overrides: { judge },
    });
  });
  afterAll(async () => {
    judge?.open();
    await v?.close();
    await db?.drop();
  });

  it("answers 429 queue_saturated with Retry-After once the queue's depth passes the high watermark, then decides all", async () => {
    const agent = await newKey(v, "agent");
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const res = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: i } } });
      expect(res.status).toBe(202);
      ids.push(res.body.request_id);
    }
    // The depth is read from SQS each second.
    await expect.poll(async () => (await call(v.url, "GET", "/readyz")).body.queue.approximate_depth, { timeout: 10_000 }).toBe(3);
    const refused = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 9 } } });
    expect(refused.status).toBe(429);
    expect(refused.body.code).toBe("queue_saturated");
    expect(refused.headers.get("retry-after")).toBe("1");
    judge.open();
    for (const id of ids) {
      await expect.poll(async () => (await call(v.url, "GET", `/clearance-status/${id}`, { key: agent })).body.status, { timeout: 20_000 }).toBe("approved");
    }
  });

  it("a poison delivery of a request still processing decides it as review", async () => {
    const agent = await newKey(v, "agent");
    // The decisions of the test before have left the queue once SQS says so (read each second).
    await expect.poll(async () => (await call(v.url, "GET", "/readyz")).body.queue.approximate_depth, { timeout: 10_000 }).toBe(0);
    judge.hold();
    // The one worker takes the first request and is stuck in the judge; the second waits in SQS.
    const first = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 1 } } });
    await expect.poll(() => judge.waiting).toBe(1);
    const second = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 2 } } });
    // The second, delivered for the sixth time with a limit of five: the receivers before died with it.
    const job = { tenantId: v.tenantId, requestId: second.body.request_id };
    expect(await v.vault.ctx.clearance.processJob(job, { receiveCount: 6, maxReceiveCount: 5 })).toEqual({ kind: "finished" });
    expect(judge.waiting).toBe(1);
    const status = await call(v.url, "GET", `/clearance-status/${second.body.request_id}`, { key: agent });
    expect(status.body).toMatchObject({ status: "pending_review", reason_code: "processing_failed" });
    // A job for a request this process is judging already is not run twice (a message delivered again).
    expect(await v.vault.ctx.clearance.processJob({ tenantId: v.tenantId, requestId: first.body.request_id })).toEqual({ kind: "finished" });
    expect(judge.waiting).toBe(1);
    judge.open();
    await expect.poll(async () => (await call(v.url, "GET", `/clearance-status/${first.body.request_id}`, { key: agent })).body.status).toBe("approved");
    // The second's own message, received later, finds it decided and changes nothing.
    await expect.poll(async () => (await call(v.url, "GET", "/readyz")).body.queue.approximate_depth, { timeout: 10_000 }).toBe(0);
    expect((await call(v.url, "GET", `/clearance-status/${second.body.request_id}`, { key: agent })).body.status).toBe("pending_review");
  });

  it("when SQS cannot be reached, a new request is judged by this vault and /readyz names the degraded queue", async () => {
    const agent = await newKey(v, "agent");
    await sqs.stop();
    try {
      const res = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 3 } } });
      expect(res.status).toBe(202);
      await expect.poll(async () => (await call(v.url, "GET", `/clearance-status/${res.body.request_id}`, { key: agent })).body.status).toBe("approved");
      const ready = await call(v.url, "GET", "/readyz");
      expect(ready.status).toBe(200);
      expect(ready.body.degraded.join(" ")).toMatch(/queue: SQS [a-z_]+ failed \((ECONNREFUSED|Error|TimeoutError)\)/);
    } finally {
      sqs = await startSqs();
    }
  });
});

describe("start-up with a queue that cannot be used", () => {
  it("stops with a message naming the variable and the endpoint when SQS is unreachable, or the queue is not FIFO", async () => {
    const db = newPgDatabase();
    try {
      const closed = `http://127.0.0.1:${await freePort()}`;
      const dataDir = mkdtempSync(path.join(os.tmpdir(), "cs-sqs-start-"));
      const base = { DATABASE_URL: db.url, VAULT_PORT: "0", VAULT_HOST: "127.0.0.1", LOG_LEVEL: "silent", VAULT_DATA_DIR: dataDir };
      const unreachable = loadConfig({ ...base, ...sqsEnv(closed, `${closed}/000000000000/q.fifo`) });
      await expect(startVault(unreachable)).rejects.toThrow(new RegExp(`VAULT_CLEARANCE_SQS_QUEUE_URL: the queue .* at ${closed}.* cannot be reached`));
      const standard = sqs.server.createQueue(`standard-${Date.now()}`).queueUrl;
      const notFifo = loadConfig({ ...base, ...sqsEnv(sqs.endpoint, standard) });
      await expect(startVault(notFifo)).rejects.toThrow(/VAULT_CLEARANCE_SQS_QUEUE_URL: .* is not a FIFO queue/);
      // Checked before anything is written: no key was generated, no anchor directory made.
      expect(readdirSync(dataDir)).toEqual([]);
    } finally {
      await db.drop();
    }
  });
});
