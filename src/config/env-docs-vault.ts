import type { EnvDocSection } from "./env-doc-types.js";

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

/** The vault's own settings: listener, tokens, database, queue, review and logging. */
export const vaultSection: EnvDocSection = {
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
      meaning: "Time one signature may take, waiting for a slot included (10-60000). A KMS error, a timeout or a signature that does not verify never yields a local or missing signature: a clearance approval goes to review (`signer_unavailable`), and when even the ledger key cannot sign, `/request-clearance`, `/mint-token` and `/consume-token` answer `503 signer_unavailable` with nothing stored or burned. Start-up checks both keys (`GetPublicKey`) and exits 1 naming the variable and the endpoint. Rotation: a new `VAULT_KEY_ID` with a new KMS key; the old token key stays in JWKS for the token lifetime + 60 s, and ledger keys stay for good, so receipts signed with them still verify. With KMS every tenant signs with this one key (per-tenant keys need the local key).",
    },
    VAULT_PRIVATE_KEY_FILE: {
      meaning: "File with the Ed25519 private key: PEM (PKCS#8), or base64 of a PKCS#8 DER key, of a 32-byte seed, or of a 64-byte seed‖public key.",
    },
    VAULT_PRIVATE_KEY_BASE64: {
      meaning: "The same key given inline (any of the formats above). Set at most one of the two. With neither, the key is `<data dir>/keys/<VAULT_KEY_ID>.pem`, generated on first start.",
    },
    VAULT_KEY_ID: {
      meaning: "`kid` of the signing key (1-64 of `A-Z a-z 0-9 . _ : -`). Start-up fails if this kid is already published with a different key; a new key needs a new kid. With the local key, each tenant signs with its own key derived from this one, kid `<VAULT_KEY_ID>.<tenant_id>` (then `.2`, `.3` after `countersign keys rotate --tenant`). A new `VAULT_KEY_ID` retires the old one and the tenant keys derived from it: they stay published for the token lifetime + 60 s, then tokens signed with them no longer verify.",
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
      derivedDefault: "`http://<VAULT_HOST>:<port>`: the port the vault listens on (the one it was given for `VAULT_PORT=0`), `localhost` for a wildcard `VAULT_HOST` (`0.0.0.0`, `::`)",
      meaning: "Where people, agents and StepAuth SPs reach the vault: console links in notifications, the origin signed agent requests (Sigilum profile) are verified against, plus the request's raw path, and each tenant's StepAuth hub `host` and default entity (docs/stepauth.md). The Host header is never used, so set this to the URL agents call (behind a proxy: the public one).",
    },
    VAULT_WEBAUTHN_RP_ID: {
      derivedDefault: "the host name of `VAULT_PUBLIC_URL` (or of the derived public URL)",
      meaning: "The WebAuthn relying party ID of passkey-signed approvals (docs/passkeys.md): a domain name, which every origin in `VAULT_WEBAUTHN_ORIGINS` must be on or under. Passkeys are bound to it: changing it makes every enrolled passkey unusable (enrol again). Browsers refuse an IP address as RP ID, so a vault reached at `http://127.0.0.1:…` needs `localhost` here (and `http://localhost:PORT` as origin).",
    },
    VAULT_WEBAUTHN_ORIGINS: {
      derivedDefault: "the origin of `VAULT_PUBLIC_URL` (scheme, host and port)",
      meaning: "Comma-separated origins (`https://vault.example.com`) the console is served from: an assertion whose clientDataJSON names another origin is refused (`passkey_invalid`).",
    },
    VAULT_WEBAUTHN_RP_NAME: {
      meaning: "The relying party name authenticators show when a passkey is enrolled.",
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
    VAULT_EXECUTION_REPORT_TIMEOUT_SECONDS: {
      meaning: "Lost-consume recovery (0 to 2592000): a token burned this long ago with no execution report (`POST /tokens/{jti}/execution`) is listed by `GET /tokens/unreported` and in the console's \"Burned, never reported\" list.",
    },
    VAULT_GRANT_MAX_SESSION_HOURS: {
      meaning: "How long a session grant lasts (1 to 720 hours): it approves the agent's matching requests in that session until then, unless revoked sooner (see docs/grants.md). Window grants last the minutes the reviewer chose.",
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
      meaning: "How long compiled policies, their modes (shadow mode) and review settings are cached per tenant; other processes (including a judge service) see a change within this time.",
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
};
