import type { EnvDocSection } from "./env-doc-types.js";

/** Sequencing, checkpoints, anchoring and sealing. */
export const ledgerSection: EnvDocSection = {
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
    VAULT_LEDGER_WITNESSES: {
      meaning: 'C2SP tlog-witnesses that cosign every checkpoint, as JSON: `[{"url": "https://witness.example/w1", "key": "<name>+<key id>+<base64 key>"}]` (at most 32). `url` is the witness\'s submission prefix (the vault POSTs to `<url>/add-checkpoint`), `key` its cosignature verifier key (type `0x04`, as `countersign witness keygen` prints it). A malformed list, a key whose ID does not match, or a duplicate stops the start-up. Unset: checkpoints are signed by the vault alone. See [Witnesses](witness.md#cosigning-a-vaults-checkpoints).',
    },
    VAULT_LEDGER_WITNESS_QUORUM: {
      derivedDefault: "1 when witnesses are listed",
      meaning: "Cosignatures a checkpoint needs to be marked witnessed (1-32, at most the number of witnesses, else the start-up stops). Below it the checkpoint is still published, marked `unwitnessed`, and submitted again with backoff.",
    },
    VAULT_LEDGER_WITNESS_TIMEOUT_MS: {
      meaning: "Deadline of one `add-checkpoint` exchange with one witness (100-120000), body included. Witnesses are asked concurrently; a slow one never delays sequencing or anchoring.",
    },
  },
};

/** Where and how requests are judged: conditions, retrieval, the LLM. */
export const judgeSection: EnvDocSection = {
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
};
