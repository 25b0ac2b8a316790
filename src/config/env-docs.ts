import type { RawEnv } from "./env-schema.js";

/**
 * What each environment variable means, keyed by its name in env-schema.ts: the source of
 * docs/configuration.md (`npm run docs`, src/config/configuration-reference.ts). Defaults are not
 * written here: the reference takes them from the schema itself, so the two cannot disagree. Only a
 * default the schema cannot state (one derived from another variable or the host) is given, as
 * `derivedDefault`, and only for a variable whose schema default is unset (test/unit/generated-docs.test.ts).
 */

export type EnvVarName = keyof RawEnv;

export interface EnvVarDoc {
  /** The default when it is not a constant of the schema: derived at start-up from another variable or the host. */
  derivedDefault?: string;
  /** Which processes read it, in sections where that differs from row to row. */
  readBy?: string;
  meaning: string;
}

export interface EnvDocSection {
  title: string;
  /** Markdown before the table. */
  intro: string;
  /** Markdown after the table. */
  outro?: string;
  /** Show the "Read by" column. */
  withReadBy?: boolean;
  variables: Partial<Record<EnvVarName, EnvVarDoc>>;
  /** A table of other named fields that belongs with this section (the tenant secret bundle), under its own heading. */
  fields?: { title: string; intro: string; fields: Record<string, string>; outro?: string };
  /** Read by the AWS SDK itself, not by env-schema.ts: documented here, validated by the SDK. */
  sdkVariables?: Record<string, EnvVarDoc>;
}

const CONNECTION_BUDGET = `**PostgreSQL connection budget.** Every vault (and judge) process opens one pool on the control
database and one on each tenant database it serves, so all of them together may open

    processes × (VAULT_CONTROL_PLANE_DB_MAX_OPEN_CONNS + tenants × VAULT_TENANT_DB_MAX_OPEN_CONNS)

connections, which must stay within \`max_connections − superuser_reserved_connections\` (and
\`reserved_connections\` on PostgreSQL 16+). The defaults fit 4 processes and 10 tenants on a default
server: 4 × (4 + 10 × 2) = 96 ≤ 100 − 3. At start-up a vault on PostgreSQL reads these settings
and logs its budget (\`PostgreSQL connection budget: N per process; M such processes fit\`), or a
warning naming both variables and the formula when even one process does not fit. For more
throughput on few tenants, raise \`VAULT_TENANT_DB_MAX_OPEN_CONNS\` together with the server's
\`max_connections\`, keeping the formula true.`;

/** The fields of a tenant's secret bundle (tenantBundleSchema in src/tenancy/tenant-secrets.ts). */
export const tenantBundleFieldDocs: Record<string, string> = {
  database_url: "The tenant database's full DSN (`postgres://user:password@host/db`).",
  database_password:
    "Instead of `database_url`: a password put into the vault's own DSN for that tenant (its server, the tenant's database name).",
  database_user: "With `database_password`: the user name for that DSN.",
  ledger_transport_key_base64:
    "Base64 of 32 bytes. Seals this tenant's ledger entry bodies (AES-256-GCM) instead of `VAULT_TRANSPORT_KEY_BASE64`. Bodies are opened with it, then the previous keys below, then `VAULT_TRANSPORT_KEY_BASE64` (under which the tenant's older bodies were sealed): the ledger API, proof bundles and `countersign ledger fsck` read both. Hashes commit to the plaintext, so proofs are unaffected.",
  previous_ledger_transport_keys_base64:
    "Array of base64 32-byte keys (at most 16), newest first: ledger keys a rotation replaced. Tried after the current key to open older bodies, never used to seal. Dropping a key that still sealed bodies makes them unreadable (`503 ledger_key_unavailable`, fsck reports them).",
  webhook_sealing_key_base64:
    "Base64 of 32 bytes. Seals this tenant's webhook signing secrets and Slack URLs (settings and queued notifications) instead of `VAULT_TRANSPORT_KEY_BASE64`; opened with it, the previous keys, then `VAULT_TRANSPORT_KEY_BASE64`.",
  previous_webhook_sealing_keys_base64:
    "Array of base64 32-byte keys (at most 16): webhook keys a rotation replaced, tried after the current one. Keep a key here while any endpoint or Slack route sealed under it exists: without it those cannot be delivered, and the tenant's decisions that notify them fail.",
  llm_api_key:
    "Sent by the judge (in-process in the vault, or `countersign judge` with the same `TENANT_SECRET_PREFIX`) on this tenant's LLM calls instead of `LLM_API_KEY`. Also on all of this tenant's embedding calls (listed under `embedding_api_key`) when the embedding endpoint is the LLM's own and `embedding_api_key` is not given. Unused, with a warning naming the field, when no LLM is configured.",
  embedding_api_key:
    "Sent instead of `EMBEDDING_API_KEY` on every embedding call made for this tenant: the judge's retrieval queries, its policy text at `POST /register-policy` and `POST /policies/{id}/documents` (by the vault itself, or, with `VAULT_JUDGE_URL`, by `countersign judge`, which reads the tenant's bundle itself: the key never crosses the vault–judge connection), and `countersign policies reembed`. A judge that cannot read the bundle answers `503 tenant_secrets_unavailable`, and the registration `503 embedding_unavailable`, with nothing written. Unused, with a warning naming the field, with the offline model.",
};

export const envDocSections: EnvDocSection[] = [
  {
    title: "The vault",
    intro: `The vault's own settings. The judge service also reads \`DATABASE_URL\`, the two pool sizes,
\`VAULT_POLICY_CACHE_TTL_MS\`, the \`VAULT_HTTP_*\` listener limits, \`VAULT_SHUTDOWN_GRACE_SECONDS\`,
\`LOG_FORMAT\` and \`LOG_LEVEL\` from this table.`,
    outro: CONNECTION_BUDGET,
    variables: {
      VAULT_HOST: {
        meaning: "Address to listen on.",
      },
      VAULT_PORT: {
        meaning: "Port to listen on (0-65535). The port is bound before anything else happens, so a taken port (`EADDRINUSE`) stops the start with exit 1 before any database, tenant or key is created; until the vault is ready it answers `503 not_ready`.",
      },
      VAULT_HTTP_REQUEST_TIMEOUT_SECONDS: {
        meaning: "Time a client has to send a whole request, headers and body (decimals allowed). A stalled request gets `408 request_timeout` and its socket is closed. Headers alone must arrive within 10 s (or this value, if lower). Applies to the judge service too.",
      },
      VAULT_HTTP_KEEP_ALIVE_TIMEOUT_SECONDS: {
        meaning: "An idle keep-alive connection is closed after this. Above the 60 s idle timeout of common load balancers, so the balancer closes first. Judge service too.",
      },
      VAULT_HTTP_MAX_CONNECTIONS: {
        meaning: "Open connections one process accepts; sockets above it are closed on accept. Half of the usual 1024 open-file limit, so a flood of sockets is refused before the process runs out of descriptors (`EMFILE`). Judge service too.",
      },
      VAULT_HTTP_SOCKET_IDLE_TIMEOUT_SECONDS: {
        meaning: "A socket that moves no bytes either way for this long is closed, also while an answer is being written: a client that sends requests and never reads the answers cannot hold a connection. Keep it above 60 s, the longest long poll (`?wait=`). Judge service too.",
      },
      VAULT_SHUTDOWN_GRACE_SECONDS: {
        meaning: "On SIGTERM or SIGINT, in-flight requests and work get this long to finish; then the process exits anyway. Exit codes: `0` clean, `1` close failed or the grace ran out, `130`/`143` (128 + signal) when a second SIGINT/SIGTERM arrives while closing, which stops it at once. Logging never holds the exit: log lines that stdout cannot take (a reader that stopped reading) wait in a buffer of at most 8 MiB, beyond which they are dropped and counted. Judge service too.",
      },
      VAULT_SIGNER_BACKEND: {
        meaning: "`local`: an Ed25519 key in the process (below), and a ledger key derived from it. `aws_kms`: both keys stay in AWS KMS (next rows).",
      },
      VAULT_KMS_KEY_ID: {
        meaning: "With `aws_kms`: the KMS key that signs tokens (key spec `ECC_NIST_EDWARDS25519`, usage `SIGN_VERIFY`). Published in JWKS under `VAULT_KEY_ID`. Signed with `ED25519_SHA_512` and `MessageType: RAW`, a pure RFC 8032 signature; every signature is verified against the published key before use.",
      },
      VAULT_LEDGER_KMS_KEY_ID: {
        meaning: "With `aws_kms`: a second KMS key, for ledger receipts and checkpoints (a key that never leaves KMS cannot have another derived from it). Must differ from `VAULT_KMS_KEY_ID`.",
      },
      VAULT_LEDGER_KEY_ID: {
        derivedDefault: "`<VAULT_KEY_ID>.ledger`",
        meaning: "With `aws_kms`: the ledger key's `kid` in JWKS.",
      },
      VAULT_KMS_MAX_IN_FLIGHT: {
        meaning: "KMS `Sign` calls in flight at once per process (1-10000); more wait in order.",
      },
      VAULT_KMS_TIMEOUT_MS: {
        meaning: "Time one signature may take, waiting for a slot included (10-60000). A KMS error, a timeout or a signature that does not verify never yields a local or missing signature: a clearance approval goes to review (`signer_unavailable`), and when even the ledger key cannot sign, `/request-clearance`, `/mint-token` and `/consume-token` answer `503 signer_unavailable` with nothing stored or burned. Start-up checks both keys (`GetPublicKey`) and exits 1 naming the variable and the endpoint. Rotation: a new `VAULT_KEY_ID` with a new KMS key; old public keys stay in JWKS, so tokens and receipts signed with them still verify.",
      },
      VAULT_PRIVATE_KEY_FILE: {
        meaning: "File with the Ed25519 private key: PEM (PKCS#8), or base64 of a PKCS#8 DER key, of a 32-byte seed, or of a 64-byte seed‖public key.",
      },
      VAULT_PRIVATE_KEY_BASE64: {
        meaning: "The same key given inline (any of the formats above). Set at most one of the two. With neither, the key is `<data dir>/keys/<VAULT_KEY_ID>.pem`, generated on first start.",
      },
      VAULT_KEY_ID: {
        meaning: "`kid` of the signing key (1-64 of `A-Z a-z 0-9 . _ : -`). Start-up fails if this kid is already published with a different key; a new key needs a new kid.",
      },
      VAULT_JWT_TTL: {
        meaning: "Token lifetime in seconds (1-86400).",
      },
      VAULT_JWT_ISSUER: {
        meaning: "`iss` of issued tokens, required at consume.",
      },
      VAULT_JWT_AUDIENCE: {
        meaning: "`aud` of issued tokens, required at consume.",
      },
      VAULT_PUBLIC_URL: {
        derivedDefault: "`http://<VAULT_HOST>:<VAULT_PORT>`",
        meaning: "Where people reach the vault: console links in notifications.",
      },
      VAULT_OUTBOX_MAX_ATTEMPTS: {
        meaning: "Delivery attempts before an outbox entry (webhook, Slack, email) is dead.",
      },
      VAULT_WEBHOOK_ALLOW_PRIVATE_TARGETS: {
        meaning: "Allow loopback and private webhook/Slack targets (development only).",
      },
      VAULT_REVIEW_SWEEP_INTERVAL_SECONDS: {
        meaning: "How often pending reviews are checked for expiry, reminders and escalation (decimals allowed).",
      },
      VAULT_CORS_ALLOWED_ORIGIN: {
        meaning: "When set, CORS is enabled for this origin (headers `Content-Type`, `X-Vault-API-Key`, `Idempotency-Key`; `Retry-After` exposed).",
      },
      DATABASE_URL: {
        meaning: "`postgres://` or `postgresql://`: a PostgreSQL server; the control database is the one named in the URL and is created if missing (through the `postgres` database), tenant databases are created on the same server, so the role needs `CREATEDB`. `memory://`: throwaway in-memory PGlite with a throwaway signing key. Any other value: a PGlite directory (a `pglite://` or `file://` prefix is removed). Unset: PGlite in `VAULT_DATA_DIR`.",
      },
      VAULT_DATA_DIR: {
        meaning: "Holds the generated signing key and, in embedded mode, the PGlite databases. When `DATABASE_URL` names a PGlite directory, that directory is used instead. Everything the vault creates there (and in a local anchor directory) is mode 0700 (directories) or 0600 (files), whatever the umask. A start refuses (exit 1, with the `chmod` to run) a data directory, or its `keys`, `control`, `tenants` or `anchors` subdirectory, that group or others can write, and likewise `VAULT_LEDGER_ANCHOR_DIR`.",
      },
      VAULT_CONTROL_PLANE_DB_MAX_OPEN_CONNS: {
        meaning: "PostgreSQL pool size for the control database, per process (1-1000). See the connection budget below.",
      },
      VAULT_TENANT_DB_MAX_OPEN_CONNS: {
        meaning: "PostgreSQL pool size for each tenant database, per process (1-1000). A busy pool queues statements rather than fail; a connection idle for 10 s is closed, so quiet tenants hold none.",
      },
      VAULT_CLEARANCE_ASYNC_WORKERS: {
        meaning: "Clearance jobs processed at once by the in-memory queue (1-1024).",
      },
      VAULT_CLEARANCE_ASYNC_QUEUE_SIZE: {
        meaning: "Nominal queue capacity; with the next variable it sets the admission limit.",
      },
      VAULT_CLEARANCE_QUEUE_HIGH_WATERMARK_PERCENT: {
        meaning: "Percentage of the queue size at which new requests get `429 queue_saturated` (1-100; queued path).",
      },
      VAULT_CLEARANCE_MODE: {
        meaning: "`auto`: decide in the request when the judge needs no network I/O (in process without `EVAL_MODEL`, or the stub); otherwise queue. `queued`: always go through the queue and workers.",
      },
      VAULT_CLEARANCE_SYNC_WAIT_MS: {
        meaning: "Queued path: how long a request waits for its decision before the answer is `202 processing` (0-60000).",
      },
      VAULT_CLEARANCE_SQS_QUEUE_URL: {
        meaning: "An SQS FIFO queue (name ending `.fifo`) shared by every vault replica, instead of the in-memory queue. Checked at start-up (reachable, FIFO; exit 1 naming the variable and the endpoint otherwise). The row is committed, leased to the queue, before the message `{v, tenant_id, request_id}` is sent (`MessageDeduplicationId` = request id); any replica that receives it claims the row, extends the message's visibility while the judge works, and deletes it only after the decision commits. A failed send is judged by the sending process instead. `VAULT_CLEARANCE_ASYNC_QUEUE_SIZE` then means the shared queue's capacity: new requests get `429 queue_saturated` once its approximate depth (visible plus in flight, read every second) passes the high watermark. `VAULT_CLEARANCE_ASYNC_WORKERS` is the messages each process works on at once.",
      },
      VAULT_CLEARANCE_SQS_FIFO_GROUP_SHARDS: {
        meaning: "`MessageGroupId` is `<tenant_id>.<shard>`, the shard fixed by the request id. FIFO hands out one message per group at a time, so this is the most requests of one tenant judged at once across all replicas (1-100000).",
      },
      VAULT_CLEARANCE_SQS_WAIT_TIME_SECONDS: {
        meaning: "Long-poll wait of `ReceiveMessage` (0-20).",
      },
      VAULT_CLEARANCE_SQS_VISIBILITY_TIMEOUT_SECONDS: {
        meaning: "Visibility of a received message, extended every third of it while its job runs (1-43200). A message whose receiver died comes back after it. Also how long a published request stays the queue's before a lease sweeper may take it over (a lost message).",
      },
      VAULT_CLEARANCE_SQS_MAX_RECEIVE_COUNT: {
        meaning: "Deliveries after which a message is poison: decided as review (`processing_failed`) without judging it again (1-1000). When the queue has a redrive policy, its `maxReceiveCount` applies instead, and the last delivery before the DLQ is the poison one.",
      },
      VAULT_CLEARANCE_LEASE_SECONDS: {
        meaning: "Queued path: lease on an unfinished request (decimals allowed, up to 3600). A live process renews its leases every third of it; when a process dies, any other takes its requests over after at most this long (see Request lifecycle).",
      },
      VAULT_DECISION_BATCH_MAX: {
        meaning: "Group commit: concurrent decisions, token burns and review changes of one tenant share one transaction, flushed at this many (1 to 1000; 1 gives every decision its own commit). Nothing is answered before its batch commits, and a decision the database refuses fails alone (see docs/architecture.md).",
      },
      VAULT_DECISION_BATCH_WAIT_MS: {
        meaning: "Group commit: the longest a decision waits for others to share its commit (0 to 1000).",
      },
      VAULT_MINT_MAX_AGE_SECONDS: {
        meaning: "How old a policy-decided approval may be and still be re-issued by `/mint-token`.",
      },
      VAULT_JUDGE_TIMEOUT_MS: {
        meaning: "Time one evaluation may take, in process or remote (10-600000); after it the request goes to review (`judge_timeout`). Also bounds each call to a remote judge's `/embed`.",
      },
      VAULT_JUDGE_URL: {
        meaning: "Base URL (`http` or `https`) of a `countersign judge` service. Unset: the judge runs in the vault.",
      },
      VAULT_JUDGE_API_KEY: {
        meaning: "The judge service's `JUDGE_API_KEY`. Required when `VAULT_JUDGE_URL` is set.",
      },
      VAULT_JUDGE_MAX_RESPONSE_BYTES: {
        meaning: "Largest answer accepted from `VAULT_JUDGE_URL` (1024 to 268435456), counted as it streams; larger goes to review (`judge_unavailable`). Policy text is embedded through the judge 8 texts per call so that even 4096-dimension vectors fit the default.",
      },
      VAULT_ALLOW_STUB_JUDGE: {
        meaning: "`true`: development stub that sends every request to review (`stub_judge`). Refused together with `VAULT_JUDGE_URL`.",
      },
      VAULT_RATE_LIMIT_RPS: {
        meaning: "Requests per second per API key; `0` disables rate limiting.",
      },
      VAULT_RATE_LIMIT_BURST: {
        meaning: "Requests a key may make at once before the rate applies.",
      },
      VAULT_RATE_LIMIT_TTL_SECONDS: {
        meaning: "Idle per-key buckets are forgotten after this.",
      },
      VAULT_MAX_BODY_BYTES: {
        meaning: "Largest accepted request body (1024 to 67108864); larger is `413`.",
      },
      VAULT_MAX_ARGS_NODES: {
        meaning: "Most JSON values (objects, arrays and scalars, counted together) in a clearance request's `tool_args` plus `context` (16-1000000); more is `413 args_too_large`. Far above any SDK tool call; bounds the cost of handing the input to a condition worker.",
      },
      VAULT_MAX_ARRAY_LENGTH: {
        meaning: "Longest array anywhere in `tool_args` or `context` (1-1000000); longer is `413 args_too_large`. The 45,000-address list that once held a condition busy for 1.3 s is refused.",
      },
      VAULT_CEL_TIMEOUT_MS: {
        meaning: "Time budget of one request's policy conditions (1-60000), counted from when a worker starts them; over it the worker is terminated and the request goes to review (`condition_timeout`).",
      },
      VAULT_CEL_WORKERS: {
        meaning: "Worker threads that evaluate conditions at once (1-64), per vault or judge process, plus one warm spare thread. Two, so one slow condition does not stall everyone else's; not one per CPU, because a worker held by a costly condition takes a whole core for its budget and the event loop needs one too.",
      },
      VAULT_API_KEY_CACHE_TTL_MS: {
        meaning: "How long a process caches a resolved API key; a revocation made by another process (the CLI) takes effect within this time. `0` disables the cache.",
      },
      VAULT_POLICY_CACHE_TTL_MS: {
        meaning: "How long compiled policies and review settings are cached per tenant; other processes (including a judge service) see a change within this time.",
      },
      VAULT_BOOTSTRAP_API_KEY: {
        meaning: "On a start with no tenant, tenant `default` is created with this admin key. Without it an embedded vault generates a key and prints it; a PostgreSQL-backed vault creates nothing (use the CLI). The tenant and its key are committed in one transaction, so a start killed midway never leaves a tenant without a key; a start that finds tenant `default` with no active admin key (from an older version) prints the `countersign keys create --tenant ID --scope admin` command to run.",
      },
      VAULT_PRINT_BOOTSTRAP_KEY: {
        meaning: "Print the generated bootstrap key on stdout (`true/1/yes`, `false/0/no`). With `false` it is never shown; create another admin key with the CLI.",
      },
      LOG_FORMAT: {
        meaning: "`json` (one object per line) or `text`.",
      },
      LOG_LEVEL: {
        meaning: "`fatal`, `error`, `warn`, `info`, `debug`, `trace` or `silent`.",
      },
      NODE_ENV: {
        meaning: "`production`: settings that development may leave to defaults are required (today `VAULT_LEDGER_ORIGIN`). Any other value changes nothing.",
      },
    },
  },
  {
    title: "Email notifications",
    intro: "Review notifications by email go over SMTP (nodemailer); see [Review and notifications](review.md).",
    variables: {
      SMTP_HOST: { meaning: "SMTP server for email notifications; email is off while it is unset. `SMTP_FROM` is required with it." },
      SMTP_PORT: { meaning: "SMTP port (1-65535)." },
      SMTP_USER: { meaning: "SMTP user name, if the server wants one." },
      SMTP_PASSWORD: { meaning: "SMTP password; read only when `SMTP_HOST` is set, never logged." },
      SMTP_FROM: { meaning: "Sender address of notification emails. Required when `SMTP_HOST` is set." },
      SMTP_SECURE: { meaning: "`true`: TLS from the first byte (usually port 465); `false`: STARTTLS when the server offers it." },
    },
  },
  {
    title: "AWS services",
    intro: `Every AWS client (SQS, KMS, Secrets Manager, S3) takes the standard AWS SDK settings. They are read
from the environment the process started with (after the \`AWS_SECRET_NAME\` bundle is merged over it).`,
    fields: {
      title: "Tenant secret bundles",
      intro: "A tenant's bundle (`TENANT_SECRET_PREFIX` above) is a JSON object with these fields; any other field is refused:",
      fields: tenantBundleFieldDocs,
      outro: "A rotated bundle is picked up within `VAULT_TENANT_SECRET_CACHE_TTL_SECONDS`. Keys are never logged.",
    },
    variables: {
      AWS_REGION: {
        derivedDefault: "`us-east-1`",
        meaning: "Region of every client (`AWS_DEFAULT_REGION` is read too).",
      },
      AWS_ENDPOINT_URL: {
        meaning: "Endpoint for every service: an emulator, a stand-in or a VPC endpoint.",
      },
      AWS_ENDPOINT_URL_SQS: { derivedDefault: "`AWS_ENDPOINT_URL`", meaning: "Endpoint of SQS (the clearance queue) alone." },
      AWS_ENDPOINT_URL_KMS: { derivedDefault: "`AWS_ENDPOINT_URL`", meaning: "Endpoint of KMS (signing keys) alone." },
      AWS_ENDPOINT_URL_SECRETS_MANAGER: { derivedDefault: "`AWS_ENDPOINT_URL`", meaning: "Endpoint of Secrets Manager (secret bundles) alone." },
      AWS_ENDPOINT_URL_S3: { derivedDefault: "`AWS_ENDPOINT_URL`", meaning: "Endpoint of S3 (ledger anchors) alone. `VAULT_LEDGER_ANCHOR_ENDPOINT`, the older name, wins when set." },
      AWS_SECRET_NAME: {
        meaning: "A Secrets Manager secret whose `SecretString` is a JSON object of variables, fetched at start-up by `serve`, `judge` and every CLI command and merged over the environment (the bundle wins). Numbers and booleans are taken as text; any other value, bad JSON, a missing secret or an unreachable service stops the process (exit 1) naming `AWS_SECRET_NAME` and the endpoint, never a value. Compose passes `VAULT_AWS_SECRET_NAME` to the vault and `JUDGE_AWS_SECRET_NAME` to the judge as this variable.",
      },
      TENANT_SECRET_PREFIX: {
        meaning: "Where tenants' bundles live: `<prefix>/<tenant_id>`. `countersign tenants create NAME --secret-ref` registers a tenant whose database is described by its bundle (`--secret-ref NAME` names another secret). The control database stores only the secret's name (`tenant_secret_ref`).",
      },
      VAULT_TENANT_SECRET_CACHE_TTL_SECONDS: {
        meaning: "A tenant's bundle is read when first needed and kept this long (1-86400), then read again: a rotated password is used within it, and the old pool is closed. A bundle that cannot be read makes that tenant's requests answer `503 tenant_secrets_unavailable` (with `Retry-After`), never a stale bundle past its TTL; other tenants carry on.",
      },
    },
    sdkVariables: {
        AWS_DEFAULT_REGION: { meaning: "Read when `AWS_REGION` is unset." },
        AWS_ACCESS_KEY_ID: { meaning: "Static credentials, with `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`). Unset: the SDK's default chain (`AWS_PROFILE`, web identity, container or instance role)." },
        AWS_SECRET_ACCESS_KEY: { meaning: "See `AWS_ACCESS_KEY_ID`." },
        AWS_SESSION_TOKEN: { meaning: "See `AWS_ACCESS_KEY_ID`." },
        AWS_PROFILE: { meaning: "A named profile of the shared AWS configuration files." },
    },
  },
  {
    title: "Ledger and anchoring",
    intro: "Sequencing and checkpoint cadence, where checkpoints are anchored, and the sealing of entry bodies at rest. See [The ledger and verification](ledger.md).",
    outro: `S3 credentials come from the standard AWS chain (\`AWS_ACCESS_KEY_ID\`/\`AWS_SECRET_ACCESS_KEY\`,
\`AWS_PROFILE\`, web identity, instance role) and need \`s3:ListBucket\`, \`s3:GetObject\`,
\`s3:PutObject\`, plus \`s3:GetBucketVersioning\` and \`s3:GetBucketObjectLockConfiguration\` when the
checks are on. Local S3 emulators (s3rver, fauxqs) support neither versioning nor object lock:
set both checks to \`false\` with them.`,
    variables: {
      VAULT_LEDGER_ANCHOR_BACKFILL_INTERVAL_SECONDS: {
        meaning: "How often each vault process sequences new events, signs a checkpoint and exports it (0.01-86400; decimals allowed, e.g. `0.25`). Also the checkpoints' `mmd_seconds` (rounded up).",
      },
      VAULT_LEDGER_ANCHOR_BACKFILL_BATCH_SIZE: {
        meaning: "Events per sequencing transaction (1-100000). A backlog is drained in batches, with a checkpoint at least every second.",
      },
      VAULT_LEDGER_ORIGIN: {
        derivedDefault: "host name",
        meaning: "Required when `NODE_ENV=production` (the start-up stops without it: a log's name must not follow a container's host name). Prefix of each tenant's log origin, `<origin>/ledger/<tenant_id>` (no spaces or `+`). Fixed per tenant at its first checkpoint; changing it later does not rename an existing log.",
      },
      VAULT_TRANSPORT_KEY_BASE64: {
        meaning: "Base64 of 32 bytes: the sealing key. Ledger entry bodies, webhook signing secrets, Slack URLs and tenant DSNs are stored AES-256-GCM sealed under it. Hashes commit to the plaintext, so proofs verify either way; reading the ledger needs the key (`503 ledger_key_unavailable` without it).",
      },
      VAULT_LEDGER_ANCHOR_DIR: {
        derivedDefault: "`<data dir>/anchors`",
        meaning: "Local anchor directory (the default store).",
      },
      VAULT_LEDGER_ANCHOR_BUCKET: {
        meaning: "One S3 bucket for every tenant; keys `<prefix>/<tenant_id>/…`.",
      },
      VAULT_LEDGER_ANCHOR_BUCKET_TEMPLATE: {
        meaning: "Per-tenant buckets, e.g. `ledgix-anchor-{client_id}` (`{tenant_id}` works too; the id is lower-cased and `_` becomes `-`). Excludes `VAULT_LEDGER_ANCHOR_BUCKET`.",
      },
      VAULT_LEDGER_ANCHOR_PREFIX: {
        meaning: "Key prefix inside the bucket.",
      },
      VAULT_LEDGER_ANCHOR_REGION: {
        derivedDefault: "`AWS_REGION`",
        meaning: "Bucket region.",
      },
      VAULT_LEDGER_ANCHOR_ENDPOINT: { meaning: "Endpoint of an S3-compatible server (MinIO and the like); AWS itself needs none. Wins over `AWS_ENDPOINT_URL_S3`." },
      VAULT_LEDGER_ANCHOR_FORCE_PATH_STYLE: { meaning: "Path-style bucket addressing, which most S3-compatible servers need." },
      VAULT_LEDGER_REQUIRE_BUCKET_VERSIONING: {
        meaning: "Start-up fails unless `GetBucketVersioning` says `Enabled` (a missing status counts as not enabled). Per-tenant buckets are checked at start-up for existing tenants and before the first export of a new one.",
      },
      VAULT_LEDGER_REQUIRE_OBJECT_LOCK: {
        meaning: "Also require S3 Object Lock, checked the same way.",
      },
    },
  },
  {
    title: "Judge, retrieval and LLM",
    intro: `"Judge" below means the process that runs the evaluation: the vault when \`VAULT_JUDGE_URL\` is
unset, else \`countersign judge\`. \`policies reembed\` reads the embedding variables too. See
[Policies and the judge](policies.md).`,
    withReadBy: true,
    variables: {
      JUDGE_API_KEY: {
        readBy: "`judge` service",
        meaning: "Key callers must send in `X-API-Key`. Required: the service does not start without it.",
      },
      JUDGE_HOST: {
        readBy: "`judge` service",
        meaning: "Address to listen on.",
      },
      JUDGE_PORT: {
        readBy: "`judge` service",
        meaning: "Port to listen on (0-65535).",
      },
      JUDGE_WORKERS: {
        readBy: "`judge` service",
        meaning: "Worker processes sharing the port (1-64).",
      },
      JUDGE_ENDPOINT_RATE_LIMIT: {
        readBy: "`judge` service",
        meaning: "`N/second`, `N/minute`, `N/hour` or `N/day` for `/evaluate` and `/embed` together, split evenly across workers; up to N at once. Over it: `429`, which the vault treats as `judge_unavailable`.",
      },
      EMBEDDING_MODEL: {
        readBy: "vault, judge, `policies reembed`",
        meaning: "The offline model, or `<provider>/<model>` on an OpenAI-compatible endpoint (`openai/` is removed before sending). Recorded with every chunk; give the vault and the judge service the same value.",
      },
      EMBEDDING_BASE_URL: {
        derivedDefault: "`LLM_BASE_URL`, else `https://api.openai.com/v1`",
        readBy: "judge, `policies reembed`",
        meaning: "Endpoint for a non-offline embedding model; requests time out after `EVAL_TIMEOUT_MS` when `EVAL_MODEL` is set, else 30 s.",
      },
      EMBEDDING_API_KEY: {
        derivedDefault: "`LLM_API_KEY` when `EMBEDDING_BASE_URL` is unset or equals `LLM_BASE_URL`; else none",
        readBy: "as above",
        meaning: "Bearer key for that endpoint. The LLM's key is never sent to another host.",
      },
      EMBEDDING_MAX_RESPONSE_BYTES: {
        readBy: "as above",
        meaning: "Largest answer accepted from the embedding endpoint (1024 to 1073741824; one call embeds up to 128 texts, about 12 MB of JSON at 4096 dimensions). Larger, or a redirect, is `503 embedding_unavailable` at registration and `retrieval_unavailable` (review) when judging.",
      },
      RETRIEVAL_TOP_K: {
        readBy: "judge",
        meaning: "Chunks retrieved per request (1-50).",
      },
      EVAL_MODEL: {
        readBy: "judge",
        meaning: "Chat model for the LLM step, e.g. `openai/gpt-4o-mini`. Unset: no LLM.",
      },
      LLM_BASE_URL: {
        derivedDefault: "`https://api.openai.com/v1`",
        readBy: "judge",
        meaning: "OpenAI-compatible base URL (for example a LiteLLM proxy, vLLM or Ollama's `/v1`).",
      },
      LLM_API_KEY: {
        readBy: "judge",
        meaning: "Bearer key for it; unset sends a placeholder, for local servers that need none.",
      },
      EVAL_TIMEOUT_MS: {
        readBy: "judge",
        meaning: "Time the LLM step may take, retry included (10-600000); after it, `llm_timeout`. In-process it must be below `VAULT_JUDGE_TIMEOUT_MS`.",
      },
      LLM_MAX_RESPONSE_BYTES: {
        readBy: "judge",
        meaning: "Largest answer accepted from the LLM endpoint (1024 to 268435456), counted as it streams; larger, or a redirect, is `llm_unavailable` (review).",
      },
    },
  },
];
