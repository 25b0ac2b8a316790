import { z } from "zod";
import { parseSecretObject, SecretReadError } from "../config/secret-bundle.js";
import { secretsManagerReference, type SecretsManagerProvider } from "../config/secrets-manager-provider.js";
import { SecretUnresolvedError } from "../config/secrets-provider.js";
import { AppError } from "../errors.js";

/** How long a client is told to wait before asking again when a tenant's bundle cannot be read. */
export const TENANT_SECRETS_RETRY_AFTER_SECONDS = 5;

const key32 = z
  .string()
  .refine((v) => /^[A-Za-z0-9+/]+={0,2}$/.test(v.trim()) && Buffer.from(v.trim(), "base64").length === 32, "must be base64 of exactly 32 bytes");
const text = z.string().min(1, "must not be empty");
/** Keys a rotation retired: still tried when opening what they sealed, never used to seal. */
const previousKeys = z.array(key32).max(16, "at most 16 previous keys");

/**
 * The fields of a tenant's bundle (a JSON object in the SecretString of `<TENANT_SECRET_PREFIX>/<tenant_id>`,
 * or of the name the tenant was created with). Every field is optional here; a tenant created with
 * `--secret-ref` needs one of the database ones (checked where the database is opened). Unknown
 * fields are refused, so a misspelt field is an error and not a setting silently ignored.
 * - `database_url`: the tenant database's full DSN (postgres://user:password@host/db).
 * - `database_password` (and optionally `database_user`): put into the vault's own DSN for that tenant
 *   (its server, the tenant's database name), for a database the vault provisions itself.
 * - `ledger_transport_key_base64`: AES-256 key (base64 of 32 bytes) that seals this tenant's ledger
 *   entry bodies instead of VAULT_TRANSPORT_KEY_BASE64; `previous_ledger_transport_keys_base64`: the
 *   keys it replaced, tried after it (and the vault's own key last) when a body is opened.
 * - `webhook_sealing_key_base64`, `previous_webhook_sealing_keys_base64`: the same for the tenant's
 *   webhook signing secrets and Slack URLs (outbox).
 * - `llm_api_key`, `embedding_api_key`: the tenant's own model credentials, sent by the judge on this
 *   tenant's LLM and embedding calls instead of LLM_API_KEY / EMBEDDING_API_KEY.
 * Where each is used: tenant-keys.ts.
 */
export const tenantBundleSchema = z
  .strictObject({
    database_url: z.string().regex(/^postgres(ql)?:\/\/\S+$/, "must be a postgres:// or postgresql:// URL").optional(),
    database_user: text.optional(),
    database_password: text.optional(),
    ledger_transport_key_base64: key32.optional(),
    previous_ledger_transport_keys_base64: previousKeys.optional(),
    webhook_sealing_key_base64: key32.optional(),
    previous_webhook_sealing_keys_base64: previousKeys.optional(),
    llm_api_key: text.optional(),
    embedding_api_key: text.optional(),
  })
  .refine((b) => !(b.database_url && (b.database_password || b.database_user)), "database_url excludes database_password and database_user")
  .refine((b) => !b.database_user || b.database_password, "database_user needs database_password");

/** A tenant's bundle, parsed. Held in memory only; never logged, never written anywhere. */
export interface TenantBundle {
  secretName: string;
  database?: { url: string } | { user?: string; password: string };
  ledgerTransportKey?: Buffer;
  /** Retired ledger keys, newest first: they open old bodies, never seal new ones. */
  previousLedgerTransportKeys: Buffer[];
  webhookSealingKey?: Buffer;
  /** Retired webhook sealing keys, newest first. */
  previousWebhookSealingKeys: Buffer[];
  llmApiKey?: string;
  embeddingApiKey?: string;
}

/** 503 tenant_secrets_unavailable for one tenant; names the tenant and the secret, never a value. */
export class TenantSecretsUnavailableError extends AppError {
  constructor(tenantId: string, secretName: string, reason: string) {
    super("tenant_secrets_unavailable", `The secrets of tenant ${tenantId} (secret "${secretName}") cannot be read: ${reason}`, {
      retryAfterSeconds: TENANT_SECRETS_RETRY_AFTER_SECONDS,
    });
  }
}

interface CacheEntry {
  secretName: string;
  expiresAt: number;
  bundle?: TenantBundle;
  pending?: Promise<TenantBundle>;
}

/**
 * Tenants' bundles from AWS Secrets Manager, read when first needed and cached per tenant for
 * `cacheTtlMs` (VAULT_TENANT_SECRET_CACHE_TTL_SECONDS), then read again, so a rotated password is
 * picked up within the TTL. Concurrent callers share one read in flight.
 *
 * No stale grace: a bundle past its TTL is never served, even when the read that should refresh it
 * fails. A rotation is often done because a credential leaked, and the TTL is the promise of how long
 * an old one keeps working here; an outage of Secrets Manager therefore makes the tenants whose bundle
 * expired answer 503 until it is back (the failure is not cached: the next request reads again).
 */
export class TenantSecrets {
  private readonly cache = new Map<string, CacheEntry>();
  /** The last bundle read per tenant, for latest(). */
  private readonly lastRead = new Map<string, TenantBundle>();

  constructor(
    /** Where bundles are read: AWS Secrets Manager behind the SecretsProvider port. */
    private readonly provider: SecretsManagerProvider,
    private readonly opts: { prefix: string; cacheTtlMs: number; now?: () => number },
  ) {}

  /**
   * True for a secret name under TENANT_SECRET_PREFIX: the only bundles a tenant may be given, so the
   * vault's IAM grant can stop at the prefix and no tenant can be pointed at another deployment's secrets.
   */
  isUnderPrefix(name: string): boolean {
    return name.startsWith(`${this.opts.prefix}/`) && name.length > this.opts.prefix.length + 1;
  }

  /** The bundle a tenant created with a bare `--secret-ref` uses: `<prefix>/<tenant_id>`. */
  defaultSecretName(tenantId: string): string {
    return `${this.opts.prefix}/${tenantId}`;
  }

  /** The tenant's bundle: cached while fresh, else read again. Throws TenantSecretsUnavailableError. */
  bundle(tenantId: string, secretName: string): Promise<TenantBundle> {
    const entry = this.cache.get(tenantId);
    if (entry && entry.secretName === secretName) {
      if (entry.bundle && this.now() < entry.expiresAt) return Promise.resolve(entry.bundle);
      if (entry.pending) return entry.pending;
    }
    const pending = this.read(tenantId, secretName);
    const next: CacheEntry = { secretName, expiresAt: 0, pending };
    this.cache.set(tenantId, next);
    pending.then(
      (bundle) => {
        if (this.cache.get(tenantId) === next) {
          this.cache.set(tenantId, { secretName, bundle, expiresAt: this.now() + this.opts.cacheTtlMs });
          this.lastRead.set(tenantId, bundle);
        }
      },
      () => {
        // Fail closed: the expired bundle went with the entry, and the next caller reads again.
        if (this.cache.get(tenantId) === next) this.cache.delete(tenantId);
      },
    );
    return pending;
  }

  /**
   * The last bundle read for the tenant, without reading (synchronous, for the hot paths that seal
   * and open: tenant-keys.ts). Every such path first opens the tenant database, and
   * TenantDatabases.get() awaits bundle() for a tenant with a bundle, so the bundle read then (fresh
   * within the TTL, or refreshed by that very call) is the one returned here. Undefined for a tenant
   * whose bundle was never read in this process: a tenant without one.
   */
  latest(tenantId: string): TenantBundle | undefined {
    return this.lastRead.get(tenantId);
  }

  /**
   * The tenant database's DSN from its bundle: `database_url`, or `database_password` (and
   * `database_user`) put into `ownDsn`, the vault's own DSN for the tenant (`own: true`).
   */
  async databaseDsn(tenantId: string, secretName: string, ownDsn: string | undefined): Promise<{ dsn: string; own: boolean }> {
    const database = (await this.bundle(tenantId, secretName)).database;
    const refuse = (why: string) => new TenantSecretsUnavailableError(tenantId, secretName, why);
    if (!database) throw refuse("the bundle holds neither database_url nor database_password");
    if ("url" in database) return { dsn: database.url, own: false };
    if (!ownDsn) throw refuse("database_password needs the vault on PostgreSQL (DATABASE_URL); give database_url instead");
    const url = new URL(ownDsn);
    if (database.user) url.username = encodeURIComponent(database.user);
    url.password = encodeURIComponent(database.password);
    return { dsn: url.toString(), own: true };
  }

  close(): void {
    this.cache.clear();
    this.lastRead.clear();
    this.provider.close();
  }

  private async read(tenantId: string, secretName: string): Promise<TenantBundle> {
    try {
      const text = await this.provider.resolve(secretsManagerReference(secretName));
      return toBundle(secretName, parseSecretObject(text));
    } catch (err) {
      if (err instanceof SecretReadError || err instanceof SecretUnresolvedError) throw new TenantSecretsUnavailableError(tenantId, secretName, err instanceof SecretReadError ? err.reason : err.message);
      throw err;
    }
  }

  private now(): number {
    return (this.opts.now ?? Date.now)();
  }
}

function toBundle(secretName: string, object: Record<string, unknown>): TenantBundle {
  const parsed = tenantBundleSchema.safeParse(object);
  if (!parsed.success) {
    // zod's messages and paths name fields and expectations, never the input's values.
    const problems = parsed.error.issues.map((i) =>
      i.code === "unrecognized_keys" ? `unknown field(s) ${i.keys.join(", ")}` : `${i.path.join(".") || "bundle"}: ${i.message}`,
    );
    throw new SecretReadError(`the bundle is not valid (${problems.join("; ")})`);
  }
  const b = parsed.data;
  const key = (v: string | undefined) => (v === undefined ? undefined : Buffer.from(v.trim(), "base64"));
  return {
    secretName,
    database: b.database_url ? { url: b.database_url } : b.database_password ? { user: b.database_user, password: b.database_password } : undefined,
    ledgerTransportKey: key(b.ledger_transport_key_base64),
    previousLedgerTransportKeys: (b.previous_ledger_transport_keys_base64 ?? []).map((v) => key(v)!),
    webhookSealingKey: key(b.webhook_sealing_key_base64),
    previousWebhookSealingKeys: (b.previous_webhook_sealing_keys_base64 ?? []).map((v) => key(v)!),
    llmApiKey: b.llm_api_key,
    embeddingApiKey: b.embedding_api_key,
  };
}
