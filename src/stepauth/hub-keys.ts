import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { openSecret, sealSecret } from "../outbox/secret-box.js";
import { generateHybridKeyset, parsePrivateKeyset, publicKeysetOf, serializePrivateKeyset, type PrivateKeyset, type PublicKeyset } from "../protocols/stepauth/keyset.js";
import type { TenantKeys } from "../tenancy/tenant-keys.js";

/** How long after a request's expiresAt its replay state, and its keyset's publication, are kept. */
export const RETENTION_AFTER_EXPIRY_MS = 24 * 3600_000;

export interface HubKeysetView {
  keyset: PublicKeyset;
  created_at: Date;
  retired_at: Date | null;
  /** In the metadata: the current keyset, or a retired one that a request still needs. */
  published: boolean;
}

interface KeysetRow {
  keyset_id: string;
  sealed_private: string;
  public: PublicKeyset;
  created_at: Date;
  retired_at: Date | null;
}

/** Associated data of a sealed keyset: it opens only as the keyset it was sealed for. */
const binding = (keysetId: string) => `stepauth_hub_keyset:${keysetId}`;

/**
 * Each tenant's hub keysets (the one owner of `stepauth_hub_keysets`): generated on first use,
 * sealed at rest with the tenant's webhook sealing key (like webhook secrets: TenantKeys, else
 * VAULT_TRANSPORT_KEY_BASE64, else as given), rotated on demand. A retired keyset keeps signing the
 * decisions of requests submitted under it, and stays published while any of them may still be
 * decided, delivered or polled: until its expiresAt + 24 h (the replay retention), and for as long
 * as its callback is pending. A poll-only SP that verifies a decision after fetching the metadata
 * again so still finds the keyset that signed it.
 */
export class HubKeys {
  /** Opened private keysets by tenant and keyset id: opening costs an AES-GCM pass and a parse. */
  private readonly opened = new Map<string, PrivateKeyset>();

  constructor(private readonly deps: { tenantKeys: TenantKeys; clock: Clock }) {}

  /** The current keyset, generated (and sealed) the first time a tenant needs one. */
  async current(sql: Sql, tenantId: string): Promise<PublicKeyset> {
    const existing = await currentRow(sql);
    if (existing) return existing.public;
    await this.insert(sql, tenantId);
    // Two processes may generate at once: the unique index keeps one, and both read that one.
    return (await currentRow(sql))!.public;
  }

  /** Retires the current keyset (if any) and makes a new one current, in one transaction. */
  async rotate(sql: Sql, tenantId: string): Promise<PublicKeyset> {
    const fresh = generateHybridKeyset();
    const sealed = this.seal(tenantId, fresh);
    await sql.transaction(async (tx) => {
      await tx.query("UPDATE stepauth_hub_keysets SET retired_at = $1 WHERE retired_at IS NULL", [this.deps.clock.now()]);
      await tx.query("INSERT INTO stepauth_hub_keysets (keyset_id, sealed_private, public, created_at) VALUES ($1, $2, $3, $4)", [
        fresh.keysetId, sealed, JSON.stringify(publicKeysetOf(fresh)), this.deps.clock.now(),
      ]);
    });
    return publicKeysetOf(fresh);
  }

  /** The private keyset with this id (a request's recorded one, retired or not). */
  async privateKeyset(sql: Sql, tenantId: string, keysetId: string): Promise<PrivateKeyset> {
    const key = `${tenantId}\n${keysetId}`;
    const hit = this.opened.get(key);
    if (hit) return hit;
    const row = (await sql.query<KeysetRow>("SELECT * FROM stepauth_hub_keysets WHERE keyset_id = $1", [keysetId]))[0];
    if (!row) throw new Error(`hub keyset ${keysetId} does not exist`);
    const keyset = parsePrivateKeyset(openSecret(row.sealed_private, binding(keysetId), this.deps.tenantKeys.sealingKeysFor(tenantId, "webhook").open));
    if (!keyset || keyset.keysetId !== keysetId) throw new Error(`hub keyset ${keysetId} does not open to a valid keyset`);
    this.opened.set(key, keyset);
    return keyset;
  }

  /** The keysets the metadata publishes: the current one first, then retired ones still needed. */
  async published(sql: Sql, tenantId: string): Promise<PublicKeyset[]> {
    const current = await this.current(sql, tenantId);
    const views = await this.list(sql);
    return [current, ...views.filter((v) => v.published && v.retired_at !== null).map((v) => v.keyset)];
  }

  /** Every keyset, newest first, with whether it is published. */
  async list(sql: Sql): Promise<HubKeysetView[]> {
    const cutoff = new Date(this.deps.clock.nowMs() - RETENTION_AFTER_EXPIRY_MS);
    const rows = await sql.query<KeysetRow & { needed: boolean }>(KEYSET_STATES_SQL, [cutoff]);
    return rows.map((r) => ({ keyset: r.public, created_at: r.created_at, retired_at: r.retired_at, published: r.needed }));
  }

  private async insert(sql: Sql, tenantId: string): Promise<void> {
    const fresh = generateHybridKeyset();
    await sql.query(
      `INSERT INTO stepauth_hub_keysets (keyset_id, sealed_private, public, created_at) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING`,
      [fresh.keysetId, this.seal(tenantId, fresh), JSON.stringify(publicKeysetOf(fresh)), this.deps.clock.now()],
    );
  }

  private seal(tenantId: string, keyset: PrivateKeyset): string {
    return sealSecret(serializePrivateKeyset(keyset), binding(keyset.keysetId), this.deps.tenantKeys.sealingKeysFor(tenantId, "webhook").seal);
  }
}

/**
 * Every keyset with whether it is still needed ($1: now - RETENTION_AFTER_EXPIRY_MS). Two probes that
 * stay cheap however many requests a keyset signed (the metadata is public, so its cost must not
 * grow with history): a range of the (hub_keyset_id, expires_at) index, and the pending callbacks
 * (few) joined to their requests by the unique clearance_request_id.
 */
export const KEYSET_STATES_SQL = `SELECT k.keyset_id, k.public, k.created_at, k.retired_at,
    (k.retired_at IS NULL
      OR EXISTS (SELECT 1 FROM stepauth_requests r WHERE r.hub_keyset_id = k.keyset_id AND r.expires_at > $1)
      OR EXISTS (SELECT 1 FROM outbox o JOIN stepauth_requests r ON r.clearance_request_id = o.request_id
                  WHERE o.kind = 'callback' AND o.status = 'pending' AND r.hub_keyset_id = k.keyset_id)) AS needed
  FROM stepauth_hub_keysets k ORDER BY k.created_at DESC, k.keyset_id`;

async function currentRow(sql: Sql): Promise<KeysetRow | undefined> {
  return (await sql.query<KeysetRow>("SELECT * FROM stepauth_hub_keysets WHERE retired_at IS NULL"))[0];
}
