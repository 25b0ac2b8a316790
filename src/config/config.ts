import path from "node:path";
import { AwsSettings } from "./aws.js";
import { ConfigError } from "./config-error.js";
import { signerConfig, type SignerConfig } from "./signer-config.js";
import { envSchema, type RawEnv } from "./env-schema.js";
import { webauthnConfig, type WebauthnConfig } from "./webauthn-config.js";
import { witnessConfig, type WitnessConfig } from "./witness-config.js";
import type { SecretReferences } from "./secrets.js";
import { EnvSecretsProvider, type SecretsProvider } from "./secrets-provider.js";

export { ConfigError };
export type { SignerConfig };
export type { WitnessConfig, WitnessEndpoint } from "./witness-config.js";

/** Socket-level limits of an HTTP listener (vault and judge service); see src/http/listener-limits.ts. */
export interface ListenerLimits {
  requestTimeoutMs: number;
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
  /** A socket with no bytes read or written for this long is destroyed, answering or not. */
  socketIdleTimeoutMs: number;
}

export type DatabaseTarget =
  | { kind: "postgres"; url: string }
  /** dataDir is a directory, or "memory://" for a throwaway in-memory database (tests). */
  | { kind: "pglite"; dataDir: string };

export interface Config {
  /** publicUrlSet: VAULT_PUBLIC_URL was given; else publicUrl is derived from the bound address. Signed agent requests are verified against publicUrl, never the Host header. */
  http: { host: string; port: number; corsOrigin?: string; maxBodyBytes: number; publicUrl: string; publicUrlSet: boolean; limits: ListenerLimits };
  shutdown: { graceMs: number };
  /** The WebAuthn relying party of passkey-signed approvals; defaults resolved with the public URL (webauthn-config.ts). */
  webauthn: WebauthnConfig;
  reviews: { sweepIntervalMs: number };
  database: DatabaseTarget;
  dataDir: string;
  pools: { controlMax: number; tenantMax: number };
  signer: SignerConfig;
  /** Region, endpoint overrides and credentials of every AWS client (src/config/aws.ts). */
  aws: AwsSettings;
  /** NODE_ENV=production: settings that development may leave to defaults are required. */
  production: boolean;
  /** Per-tenant bundles in AWS Secrets Manager at `<prefix>/<tenant_id>` (src/tenancy/tenant-secrets.ts). */
  tenantSecrets?: { prefix: string; cacheTtlMs: number };
  jwt: { ttlSeconds: number; issuer: string; audience: string };
  clearance: {
    mode: "auto" | "queued";
    workers: number;
    queueSize: number;
    highWatermark: number;
    /** Lease on an unfinished request (seconds); a dead process's requests are taken over after it. */
    leaseSeconds: number;
    /** Group commit of decisions (src/db/group-commit.ts): flush at this many, or after this wait. */
    batch: { max: number; waitMs: number };
    syncWaitMs: number;
    /** SQS FIFO instead of the in-memory queue (src/requests/sqs-queue.ts). */
    sqs?: SqsQueueConfig;
    judgeTimeoutMs: number;
    mintMaxAgeSeconds: number;
    /** A burn with no execution report after this long is a lost consume (GET /tokens/unreported). */
    executionReportTimeoutSeconds: number;
    /** VAULT_GRANT_MAX_SESSION_HOURS: how long a session grant lasts. */
    grantMaxSessionHours: number;
  };
  /** Policy condition evaluation: worker threads with a per-request time budget (src/policies/cel-pool.ts). */
  cel: { timeoutMs: number; workers: number };
  /** Size budget of a clearance request's tool_args plus context (src/clearance/request-schema.ts). */
  argsBudget: { maxNodes: number; maxArrayLength: number };
  rateLimit: { rps: number; burst: number; ttlSeconds: number };
  caches: { apiKeyTtlMs: number; policyTtlMs: number };
  bootstrap: { printKey: boolean };
  /** How the vault reaches its judge: remote (VAULT_JUDGE_URL), the stub, or in-process. */
  judge: { url?: string; allowStub: boolean; maxResponseBytes: number };
  /** The `countersign judge` service itself. */
  judgeService: { host: string; port: number; rateLimit: { rps: number; burst: number }; workers: number };
  embeddings: { model: string; baseUrl?: string; topK: number; maxResponseBytes: number };
  llm?: { model: string; baseUrl?: string; timeoutMs: number; maxResponseBytes: number };
  log: { format: "json" | "text"; level: RawEnv["LOG_LEVEL"] };
  ledger: LedgerConfig;
  /** The durable outbox: webhooks, Slack and email deliveries (src/outbox). */
  outbox: { maxAttempts: number; allowPrivateTargets: boolean };
  /** SMTP for email notifications; undefined when SMTP_HOST is not set. The password is a secret. */
  smtp?: { host: string; port: number; secure: boolean; user?: string; from: string };
  /** Where each credential lives (references, never values); src/config/secrets.ts resolves them into Secrets. */
  secretRefs: SecretReferences;
  /** The port that resolves secretRefs: the environment this config was read from, and files. */
  secretsProvider: SecretsProvider;
}

export interface SqsQueueConfig {
  queueUrl: string;
  groupShards: number;
  waitTimeSeconds: number;
  visibilityTimeoutSeconds: number;
  /** Deliveries before a message is poison, when the queue has no redrive policy of its own. */
  maxReceiveCount: number;
}

export type AnchorConfig =
  /** dir "memory://" (in-memory data dirs only) means a fresh temporary directory. */
  | { kind: "local"; dir: string }
  | {
      kind: "s3";
      /** One bucket for every tenant, or a per-tenant bucket name with {client_id} / {tenant_id}. */
      bucket?: string;
      bucketTemplate?: string;
      prefix: string;
      region?: string;
      endpoint?: string;
      forcePathStyle: boolean;
      requireVersioning: boolean;
      requireObjectLock: boolean;
    };

export interface LedgerConfig {
  intervalMs: number;
  batchSize: number;
  /** Log name prefix; the tenant's origin is `<origin>/ledger/<tenant_id>`. Defaults to the host name. */
  origin?: string;
  anchor: AnchorConfig;
  /** C2SP witnesses that cosign checkpoints (src/ledger/witnessing/); an empty list turns witnessing off. */
  witnessing: WitnessConfig;
}

/** Reads and validates the environment once; a bad value stops start-up naming the variable. */
export function loadConfig(env: Record<string, string | undefined> = process.env): Config {
  // An empty variable means "not set" for every variable alike.
  const given = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ""));
  const parsed = envSchema.safeParse(given);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new ConfigError(`Invalid configuration:\n${lines.join("\n")}`);
  }
  const e = parsed.data;
  const production = e.NODE_ENV === "production";
  if (production && !e.VAULT_LEDGER_ORIGIN) {
    throw new ConfigError(
      "Invalid configuration:\n  VAULT_LEDGER_ORIGIN: required when NODE_ENV=production (the ledger's public name, e.g. vault.example.com; it must not follow a container's host name)",
    );
  }
  if (e.VAULT_PRIVATE_KEY_FILE && e.VAULT_PRIVATE_KEY_BASE64) {
    throw new ConfigError(
      "Invalid configuration:\n  VAULT_PRIVATE_KEY_FILE: set either VAULT_PRIVATE_KEY_FILE or VAULT_PRIVATE_KEY_BASE64, not both",
    );
  }
  if (e.VAULT_ALLOW_STUB_JUDGE && e.VAULT_JUDGE_URL) {
    throw new ConfigError("Invalid configuration:\n  VAULT_ALLOW_STUB_JUDGE: the stub judge and VAULT_JUDGE_URL exclude each other; unset one");
  }
  if (e.VAULT_JUDGE_URL && !e.VAULT_JUDGE_API_KEY) {
    throw new ConfigError("Invalid configuration:\n  VAULT_JUDGE_API_KEY: required when VAULT_JUDGE_URL is set");
  }
  if (e.EVAL_MODEL && !e.VAULT_JUDGE_URL && e.EVAL_TIMEOUT_MS >= e.VAULT_JUDGE_TIMEOUT_MS) {
    // Otherwise a slow model would always end as judge_timeout, with the LLM call still running.
    throw new ConfigError("Invalid configuration:\n  EVAL_TIMEOUT_MS: must be below VAULT_JUDGE_TIMEOUT_MS (the LLM runs inside the judge's time)");
  }
  const database = databaseTarget(e.DATABASE_URL, e.VAULT_DATA_DIR);
  const dataDir = database.kind === "pglite" ? database.dataDir : path.resolve(e.VAULT_DATA_DIR);
  return {
    http: {
      host: e.VAULT_HOST,
      port: e.VAULT_PORT,
      corsOrigin: e.VAULT_CORS_ALLOWED_ORIGIN,
      maxBodyBytes: e.VAULT_MAX_BODY_BYTES,
      publicUrl: (e.VAULT_PUBLIC_URL ?? derivedPublicUrl(e.VAULT_HOST, e.VAULT_PORT)).replace(/\/+$/, ""),
      publicUrlSet: e.VAULT_PUBLIC_URL !== undefined,
      limits: {
        requestTimeoutMs: Math.round(e.VAULT_HTTP_REQUEST_TIMEOUT_SECONDS * 1000),
        // Headers are small: 10 s is plenty for any honest client, and Node requires it <= the request timeout.
        headersTimeoutMs: Math.round(Math.min(10, e.VAULT_HTTP_REQUEST_TIMEOUT_SECONDS) * 1000),
        keepAliveTimeoutMs: Math.round(e.VAULT_HTTP_KEEP_ALIVE_TIMEOUT_SECONDS * 1000),
        maxConnections: e.VAULT_HTTP_MAX_CONNECTIONS,
        socketIdleTimeoutMs: Math.round(e.VAULT_HTTP_SOCKET_IDLE_TIMEOUT_SECONDS * 1000),
      },
    },
    shutdown: { graceMs: Math.round(e.VAULT_SHUTDOWN_GRACE_SECONDS * 1000) },
    webauthn: webauthnConfig(e),
    reviews: { sweepIntervalMs: Math.round(e.VAULT_REVIEW_SWEEP_INTERVAL_SECONDS * 1000) },
    database,
    // The data dir holds the generated signing key and, in embedded mode, every PGlite database.
    dataDir,
    pools: { controlMax: e.VAULT_CONTROL_PLANE_DB_MAX_OPEN_CONNS, tenantMax: e.VAULT_TENANT_DB_MAX_OPEN_CONNS },
    signer: signerConfig(e),
    aws: new AwsSettings(given),
    production,
    tenantSecrets: e.TENANT_SECRET_PREFIX
      ? { prefix: e.TENANT_SECRET_PREFIX.replace(/\/+$/, ""), cacheTtlMs: e.VAULT_TENANT_SECRET_CACHE_TTL_SECONDS * 1000 }
      : undefined,
    jwt: { ttlSeconds: e.VAULT_JWT_TTL, issuer: e.VAULT_JWT_ISSUER, audience: e.VAULT_JWT_AUDIENCE },
    clearance: {
      mode: e.VAULT_CLEARANCE_MODE,
      workers: e.VAULT_CLEARANCE_ASYNC_WORKERS,
      queueSize: e.VAULT_CLEARANCE_ASYNC_QUEUE_SIZE,
      highWatermark: Math.max(1, Math.floor((e.VAULT_CLEARANCE_ASYNC_QUEUE_SIZE * e.VAULT_CLEARANCE_QUEUE_HIGH_WATERMARK_PERCENT) / 100)),
      syncWaitMs: e.VAULT_CLEARANCE_SYNC_WAIT_MS,
      sqs: e.VAULT_CLEARANCE_SQS_QUEUE_URL
        ? {
            queueUrl: e.VAULT_CLEARANCE_SQS_QUEUE_URL,
            groupShards: e.VAULT_CLEARANCE_SQS_FIFO_GROUP_SHARDS,
            waitTimeSeconds: e.VAULT_CLEARANCE_SQS_WAIT_TIME_SECONDS,
            visibilityTimeoutSeconds: e.VAULT_CLEARANCE_SQS_VISIBILITY_TIMEOUT_SECONDS,
            maxReceiveCount: e.VAULT_CLEARANCE_SQS_MAX_RECEIVE_COUNT,
          }
        : undefined,
      leaseSeconds: e.VAULT_CLEARANCE_LEASE_SECONDS,
      batch: { max: e.VAULT_DECISION_BATCH_MAX, waitMs: e.VAULT_DECISION_BATCH_WAIT_MS },
      judgeTimeoutMs: e.VAULT_JUDGE_TIMEOUT_MS,
      mintMaxAgeSeconds: e.VAULT_MINT_MAX_AGE_SECONDS,
      executionReportTimeoutSeconds: e.VAULT_EXECUTION_REPORT_TIMEOUT_SECONDS,
      grantMaxSessionHours: e.VAULT_GRANT_MAX_SESSION_HOURS,
    },
    cel: { timeoutMs: e.VAULT_CEL_TIMEOUT_MS, workers: e.VAULT_CEL_WORKERS },
    argsBudget: { maxNodes: e.VAULT_MAX_ARGS_NODES, maxArrayLength: e.VAULT_MAX_ARRAY_LENGTH },
    rateLimit: { rps: e.VAULT_RATE_LIMIT_RPS, burst: e.VAULT_RATE_LIMIT_BURST, ttlSeconds: e.VAULT_RATE_LIMIT_TTL_SECONDS },
    caches: { apiKeyTtlMs: e.VAULT_API_KEY_CACHE_TTL_MS, policyTtlMs: e.VAULT_POLICY_CACHE_TTL_MS },
    bootstrap: { printKey: e.VAULT_PRINT_BOOTSTRAP_KEY },
    judge: { url: e.VAULT_JUDGE_URL, allowStub: e.VAULT_ALLOW_STUB_JUDGE, maxResponseBytes: e.VAULT_JUDGE_MAX_RESPONSE_BYTES },
    judgeService: {
      host: e.JUDGE_HOST,
      port: e.JUDGE_PORT,
      rateLimit: parseRateLimit(e.JUDGE_ENDPOINT_RATE_LIMIT),
      workers: e.JUDGE_WORKERS,
    },
    embeddings: {
      model: e.EMBEDDING_MODEL,
      baseUrl: e.EMBEDDING_BASE_URL ?? e.LLM_BASE_URL,
      topK: e.RETRIEVAL_TOP_K,
      maxResponseBytes: e.EMBEDDING_MAX_RESPONSE_BYTES,
    },
    llm: e.EVAL_MODEL
      ? { model: e.EVAL_MODEL, baseUrl: e.LLM_BASE_URL, timeoutMs: e.EVAL_TIMEOUT_MS, maxResponseBytes: e.LLM_MAX_RESPONSE_BYTES }
      : undefined,
    log: { format: e.LOG_FORMAT, level: e.LOG_LEVEL },
    ledger: ledgerConfig(e, dataDir),
    outbox: { maxAttempts: e.VAULT_OUTBOX_MAX_ATTEMPTS, allowPrivateTargets: e.VAULT_WEBHOOK_ALLOW_PRIVATE_TARGETS },
    smtp: smtpConfig(e),
    secretRefs: secretRefs(e),
    secretsProvider: new EnvSecretsProvider(given),
  };
}

/** Which secrets are configured, as references into the same environment (env:NAME) or a file. */
function secretRefs(e: RawEnv): SecretReferences {
  const env = (name: keyof RawEnv) => (e[name] === undefined ? undefined : `env:${name}`);
  const refs: SecretReferences = {
    signingKey: e.VAULT_PRIVATE_KEY_FILE ? `file:${e.VAULT_PRIVATE_KEY_FILE}` : env("VAULT_PRIVATE_KEY_BASE64"),
    sealingKey: env("VAULT_TRANSPORT_KEY_BASE64"),
    llmApiKey: env("LLM_API_KEY"),
    // The LLM key is sent to the embedding endpoint only when that endpoint is the LLM's own.
    embeddingApiKey:
      env("EMBEDDING_API_KEY") ?? (!e.EMBEDDING_BASE_URL || e.EMBEDDING_BASE_URL === e.LLM_BASE_URL ? env("LLM_API_KEY") : undefined),
    judgeApiKey: env("VAULT_JUDGE_API_KEY"),
    judgeServiceApiKey: env("JUDGE_API_KEY"),
    smtpPassword: e.SMTP_HOST ? env("SMTP_PASSWORD") : undefined,
    bootstrapApiKey: env("VAULT_BOOTSTRAP_API_KEY"),
  };
  return Object.fromEntries(Object.entries(refs).filter(([, ref]) => ref !== undefined));
}

function smtpConfig(e: RawEnv): Config["smtp"] {
  // Without a host email is off; PUT /notification-settings then refuses email recipients, visibly.
  if (!e.SMTP_HOST) return undefined;
  if (!e.SMTP_FROM) throw new ConfigError("Invalid configuration:\n  SMTP_FROM: required when SMTP_HOST is set (the sender address)");
  if (e.SMTP_PASSWORD && !e.SMTP_USER) throw new ConfigError("Invalid configuration:\n  SMTP_USER: required when SMTP_PASSWORD is set");
  return { host: e.SMTP_HOST, port: e.SMTP_PORT, secure: e.SMTP_SECURE, user: e.SMTP_USER, from: e.SMTP_FROM };
}

function ledgerConfig(e: RawEnv, dataDir: string): LedgerConfig {
  if (e.VAULT_LEDGER_ANCHOR_BUCKET && e.VAULT_LEDGER_ANCHOR_BUCKET_TEMPLATE) {
    throw new ConfigError("Invalid configuration:\n  VAULT_LEDGER_ANCHOR_BUCKET_TEMPLATE: set either VAULT_LEDGER_ANCHOR_BUCKET or the template, not both");
  }
  if (e.VAULT_LEDGER_ANCHOR_DIR && (e.VAULT_LEDGER_ANCHOR_BUCKET || e.VAULT_LEDGER_ANCHOR_BUCKET_TEMPLATE)) {
    throw new ConfigError("Invalid configuration:\n  VAULT_LEDGER_ANCHOR_DIR: a local anchor directory and an S3 bucket exclude each other");
  }
  const s3 = e.VAULT_LEDGER_ANCHOR_BUCKET || e.VAULT_LEDGER_ANCHOR_BUCKET_TEMPLATE;
  const anchor: AnchorConfig = s3
    ? {
        kind: "s3",
        bucket: e.VAULT_LEDGER_ANCHOR_BUCKET,
        bucketTemplate: e.VAULT_LEDGER_ANCHOR_BUCKET_TEMPLATE,
        prefix: (e.VAULT_LEDGER_ANCHOR_PREFIX ?? "").replace(/^\/+|\/+$/g, ""),
        region: e.VAULT_LEDGER_ANCHOR_REGION ?? e.AWS_REGION,
        // The standard AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL; VAULT_LEDGER_ANCHOR_ENDPOINT is the older name.
        endpoint: e.VAULT_LEDGER_ANCHOR_ENDPOINT ?? e.AWS_ENDPOINT_URL_S3 ?? e.AWS_ENDPOINT_URL,
        forcePathStyle: e.VAULT_LEDGER_ANCHOR_FORCE_PATH_STYLE,
        requireVersioning: e.VAULT_LEDGER_REQUIRE_BUCKET_VERSIONING,
        requireObjectLock: e.VAULT_LEDGER_REQUIRE_OBJECT_LOCK,
      }
    : {
        kind: "local",
        dir: e.VAULT_LEDGER_ANCHOR_DIR ? path.resolve(e.VAULT_LEDGER_ANCHOR_DIR) : dataDir === "memory://" ? "memory://" : path.join(dataDir, "anchors"),
      };
  return {
    intervalMs: Math.round(e.VAULT_LEDGER_ANCHOR_BACKFILL_INTERVAL_SECONDS * 1000),
    batchSize: e.VAULT_LEDGER_ANCHOR_BACKFILL_BATCH_SIZE,
    origin: e.VAULT_LEDGER_ORIGIN,
    anchor,
    witnessing: witnessConfig(e),
  };
}

const secondsPer = { second: 1, minute: 60, hour: 3600, day: 86_400 } as const;

/**
 * VAULT_PUBLIC_URL's default: the vault's own address as a client can dial it. A wildcard bind
 * (0.0.0.0, ::) is reached at localhost, an IPv6 literal is bracketed. The vault replaces the port
 * with the one it actually listens on (VAULT_PORT=0: src/main/serve.ts), so port 0 is never published.
 */
export function derivedPublicUrl(host: string, port: number): string {
  const bare = host.replace(/^\[|\]$/g, "");
  const name = bare === "" || bare === "0.0.0.0" || bare === "::" ? "localhost" : bare.includes(":") ? `[${bare}]` : bare;
  return `http://${name}:${port}`;
}

/** "600/minute" (the seeds' slowapi form) as a token bucket: the whole allowance may come at once. */
export function parseRateLimit(text: string): { rps: number; burst: number } {
  const [count, unit] = text.split("/").map((p) => p.trim().toLowerCase());
  const n = Number(count);
  return { rps: n / secondsPer[unit as keyof typeof secondsPer], burst: Math.max(1, n) };
}

function isPgliteTarget(url: string): boolean {
  return !/^postgres(ql)?:\/\//i.test(url);
}

function pgliteDir(url: string): string {
  return url.replace(/^(pglite|file):\/\//i, "");
}

function databaseTarget(url: string | undefined, dataDir: string): DatabaseTarget {
  if (!url) return { kind: "pglite", dataDir: path.resolve(dataDir) };
  if (!isPgliteTarget(url)) return { kind: "postgres", url };
  if (url === "memory://") return { kind: "pglite", dataDir: "memory://" };
  return { kind: "pglite", dataDir: path.resolve(pgliteDir(url)) };
}
