import { z } from "zod";

/** Env booleans as the seeds write them: true/1/yes and false/0/no. */
const envBool = (fallback: boolean) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v === "") return fallback;
      const s = v.trim().toLowerCase();
      if (["true", "1", "yes"].includes(s)) return true;
      if (["false", "0", "no"].includes(s)) return false;
      ctx.addIssue({ code: "custom", message: "must be true/false, 1/0 or yes/no" });
      return z.NEVER;
    });

const int = (fallback: number, min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === "") return fallback;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: "custom", message: `must be an integer from ${min} to ${max}` });
        return z.NEVER;
      }
      return n;
    });

/** An integer that may be left unset (its default depends on other variables). */
const optionalInt = (min: number, max: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === "") return undefined;
      const n = Number(v);
      if (!Number.isInteger(n) || n < min || n > max) {
        ctx.addIssue({ code: "custom", message: `must be an integer from ${min} to ${max}` });
        return z.NEVER;
      }
      return n;
    });

/** Seconds as a decimal: "0.25" is a quarter second. */
const positiveSeconds = (fallback: number, max: number) =>
  z
    .string()
    .optional()
    .transform((v, ctx) => {
      if (v === undefined || v.trim() === "") return fallback;
      const n = Number(v);
      if (!Number.isFinite(n) || n < 0.01 || n > max) {
        ctx.addIssue({ code: "custom", message: `must be a number of seconds from 0.01 to ${max}` });
        return z.NEVER;
      }
      return n;
    });

/** Any http(s) URL the WHATWG parser accepts: queue URLs have host names like sqs.us-east-1.localhost. */
const httpUrl = z.string().refine((v) => {
  try {
    return ["http:", "https:"].includes(new URL(v).protocol);
  } catch {
    return false;
  }
}, "must be an http(s) URL");

const optionalString = z
  .string()
  .optional()
  .transform((v) => (v === undefined || v.trim() === "" ? undefined : v));

/** Every environment variable the vault reads, with the seeds' names and defaults. */
export const envSchema = z.object({
  VAULT_HOST: z.string().default("0.0.0.0"),
  VAULT_PORT: int(8000, 0, 65535),
  // Listener limits (vault and judge service): a client that stalls a body or headers is cut off.
  VAULT_HTTP_REQUEST_TIMEOUT_SECONDS: positiveSeconds(30, 3600),
  // Above the 60 s idle timeout of common load balancers, so the balancer (not us) closes idle keep-alives.
  VAULT_HTTP_KEEP_ALIVE_TIMEOUT_SECONDS: positiveSeconds(72, 3600),
  // 512: half of the common 1024 open-file soft limit, leaving the rest for database files, pool
  // connections and outbound calls, so a flood of sockets is refused before the process hits EMFILE.
  VAULT_HTTP_MAX_CONNECTIONS: int(512, 1, 1_000_000),
  // A socket that neither reads nor writes for this long is closed, also mid-answer: a client that sends
  // requests and never reads the answers would otherwise hold its socket (and a share of the cap) forever.
  // Above the longest honest silence: a 60 s long poll (?wait=) and the 15 s SSE heartbeat.
  VAULT_HTTP_SOCKET_IDLE_TIMEOUT_SECONDS: positiveSeconds(90, 3600),
  // SIGTERM/SIGINT: time for in-flight work to finish before the process exits anyway.
  VAULT_SHUTDOWN_GRACE_SECONDS: positiveSeconds(10, 3600),
  VAULT_SIGNER_BACKEND: z.enum(["local", "aws_kms"]).default("local"),
  VAULT_PRIVATE_KEY_FILE: optionalString,
  VAULT_PRIVATE_KEY_BASE64: optionalString,
  VAULT_KEY_ID: z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, "must be 1-64 of A-Z a-z 0-9 . _ : -").default("vault-key-001"),
  // aws_kms: tokens signed by this KMS key (key spec ECC_NIST_EDWARDS25519), ledger receipts and checkpoints
  // by the second one (the ledger key cannot be derived from a key that never leaves KMS).
  VAULT_KMS_KEY_ID: optionalString,
  VAULT_LEDGER_KMS_KEY_ID: optionalString,
  // The ledger key's kid in JWKS with aws_kms; default <VAULT_KEY_ID>.ledger, as the local backend derives it.
  VAULT_LEDGER_KEY_ID: z.string().regex(/^[A-Za-z0-9._:-]{1,64}$/, "must be 1-64 of A-Z a-z 0-9 . _ : -").optional(),
  // Signing calls to KMS in flight at once (per process), and how long one may take before it fails closed.
  VAULT_KMS_MAX_IN_FLIGHT: int(64, 1, 10_000),
  VAULT_KMS_TIMEOUT_MS: int(2000, 10, 60_000),
  VAULT_JWT_TTL: int(300, 1, 86_400),
  VAULT_JWT_ISSUER: z.string().min(1).default("alcv-vault"),
  VAULT_JWT_AUDIENCE: z.string().min(1).default("ledgix-sdk"),
  VAULT_CORS_ALLOWED_ORIGIN: optionalString,
  // Where people reach this vault: links to the review console in Slack messages and emails.
  VAULT_PUBLIC_URL: z.url({ protocol: /^https?$/ }).optional(),
  // Passkey-signed approvals (src/passkeys/): the WebAuthn relying party. Defaults follow VAULT_PUBLIC_URL (webauthn-config.ts).
  VAULT_WEBAUTHN_RP_ID: z
    .string()
    .trim()
    .toLowerCase()
    .regex(/^(?=.{1,253}$)[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$/, "must be a domain name (no scheme, port or path), e.g. vault.example.com")
    .optional(),
  VAULT_WEBAUTHN_ORIGINS: optionalString,
  VAULT_WEBAUTHN_RP_NAME: z.string().trim().min(1).max(64).default("Countersign"),
  // How often pending reviews are checked for expiry, reminders and escalation.
  VAULT_REVIEW_SWEEP_INTERVAL_SECONDS: positiveSeconds(5, 3600),
  DATABASE_URL: optionalString,
  // AWS Secrets Manager: the bundle merged over the environment at start-up (src/config/secret-bundle.ts),
  // and where each tenant's bundle lives (<prefix>/<tenant_id>), cached for the TTL then read again.
  AWS_SECRET_NAME: optionalString,
  TENANT_SECRET_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9/_+=.@-]{1,400}$/, "must be a Secrets Manager name prefix (A-Z a-z 0-9 / _ + = . @ -)")
    .optional(),
  VAULT_TENANT_SECRET_CACHE_TTL_SECONDS: int(300, 1, 86_400),
  VAULT_DATA_DIR: z.string().min(1).default("./data"),
  // Per process: processes × (control + tenants × tenant) must fit max_connections − superuser_reserved_connections
  // (checked at start-up, see src/db/pool-budget.ts). 4 processes × (4 + 10 tenants × 2) = 96 fit a default server (100).
  VAULT_CONTROL_PLANE_DB_MAX_OPEN_CONNS: int(4, 1, 1000),
  VAULT_TENANT_DB_MAX_OPEN_CONNS: int(2, 1, 1000),
  VAULT_CLEARANCE_ASYNC_WORKERS: int(16, 1, 1024),
  VAULT_CLEARANCE_ASYNC_QUEUE_SIZE: int(2048, 1, 1_000_000),
  VAULT_CLEARANCE_QUEUE_HIGH_WATERMARK_PERCENT: int(90, 1, 100),
  // auto: decide in the handler when the judge needs no I/O (rules only); queued: always via the queue.
  VAULT_CLEARANCE_MODE: z.enum(["auto", "queued"]).default("auto"),
  VAULT_CLEARANCE_SYNC_WAIT_MS: int(1500, 0, 60_000),
  // How long a vault process holds an unfinished request it no longer renews (it died) before any other
  // live process takes it over. Renewed every third of it while the process lives.
  VAULT_CLEARANCE_LEASE_SECONDS: positiveSeconds(30, 3600),
  // SQS FIFO instead of the in-memory queue when the URL is set (src/requests/sqs-queue.ts). MessageGroupId is
  // a tenant shard: messages of one group are handed out one at a time, so shards are the parallelism.
  VAULT_CLEARANCE_SQS_QUEUE_URL: httpUrl.optional(),
  VAULT_CLEARANCE_SQS_FIFO_GROUP_SHARDS: int(32, 1, 100_000),
  VAULT_CLEARANCE_SQS_WAIT_TIME_SECONDS: int(20, 0, 20),
  VAULT_CLEARANCE_SQS_VISIBILITY_TIMEOUT_SECONDS: int(60, 1, 43_200),
  // Deliveries of one message before it is treated as poison (decided as review) when the queue has no
  // redrive policy of its own; with one, its maxReceiveCount applies.
  VAULT_CLEARANCE_SQS_MAX_RECEIVE_COUNT: int(5, 1, 1000),
  // Group commit: concurrent decisions, burns and review events of one tenant share one transaction,
  // flushed when this many are waiting or after this long (src/db/group-commit.ts). 1 disables it.
  VAULT_DECISION_BATCH_MAX: int(64, 1, 1000),
  VAULT_DECISION_BATCH_WAIT_MS: int(2, 0, 1000),
  // How old a policy-decided approval may be and still be re-issued by /mint-token.
  VAULT_MINT_MAX_AGE_SECONDS: int(300, 1, 30 * 86_400),
  // Lost-consume recovery: a burn with no execution report after this long is listed (GET /tokens/unreported).
  VAULT_EXECUTION_REPORT_TIMEOUT_SECONDS: int(300, 0, 30 * 86_400),
  // The longest a session grant lasts (docs/grants.md): a session id is the agent's to choose, so it never lasts forever.
  VAULT_GRANT_MAX_SESSION_HOURS: int(24, 1, 720),
  VAULT_JUDGE_TIMEOUT_MS: int(10_000, 10, 600_000),
  // Policy conditions (CEL) run in worker threads (src/policies/cel-pool.ts) with a hard time budget per
  // request; over it the request goes to review with condition_timeout. See docs/concepts.md, "How a decision is made".
  VAULT_CEL_TIMEOUT_MS: int(50, 1, 60_000),
  // 2, not one per CPU: two keep one slow condition from stalling everyone else's, and a worker held by
  // a hostile condition burns a whole core for its budget, so more workers than cores starve the event loop.
  VAULT_CEL_WORKERS: int(2, 1, 64),
  // Size budget of tool_args and context on /request-clearance (counted together): JSON values in all, and
  // the longest array. Over it: 413 args_too_large, nothing stored.
  VAULT_MAX_ARGS_NODES: int(10_000, 16, 1_000_000),
  VAULT_MAX_ARRAY_LENGTH: int(1_000, 1, 1_000_000),
  VAULT_RATE_LIMIT_RPS: int(20, 0, 1_000_000),
  VAULT_RATE_LIMIT_BURST: int(40, 1, 1_000_000),
  VAULT_RATE_LIMIT_TTL_SECONDS: int(180, 1, 86_400),
  VAULT_MAX_BODY_BYTES: int(1_048_576, 1024, 64 * 1_048_576),
  VAULT_API_KEY_CACHE_TTL_MS: int(2000, 0, 600_000),
  VAULT_POLICY_CACHE_TTL_MS: int(1000, 0, 600_000),
  VAULT_BOOTSTRAP_API_KEY: optionalString,
  VAULT_PRINT_BOOTSTRAP_KEY: envBool(true),
  // The judge: in-process unless VAULT_JUDGE_URL names a `countersign judge` service.
  VAULT_JUDGE_URL: z.url({ protocol: /^https?$/ }).optional(),
  VAULT_JUDGE_API_KEY: optionalString,
  // Largest answer the vault accepts from VAULT_JUDGE_URL; a larger one fails closed to review.
  VAULT_JUDGE_MAX_RESPONSE_BYTES: int(1_048_576, 1024, 256 * 1_048_576),
  VAULT_ALLOW_STUB_JUDGE: envBool(false),
  JUDGE_HOST: z.string().default("0.0.0.0"),
  JUDGE_PORT: int(8001, 0, 65535),
  JUDGE_API_KEY: optionalString,
  JUDGE_ENDPOINT_RATE_LIMIT: z
    .string()
    .regex(/^\s*\d+\s*\/\s*(second|minute|hour|day)\s*$/i, "must look like 600/minute (per second, minute, hour or day)")
    .default("600/minute"),
  JUDGE_WORKERS: int(2, 1, 64),
  // Policy knowledge: the offline model by default, else any OpenAI-compatible endpoint.
  EMBEDDING_MODEL: z.string().min(1).default("offline/universal-sentence-encoder"),
  EMBEDDING_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
  EMBEDDING_API_KEY: optionalString,
  // One batch is up to 128 texts; at 4096 floats each that is about 12 MB of JSON.
  EMBEDDING_MAX_RESPONSE_BYTES: int(32 * 1_048_576, 1024, 1024 * 1_048_576),
  RETRIEVAL_TOP_K: int(5, 1, 50),
  // The LLM step runs only when EVAL_MODEL is set.
  EVAL_MODEL: optionalString,
  LLM_BASE_URL: z.url({ protocol: /^https?$/ }).optional(),
  LLM_API_KEY: optionalString,
  EVAL_TIMEOUT_MS: int(8000, 10, 600_000),
  LLM_MAX_RESPONSE_BYTES: int(1_048_576, 1024, 256 * 1_048_576),
  // The ledger: sequencing and checkpoint cadence, anchoring, and encryption of entry bodies at rest.
  VAULT_LEDGER_ANCHOR_BACKFILL_INTERVAL_SECONDS: positiveSeconds(30, 86_400),
  VAULT_LEDGER_ANCHOR_BACKFILL_BATCH_SIZE: int(500, 1, 100_000),
  VAULT_LEDGER_ORIGIN: z
    .string()
    .regex(/^[A-Za-z0-9._~:/-]{1,200}$/, "must be a schema-less URL-like name without spaces or '+', e.g. vault.example.com")
    .optional(),
  VAULT_LEDGER_ANCHOR_DIR: optionalString,
  VAULT_LEDGER_ANCHOR_BUCKET: optionalString,
  VAULT_LEDGER_ANCHOR_BUCKET_TEMPLATE: z
    .string()
    .regex(/\{(client_id|tenant_id)\}/, "must contain {client_id} or {tenant_id}")
    .optional(),
  VAULT_LEDGER_ANCHOR_PREFIX: optionalString,
  VAULT_LEDGER_ANCHOR_REGION: optionalString,
  // For S3-compatible stores (MinIO, test servers); AWS itself needs neither.
  VAULT_LEDGER_ANCHOR_ENDPOINT: z.url({ protocol: /^https?$/ }).optional(),
  VAULT_LEDGER_ANCHOR_FORCE_PATH_STYLE: envBool(false),
  VAULT_LEDGER_REQUIRE_BUCKET_VERSIONING: envBool(true),
  VAULT_LEDGER_REQUIRE_OBJECT_LOCK: envBool(false),
  // C2SP tlog-witnesses that cosign every checkpoint (JSON list of {url, key}; src/config/witness-config.ts),
  // how many cosignatures make a checkpoint witnessed (default 1 when any is listed), and one exchange's deadline.
  VAULT_LEDGER_WITNESSES: optionalString,
  VAULT_LEDGER_WITNESS_QUORUM: optionalInt(1, 32),
  VAULT_LEDGER_WITNESS_TIMEOUT_MS: int(5000, 100, 120_000),
  AWS_REGION: optionalString,
  // Standard AWS SDK endpoint overrides (emulators, stand-ins, VPC endpoints): the general one and per service.
  AWS_ENDPOINT_URL: z.url({ protocol: /^https?$/ }).optional(),
  AWS_ENDPOINT_URL_SQS: z.url({ protocol: /^https?$/ }).optional(),
  AWS_ENDPOINT_URL_KMS: z.url({ protocol: /^https?$/ }).optional(),
  AWS_ENDPOINT_URL_SECRETS_MANAGER: z.url({ protocol: /^https?$/ }).optional(),
  AWS_ENDPOINT_URL_S3: z.url({ protocol: /^https?$/ }).optional(),
  // The sealing key (Secrets.sealingKey; the variable keeps its published name): seals ledger bodies,
  // webhook secrets, Slack URLs and tenant DSNs at rest.
  VAULT_TRANSPORT_KEY_BASE64: optionalString,
  // Outbound webhooks, Slack and email go through the tenant's outbox; an entry is dead after this many attempts.
  VAULT_OUTBOX_MAX_ATTEMPTS: int(10, 1, 100),
  // Development and tests only: let webhook and Slack targets be loopback, private or link-local addresses.
  VAULT_WEBHOOK_ALLOW_PRIVATE_TARGETS: envBool(false),
  // Email notifications over SMTP (nodemailer); off unless SMTP_HOST is set.
  SMTP_HOST: optionalString,
  SMTP_PORT: int(587, 1, 65535),
  SMTP_USER: optionalString,
  SMTP_PASSWORD: optionalString,
  SMTP_FROM: optionalString,
  // true: TLS from the first byte (usually port 465); false: STARTTLS when the server offers it.
  SMTP_SECURE: envBool(false),
  LOG_FORMAT: z.enum(["json", "text"]).default("json"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  // production: VAULT_LEDGER_ORIGIN is required (a log's name must not follow the container's host name).
  NODE_ENV: optionalString,
});

export type RawEnv = z.infer<typeof envSchema>;
