/**
 * The production topology on loopback, for tests that run it as real processes: `countersign serve`
 * and `countersign judge` as child processes (tsx, like lease-takeover.test.ts and
 * judge-service.test.ts start them), and the AWS side in the test process: fauxqs (SQS FIFO), s3rver
 * (the anchor bucket), the KMS stand-in and the Secrets Manager stand-in.
 */
import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { setTimeout as sleep } from "node:timers/promises";
import { CreateBucketCommand, GetObjectCommand, S3Client } from "@aws-sdk/client-s3";
import { GetQueueAttributesCommand } from "@aws-sdk/client-sqs";
import { startKmsStandIn, type KmsStandIn } from "./kms-stand-in.js";
import { S3RVER_CREDENTIALS, startS3TestServer, type S3TestServer } from "./s3-test-server.js";
import { startSecretsManagerStandIn, type SecretsManagerStandIn } from "./secrets-manager-stand-in.js";
import { startSqs, type SqsTestServer } from "./sqs-test-server.js";
import { freePort } from "./vault.js";

// Generous: two cores shared with other suites, tsx compiling on start, judge workers loading the model.
const READY_WITHIN_MS = 90_000;
const STOP_WITHIN_MS = 15_000;

export interface ServiceProcess {
  name: string;
  child: ChildProcess;
  url: string;
  exited: Promise<void>;
  /** The last few kB of stdout and stderr, for failure messages. */
  output(): string;
  /** SIGKILL, as a crash or an OOM kill: no shutdown hook runs. Resolves once the process is gone. */
  crash(): Promise<void>;
  /** SIGSTOP / SIGCONT: the process does nothing meanwhile (no lease renewal, no commit, no answer). */
  freeze(): void;
  thaw(): void;
  /** SIGTERM (then SIGKILL after a grace), and SIGKILL for any leftover child (the judge's cluster workers). */
  stop(): Promise<void>;
}

const alive = (pid: number) => {
  try {
    return process.kill(pid, 0);
  } catch {
    return false;
  }
};

function childPids(pid: number | undefined): number[] {
  if (pid === undefined) return [];
  try {
    return execFileSync("ps", ["-o", "pid=", "--ppid", String(pid)], { encoding: "utf8" }).split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return []; // ps exits 1 when there are none
  }
}

async function waitUntil(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline && !check()) await sleep(100);
  return check();
}

/** Starts `cli.ts <command>` on `port` with exactly `env` over PATH and friends, and waits for /readyz 200. */
export async function startService(name: string, command: "serve" | "judge", port: number, env: Record<string, string>): Promise<ServiceProcess> {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main/cli.ts", command], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, LOG_LEVEL: "warn", ...env },
  });
  let out = "";
  const keep = (b: Buffer) => void (out = (out + b.toString()).slice(-4000));
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  let done = false;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve())).then(() => void (done = true));
  const proc: ServiceProcess = {
    name,
    child,
    url: `http://127.0.0.1:${port}`,
    exited,
    output: () => out,
    async crash() {
      if (!done) child.kill("SIGKILL");
      await exited;
    },
    freeze: () => void child.kill("SIGSTOP"),
    thaw: () => void child.kill("SIGCONT"),
    async stop() {
      const workers = childPids(child.pid);
      if (!done) child.kill("SIGCONT");
      if (!done) child.kill("SIGTERM");
      if (!(await waitUntil(() => done, STOP_WITHIN_MS))) child.kill("SIGKILL");
      await exited;
      // A worker that outlived its primary would keep the port: kill each leftover by its own pid.
      if (!(await waitUntil(() => !workers.some(alive), STOP_WITHIN_MS))) for (const pid of workers.filter(alive)) process.kill(pid, "SIGKILL");
    },
  };
  const deadline = Date.now() + READY_WITHIN_MS;
  while (Date.now() < deadline) {
    if (done) throw new Error(`${name} (${command}) exited before it was ready:\n${out}`);
    if (await fetch(`${proc.url}/readyz`).then((r) => r.status === 200, () => false)) return proc;
    await sleep(200);
  }
  await proc.stop();
  throw new Error(`${name} (${command}) was not ready within ${READY_WITHIN_MS} ms:\n${out}`);
}

/** The judge's cluster workers: the node processes among its primary's children (tsx may run an esbuild one too). */
export function workersOf(p: ServiceProcess): number[] {
  return childPids(p.child.pid).filter((pid) => {
    try {
      return execFileSync("ps", ["-o", "comm=", "-p", String(pid)], { encoding: "utf8" }).trim() === "node";
    } catch {
      return false; // gone meanwhile
    }
  });
}

export interface AwsStandIns {
  sqs: SqsTestServer;
  s3: S3TestServer;
  kms: KmsStandIn;
  sm: SecretsManagerStandIn;
  queueUrl: string;
  bucket: string;
  /** Secret names of the vaults' and the judge's bundles. */
  vaultSecret: string;
  judgeSecret: string;
  /** The values the bundles carry (the test needs the keys to call the services). */
  secrets: { adminKey: string; judgeKey: string; sealingKeyBase64: string };
  /** Environment every process gets for the AWS side: endpoints, region, credentials. */
  awsEnv: Record<string, string>;
  /** The anchored object `<tenantId>/<name>` of the bucket, or undefined. */
  anchored(tenantId: string, name: string): Promise<string | undefined>;
  /** The clearance queue's messages: visible, and received but not deleted. */
  queueCounts(): Promise<{ visible: number; inFlight: number }>;
  stop(): Promise<void>;
}

/**
 * Starts the AWS stand-ins, creates the FIFO queue, the anchor bucket, two Ed25519 KMS keys (tokens,
 * ledger) and the two Secrets Manager bundles. A failure to start any of them throws: nothing is skipped.
 */
export async function startAwsStandIns(): Promise<AwsStandIns> {
  const [sqs, s3, kms] = await Promise.all([startSqs(), startS3TestServer(), startKmsStandIn()]);
  const suffix = randomBytes(4).toString("hex");
  const secrets = {
    adminKey: `csk_test_${randomBytes(16).toString("hex")}`,
    judgeKey: `judge_${randomBytes(16).toString("hex")}`,
    sealingKeyBase64: randomBytes(32).toString("base64"),
  };
  const vaultSecret = `countersign/${suffix}/vault`;
  const judgeSecret = `countersign/${suffix}/judge`;
  const sm = await startSecretsManagerStandIn({
    [vaultSecret]: {
      VAULT_BOOTSTRAP_API_KEY: secrets.adminKey,
      VAULT_JUDGE_API_KEY: secrets.judgeKey,
      VAULT_TRANSPORT_KEY_BASE64: secrets.sealingKeyBase64,
    },
    [judgeSecret]: { JUDGE_API_KEY: secrets.judgeKey },
  });
  kms.createKey("token-1");
  kms.createKey("ledger-1");
  const queueUrl = sqs.fifoQueue();
  const bucket = `anchors-${suffix}`;
  const s3Client = new S3Client({ region: "us-east-1", endpoint: s3.endpoint, forcePathStyle: true, credentials: S3RVER_CREDENTIALS });
  await s3Client.send(new CreateBucketCommand({ Bucket: bucket }));
  const sqsClient = sqs.client();
  return {
    sqs,
    s3,
    kms,
    sm,
    queueUrl,
    bucket,
    vaultSecret,
    judgeSecret,
    secrets,
    awsEnv: {
      AWS_REGION: "us-east-1",
      // s3rver accepts only its own access key; fauxqs and the stand-ins check no signature.
      AWS_ACCESS_KEY_ID: S3RVER_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: S3RVER_CREDENTIALS.secretAccessKey,
      AWS_ENDPOINT_URL_SQS: sqs.endpoint,
      AWS_ENDPOINT_URL_S3: s3.endpoint,
      AWS_ENDPOINT_URL_KMS: kms.url,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: sm.url,
    },
    async anchored(tenantId, name) {
      try {
        const res = await s3Client.send(new GetObjectCommand({ Bucket: bucket, Key: `${tenantId}/${name}` }));
        return await res.Body!.transformToString("utf8");
      } catch (err) {
        if ((err as { name?: string }).name === "NoSuchKey") return undefined;
        throw err;
      }
    },
    async queueCounts() {
      const out = await sqsClient.send(
        new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"] }),
      );
      return { visible: Number(out.Attributes!.ApproximateNumberOfMessages), inFlight: Number(out.Attributes!.ApproximateNumberOfMessagesNotVisible) };
    },
    async stop() {
      s3Client.destroy();
      await Promise.allSettled([sqs.stop(), s3.close(), kms.close(), sm.close()]);
    },
  };
}

export interface VaultTuning {
  visibilitySeconds: number;
  leaseSeconds: number;
  waitTimeSeconds: number;
}

/**
 * A production vault's environment: secrets only through AWS_SECRET_NAME, every clearance through
 * SQS, tokens and ledger signed by KMS, checkpoints anchored to the S3 bucket, the remote judge.
 */
export function vaultEnv(aws: AwsStandIns, dbUrl: string, judgeUrl: string, port: number, t: VaultTuning): Record<string, string> {
  return {
    ...aws.awsEnv,
    DATABASE_URL: dbUrl,
    AWS_SECRET_NAME: aws.vaultSecret,
    VAULT_HOST: "127.0.0.1",
    VAULT_PORT: String(port),
    VAULT_RATE_LIMIT_RPS: "0",
    VAULT_JUDGE_URL: judgeUrl,
    // The fail-closed budgets have their own tests. Here a busy shared machine alone (other suites on the
    // same 2 cores) would exceed them and turn expected approvals into reviews, blurring what is checked.
    VAULT_JUDGE_TIMEOUT_MS: "30000",
    VAULT_KMS_TIMEOUT_MS: "10000",
    VAULT_CLEARANCE_MODE: "queued",
    VAULT_CLEARANCE_SQS_QUEUE_URL: aws.queueUrl,
    VAULT_CLEARANCE_SQS_VISIBILITY_TIMEOUT_SECONDS: String(t.visibilitySeconds),
    VAULT_CLEARANCE_SQS_WAIT_TIME_SECONDS: String(t.waitTimeSeconds),
    VAULT_CLEARANCE_LEASE_SECONDS: String(t.leaseSeconds),
    VAULT_SIGNER_BACKEND: "aws_kms",
    VAULT_KEY_ID: "kms-token-1",
    VAULT_KMS_KEY_ID: "token-1",
    VAULT_LEDGER_KMS_KEY_ID: "ledger-1",
    ...anchorEnv(aws),
    VAULT_LEDGER_ANCHOR_BACKFILL_INTERVAL_SECONDS: "1",
  };
}

function anchorEnv(aws: AwsStandIns): Record<string, string> {
  // s3rver implements no bucket versioning.
  return { VAULT_LEDGER_ANCHOR_BUCKET: aws.bucket, VAULT_LEDGER_ANCHOR_FORCE_PATH_STYLE: "true", VAULT_LEDGER_REQUIRE_BUCKET_VERSIONING: "false" };
}

/** What an operator's shell has for the admin commands (`ledger fsck`): the database, the vaults' bundle, the bucket. */
export function operatorEnv(aws: AwsStandIns, dbUrl: string): Record<string, string> {
  return { ...aws.awsEnv, DATABASE_URL: dbUrl, AWS_SECRET_NAME: aws.vaultSecret, ...anchorEnv(aws) };
}

export function judgeEnv(aws: AwsStandIns, dbUrl: string, port: number, workers: number): Record<string, string> {
  return {
    ...aws.awsEnv,
    DATABASE_URL: dbUrl,
    AWS_SECRET_NAME: aws.judgeSecret,
    JUDGE_HOST: "127.0.0.1",
    JUDGE_PORT: String(port),
    JUDGE_WORKERS: String(workers),
    // As VAULT_JUDGE_TIMEOUT_MS above: the 50 ms default CEL budget is a scheduling delay on a busy machine.
    VAULT_CEL_TIMEOUT_MS: "5000",
  };
}

export { freePort };
