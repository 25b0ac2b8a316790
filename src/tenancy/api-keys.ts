import { createHash, randomBytes } from "node:crypto";
import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import type { AgentIdentity } from "./agent-identity.js";
import { newApiKeyId } from "./ids.js";

/** The scopes POST /keys creates. */
export const scopes = ["agent", "reviewer", "admin"] as const;
/**
 * `service`: a protected service's key (agent identity, src/agents/): it submits agent claims and
 * lists approved ones for its one service (`service_slug`), and is refused everywhere else. Made with
 * POST /protected-services/{slug}/keys, never with POST /keys, because it must name a service.
 */
export const allScopes = [...scopes, "service"] as const;
export type Scope = (typeof allScopes)[number];

/** The person behind a reviewer key (or console session). */
export interface ReviewerIdentity {
  id: string;
  name: string;
  email: string;
  groups: string[];
}

export interface Principal {
  tenantId: string;
  keyId: string;
  scope: Scope;
  /** Set when the key belongs to a reviewer identity. */
  reviewer?: ReviewerIdentity;
  /** A `service` key's protected service (its slug in the tenant's protected_services). */
  serviceSlug?: string;
  /**
   * The signer of this request when it carried a Sigilum signature (src/agents/): set per request on a
   * copy of the principal, never on a cached one.
   */
  agent?: AgentIdentity;
}

export interface CreatedKey {
  id: string;
  tenantId: string;
  scope: Scope;
  /** The raw key: returned once, never stored. */
  apiKey: string;
  label: string;
  keyPrefix: string;
  createdAt: Date;
}

export function hashApiKey(raw: string): string {
  return createHash("sha256").update(raw, "utf8").digest("hex");
}

export function generateRawKey(): string {
  return `csk_${randomBytes(32).toString("base64url")}`;
}

export async function createApiKey(
  sql: Sql,
  args: { tenantId: string; scope: Scope; label?: string; rawKey?: string; reviewerId?: string; serviceSlug?: string },
): Promise<CreatedKey> {
  const apiKey = args.rawKey ?? generateRawKey();
  const id = newApiKeyId();
  const label = args.label ?? "";
  const keyPrefix = apiKey.slice(0, 8);
  const rows = await sql.query<{ created_at: Date }>(
    "INSERT INTO api_keys (id, tenant_id, scope, label, key_prefix, key_hash, reviewer_id, service_slug) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING created_at",
    [id, args.tenantId, args.scope, label, keyPrefix, hashApiKey(apiKey), args.reviewerId ?? null, args.serviceSlug ?? null],
  );
  return { id, tenantId: args.tenantId, scope: args.scope, apiKey, label, keyPrefix, createdAt: rows[0]!.created_at };
}

export async function revokeApiKey(sql: Sql, keyId: string): Promise<boolean> {
  const rows = await sql.query("UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND revoked_at IS NULL RETURNING id", [keyId]);
  return rows.length === 1;
}

export type TenantRevokeResult = "revoked" | "not_found" | "last_admin";

/**
 * The label of the admin key the CLI makes for itself when no vault runs (src/main/cli/vault-session.ts).
 * Such a key dies with the command, so it never counts as the tenant's remaining admin key; POST /keys
 * refuses the label, so a real key cannot be mistaken for one.
 */
export const CLI_SESSION_KEY_LABEL = "countersign CLI session (temporary)";

/**
 * Revokes one of a tenant's active keys, refusing to revoke its last active admin key: nobody could
 * then manage the tenant over HTTP. The tenant's row is locked, so two concurrent revocations of its
 * last two admin keys cannot both pass the count.
 */
export async function revokeTenantApiKey(control: Sql, tenantId: string, keyId: string): Promise<TenantRevokeResult> {
  return control.transaction(async (tx) => {
    await tx.query("SELECT id FROM tenants WHERE id = $1 FOR UPDATE", [tenantId]);
    const key = (await tx.query<{ scope: Scope }>("SELECT scope FROM api_keys WHERE id = $1 AND tenant_id = $2 AND revoked_at IS NULL", [keyId, tenantId]))[0];
    if (!key) return "not_found";
    if (key.scope === "admin") {
      const admins = await tx.query<{ n: number }>(
        "SELECT count(*)::int AS n FROM api_keys WHERE tenant_id = $1 AND scope = 'admin' AND revoked_at IS NULL AND label <> $2",
        [tenantId, CLI_SESSION_KEY_LABEL],
      );
      if (Number(admins[0]?.n ?? 0) <= 1) return "last_admin";
    }
    await tx.query("UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND tenant_id = $2", [keyId, tenantId]);
    return "revoked";
  });
}

export interface ApiKeyListing {
  id: string;
  tenant_id: string;
  scope: Scope;
  label: string;
  key_prefix: string;
  created_at: Date;
  revoked_at: Date | null;
}

export async function listApiKeys(sql: Sql, tenantId: string): Promise<ApiKeyListing[]> {
  return sql.query<ApiKeyListing>(
    "SELECT id, tenant_id, scope, label, key_prefix, created_at, revoked_at FROM api_keys WHERE tenant_id = $1 ORDER BY created_at",
    [tenantId],
  );
}

/**
 * Resolves X-Vault-API-Key to a principal. Lookup is by SHA-256 of the presented key, so no
 * secret is ever compared byte by byte. A short positive cache keeps the hot path off the control
 * database; revocation takes effect in this process at once and in others within the cache TTL.
 */
export class ApiKeyAuthenticator {
  // Holds the pending lookup too, so a burst of requests with one key makes one query.
  // keyId is filled in when the lookup resolves, so forgetKey() can find a revoked key's entry.
  private readonly cache = new Map<string, { principal: Promise<Principal | null>; until: number; keyId?: string }>();
  private static readonly maxEntries = 10_000;

  constructor(
    private readonly control: Sql,
    private readonly clock: Clock,
    private readonly ttlMs: number,
  ) {}

  async authenticate(raw: string | undefined): Promise<Principal> {
    if (!raw) throw new AppError("unauthorized", "X-Vault-API-Key header is required");
    if (raw.length > 512) throw new AppError("unauthorized", "Unknown API key");
    const hash = hashApiKey(raw);
    const now = this.clock.nowMs();
    let entry = this.cache.get(hash);
    if (!entry || entry.until <= now) {
      const fresh: { principal: Promise<Principal | null>; until: number; keyId?: string } = { principal: this.lookup(hash), until: now + this.ttlMs };
      fresh.principal.then((p) => (fresh.keyId = p?.keyId), () => {});
      entry = fresh;
      if (this.ttlMs > 0) {
        if (this.cache.size >= ApiKeyAuthenticator.maxEntries) this.cache.clear();
        this.cache.set(hash, entry);
      }
    }
    const principal = await entry.principal.catch((err) => {
      this.cache.delete(hash);
      throw err;
    });
    if (!principal) {
      // Unknown keys are not cached: a key created a moment ago must work at once.
      this.cache.delete(hash);
      throw new AppError("unauthorized", "Unknown or revoked API key");
    }
    return principal;
  }

  /**
   * Drops a revoked key from this process's cache, so the revocation takes effect here at once (other
   * processes see it within the cache TTL). Lookups still in flight may have read the key before the
   * revocation: they are dropped too, and simply run again.
   */
  forgetKey(keyId: string): void {
    for (const [hash, entry] of this.cache) if (entry.keyId === undefined || entry.keyId === keyId) this.cache.delete(hash);
  }

  private async lookup(hash: string): Promise<Principal | null> {
    return principalWhere(this.control, "k.key_hash = $1", [hash]);
  }
}

/** The principal of the one active key matching `where` (a disabled reviewer's keys no longer work). */
export async function principalWhere(control: Sql, where: string, params: unknown[]): Promise<Principal | null> {
  const rows = await control.query<{ id: string; tenant_id: string; scope: Scope; service_slug: string | null; reviewer_id: string | null; name: string; email: string; groups: string[] }>(
    `SELECT k.id, k.tenant_id, k.scope, k.service_slug, r.id AS reviewer_id, r.name, r.email, r.groups
       FROM api_keys k LEFT JOIN reviewers r ON r.id = k.reviewer_id
      WHERE ${where} AND k.revoked_at IS NULL AND r.disabled_at IS NULL`,
    params,
  );
  const row = rows[0];
  if (!row) return null;
  const principal: Principal = { tenantId: row.tenant_id, keyId: row.id, scope: row.scope };
  if (row.reviewer_id) principal.reviewer = { id: row.reviewer_id, name: row.name, email: row.email, groups: row.groups ?? [] };
  if (row.service_slug) principal.serviceSlug = row.service_slug;
  return principal;
}

export function requireScope(principal: Principal, allowed: readonly Scope[], action: string): void {
  if (!allowed.includes(principal.scope)) {
    throw new AppError("insufficient_scope", `This ${principal.scope} key may not ${action}; that needs a ${allowed.join(" or ")} key`);
  }
}
