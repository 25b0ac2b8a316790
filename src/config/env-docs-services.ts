import type { EnvDocSection } from "./env-doc-types.js";

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

/** Email notifications over SMTP. */
export const emailSection: EnvDocSection = {
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
};

/** The AWS clients, and the tenant secret bundles they read. */
export const awsSection: EnvDocSection = {
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
};
