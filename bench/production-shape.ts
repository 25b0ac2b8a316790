/**
 * Issue 13's figures, on real PostgreSQL, each next to a baseline measured in the same run:
 * - approved decisions/s through the SQS FIFO queue (fauxqs), against the in-memory queue, both on
 *   the queued path (VAULT_CLEARANCE_MODE=queued), one vault;
 * - approved decisions/s with both keys in KMS (the stand-in answering every Sign after a fixed
 *   5 ms), against the local key, on the default (inline) path.
 * fauxqs and the KMS stand-in run in one separate process (aws-services.ts).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { clearancePhase, type LoadTarget } from "./load.js";
import type { ServerProcess } from "./server-process.js";
import { figures, row, type PhaseStats } from "./stats.js";

export interface ProductionShapeBench {
  /** Starts the vault on a fresh control database named `database`, with the bench policy, and these variables. */
  startVault(database: string, env: Record<string, string>): Promise<ServerProcess>;
  apiKey: string;
  connections: number;
  warmupSeconds: number;
  measureSeconds: number;
  log(msg: string): void;
}

interface AwsServices {
  sqsEndpoint: string;
  /** Fresh FIFO queues, one per SQS phase. */
  queueUrls: string[];
  kmsEndpoint: string;
  signLatencyMs: number;
}

export interface ProductionShapeFigures {
  memoryQueue: PhaseStats;
  sqsQueue: PhaseStats;
  /** The same with one FIFO group: what one shard carries, one message in flight at a time. */
  sqsOneGroup: PhaseStats;
  localKey: PhaseStats;
  kms: PhaseStats;
  signLatencyMs: number;
}

const ONE_GROUP_CONNECTIONS = 4;
const credentials = { AWS_REGION: "us-east-1", AWS_ACCESS_KEY_ID: "bench", AWS_SECRET_ACCESS_KEY: "bench" };

async function startAwsServices(): Promise<{ services: AwsServices; stop(): Promise<void> }> {
  const script = fileURLToPath(new URL("./aws-services.ts", import.meta.url));
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", script], { stdio: ["ignore", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! });
  const [first] = (await Promise.race([once(lines, "line"), once(child, "exit").then(() => [undefined])])) as [string | undefined];
  if (!first) throw new Error("the AWS services process (fauxqs, KMS stand-in) exited before it was ready");
  return {
    services: JSON.parse(first) as AwsServices,
    async stop() {
      child.kill("SIGTERM");
      await once(child, "exit");
    },
  };
}

/** Warm-up, then the measured run, of approved decisions on a vault started with `env`. */
async function approvedPerSecond(
  bench: ProductionShapeBench,
  database: string,
  label: string,
  env: Record<string, string>,
  connections = bench.connections,
): Promise<PhaseStats> {
  bench.log(`${label}: ${bench.warmupSeconds}s warm-up, then ${bench.measureSeconds}s measured`);
  const vault = await bench.startVault(database, env);
  try {
    const target: LoadTarget = { url: vault.url, apiKey: bench.apiKey, connections };
    await clearancePhase(target, bench.warmupSeconds, []);
    return await clearancePhase(target, bench.measureSeconds, []);
  } finally {
    await vault.stop();
  }
}

export async function runProductionShapeBench(bench: ProductionShapeBench, databasePrefix: string): Promise<ProductionShapeFigures> {
  const aws = await startAwsServices();
  try {
    const { services } = aws;
    // Every answer is the decision (200), none a 202 that the load generator would count as a failure.
    const queued = { VAULT_CLEARANCE_MODE: "queued", VAULT_CLEARANCE_SYNC_WAIT_MS: "20000" };
    const memoryQueue = await approvedPerSecond(bench, `${databasePrefix}_memq`, "queued path, in-memory queue", queued);
    const sqsEnv = {
      ...queued,
      ...credentials,
      VAULT_CLEARANCE_SQS_QUEUE_URL: services.queueUrls[0]!,
      AWS_ENDPOINT_URL_SQS: services.sqsEndpoint,
      VAULT_CLEARANCE_SQS_WAIT_TIME_SECONDS: "1",
    };
    const sqsQueue = await approvedPerSecond(bench, `${databasePrefix}_sqs`, "queued path, SQS FIFO (fauxqs), 32 groups per tenant", sqsEnv);
    // One group is one message at a time: a few clients are enough to keep it busy.
    const sqsOneGroup = await approvedPerSecond(
      bench,
      `${databasePrefix}_sqs1`,
      `queued path, SQS FIFO (fauxqs), 1 group, ${ONE_GROUP_CONNECTIONS} connections`,
      { ...sqsEnv, VAULT_CLEARANCE_SQS_QUEUE_URL: services.queueUrls[1]!, VAULT_CLEARANCE_SQS_FIFO_GROUP_SHARDS: "1" },
      ONE_GROUP_CONNECTIONS,
    );
    const localKey = await approvedPerSecond(bench, `${databasePrefix}_local`, "local signing key", {});
    const kms = await approvedPerSecond(bench, `${databasePrefix}_kms`, `KMS signing (stand-in, ${services.signLatencyMs} ms per Sign)`, {
      ...credentials,
      VAULT_SIGNER_BACKEND: "aws_kms",
      VAULT_KMS_KEY_ID: "bench-token",
      VAULT_LEDGER_KMS_KEY_ID: "bench-ledger",
      AWS_ENDPOINT_URL_KMS: services.kmsEndpoint,
    });
    return { memoryQueue, sqsQueue, sqsOneGroup, localKey, kms, signLatencyMs: services.signLatencyMs };
  } finally {
    await aws.stop();
  }
}

export function productionShapeRows(f: ProductionShapeFigures): string[] {
  const ratio = (a: PhaseStats, b: PhaseStats) => (a.perSecond / b.perSecond).toFixed(2);
  return [
    row("queued path, in-memory queue: approved decisions/s (baseline)", f.memoryQueue),
    row("queued path, SQS FIFO (fauxqs, 32 groups): approved decisions/s", f.sqsQueue, `  (= ${ratio(f.sqsQueue, f.memoryQueue)} x in-memory)`),
    row("queued path, SQS FIFO (fauxqs, 1 group): approved decisions/s", f.sqsOneGroup, `  (= ${ratio(f.sqsOneGroup, f.memoryQueue)} x in-memory)`),
    row("local signing key: approved decisions/s (baseline)", f.localKey),
    row(`KMS signing, ${f.signLatencyMs} ms per Sign: approved decisions/s`, f.kms, `  (= ${ratio(f.kms, f.localKey)} x local key)`),
  ];
}

export function productionShapeSummary(f: ProductionShapeFigures) {
  return {
    memoryQueue: figures(f.memoryQueue),
    sqsQueue: { ...figures(f.sqsQueue), ratioToMemory: +(f.sqsQueue.perSecond / f.memoryQueue.perSecond).toFixed(3) },
    sqsOneGroup: { ...figures(f.sqsOneGroup), ratioToMemory: +(f.sqsOneGroup.perSecond / f.memoryQueue.perSecond).toFixed(3) },
    localKey: figures(f.localKey),
    kms: { ...figures(f.kms), signLatencyMs: f.signLatencyMs, ratioToLocal: +(f.kms.perSecond / f.localKey.perSecond).toFixed(3) },
  };
}

export function productionShapePhases(f: ProductionShapeFigures): Record<string, PhaseStats> {
  return { "memory queue": f.memoryQueue, "sqs queue": f.sqsQueue, "sqs one group": f.sqsOneGroup, "local key": f.localKey, kms: f.kms };
}
