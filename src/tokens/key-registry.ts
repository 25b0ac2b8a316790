import { createPublicKey, type KeyObject } from "node:crypto";
import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { FreshRuns, isRaceError, retryOnce } from "./fresh-runs.js";
import type { PublicJwk, Signer } from "./signer.js";

export class KeyConflictError extends Error {}
/** The tenant already has 2 retired keys still published: a rotation now would grow the shared JWKS (docs/tokens.md). */
export class RotationTooFrequentError extends Error {}
/** A rotation that lost a database race (deadlock, duplicate kid) twice: answered 503, never 500. */
export class RotationBusyError extends Error {}

/** Retired tenant keys still published at which a tenant's next rotation is refused. */
export const MAX_PUBLISHED_RETIRED_KEYS = 2;
/** Unknown kids (anyone with an agent key can send random ones) re-read the table at most this often per process. */
const UNKNOWN_KID_SYNC_GAP_MS = 1_000;
/** Kids the vault issues: `<VAULT_KEY_ID>[.<tenant_id>[.<n>]]`, `<kid>.ledger`. Anything else is unknown without a lookup. */
export const KID_PATTERN = /^[A-Za-z0-9._:-]{1,200}$/;

export type KeyPurpose = "token" | "ledger";
export interface StoredKey {
  kid: string;
  public_jwk: PublicJwk;
  purpose: KeyPurpose;
  created_at: Date;
  retired_at: Date | null;
  /** A tenant token key (migration control/0006): its tenant, generation and the vault key it derives from. */
  tenant_id: string | null;
  generation: number | null;
  base_kid: string | null;
}

/** A tenant key to publish: the public half of a key derived by src/tokens/tenant-token-keys.ts. */
export interface TenantKeyRecord {
  kid: string;
  publicJwk: PublicJwk;
  tenantId: string;
  generation: number;
  baseKid: string;
}

const COLUMNS = "kid, public_jwk, purpose, created_at, retired_at, tenant_id, generation, base_kid";
const SUMMARY = "SELECT count(*)::int AS n, max(created_at) AS c, max(retired_at) AS r FROM signing_keys";
type Summary = { n: number; c: Date | null; r: Date | null };
/** A key seen in the database this recently is trusted as cached (retirements by other processes show within it). */
const KID_RECHECK_MS = 2_000;

/**
 * Every public signing key the vault has used, shared by all vault processes through the control
 * database. JWKS publishes ledger keys for ever (old receipts stay verifiable), vault token keys until
 * `tokenGraceSeconds` after their retirement (a new VAULT_KEY_ID retires the others), and each tenant
 * token key until `tokenGraceSeconds` after its retirement (the last token it signed has expired).
 */
export class KeyRegistry {
  private stored: StoredKey[] = [];
  private byKid = new Map<string, StoredKey>();
  private checkedAt = new Map<string, number>();
  private publicKeys = new Map<string, KeyObject>();
  /** When the cache was last known to match the database (a reload, or an unchanged version). */
  private lastCheckMs = -Infinity;
  private version = "";
  /** Loads are applied in the order they started: a slow older load never overwrites a newer one. */
  private loadSeq = 0;
  private appliedSeq = 0;
  private lookups = new Map<string, Promise<StoredKey | undefined>>();
  private readonly syncRuns = new FreshRuns(() => this.syncOnce(false));
  private readonly reloadRuns = new FreshRuns(() => this.syncOnce(true));
  private unknownKidSync: Promise<void> | undefined;
  private lastUnknownKidSyncMs = -Infinity;

  constructor(
    private readonly control: Sql,
    private readonly clock: Clock,
    /** Token TTL + margin: how long a retired token key stays published. */
    readonly tokenGraceSeconds = 360,
  ) {}

  /**
   * Publishes the signer's public key; refuses to start if its kid is already bound to another key.
   */
  async register(signer: Signer, purpose: KeyPurpose = "token"): Promise<void> {
    await this.control.query(
      // The vault's clock, as for tenant keys: which key came first is compared across them.
      "INSERT INTO signing_keys (kid, algorithm, public_jwk, purpose, created_at) VALUES ($1, 'EdDSA', $2, $3, $4) ON CONFLICT (kid) DO NOTHING",
      [signer.kid, JSON.stringify(signer.publicJwk), purpose, this.clock.now()],
    );
    const stored = await this.control.query<StoredKey>(`SELECT ${COLUMNS} FROM signing_keys WHERE kid = $1`, [signer.kid]);
    const row = stored[0];
    if (row?.public_jwk.x !== signer.publicJwk.x || row?.purpose !== purpose || row?.tenant_id !== null) {
      throw new KeyConflictError(
        `VAULT_KEY_ID: kid "${signer.kid}" is already published with a different public key or purpose; give a new key a new VAULT_KEY_ID`,
      );
    }
    await this.refresh();
  }

  /**
   * Retires every other current token key (other VAULT_KEY_IDs' vault and tenant keys) if `kid` is the
   * newest vault token key: after a VAULT_KEY_ID change (a leaked key) they leave the JWKS once the
   * tokens they signed have expired. A process with an older VAULT_KEY_ID (a rolling deploy, a stale
   * shell) retires nothing. Called by the first token a process signs (TenantTokenKeys), not at
   * registration: a CLI context over the database registers its key but signs nothing.
   */
  async retireOtherTokenKeys(kid: string): Promise<void> {
    const retired = await this.control.query<{ kid: string }>(
      `UPDATE signing_keys SET retired_at = $2
        WHERE purpose = 'token' AND retired_at IS NULL
          AND ((tenant_id IS NOT NULL AND base_kid <> $1) OR (tenant_id IS NULL AND kid <> $1))
          AND NOT EXISTS (SELECT 1 FROM signing_keys n WHERE n.purpose = 'token' AND n.tenant_id IS NULL
                          AND n.created_at > (SELECT created_at FROM signing_keys WHERE kid = $1))
        RETURNING kid`,
      [kid, this.clock.now()],
    );
    if (retired.length > 0) await this.refresh();
  }

  /**
   * Publishes a tenant key before any token signed with it is handed out. Idempotent: every process
   * derives the same key, so a concurrent registration of the same kid inserts nothing and agrees.
   * Takes the tenant's row lock first, as a rotation does (same locks, same order: no deadlock with
   * a concurrent rotation), and retries once if it lost a race anyway.
   */
  async registerTenantKey(key: TenantKeyRecord): Promise<void> {
    await retryOnce(() =>
      this.control.transaction(async (tx) => {
        if ((await tx.query("SELECT id FROM tenants WHERE id = $1 FOR UPDATE", [key.tenantId])).length === 0) {
          throw new KeyConflictError(`tenant key ${key.kid}: no tenant ${key.tenantId}`);
        }
        const base = (await tx.query<{ retired_at: Date | null }>("SELECT retired_at FROM signing_keys WHERE kid = $1 AND tenant_id IS NULL", [key.baseKid]))[0];
        // A vault key retired by a newer VAULT_KEY_ID starts no new tenant key (a process of a rolling deploy).
        if (base?.retired_at) throw new KeyConflictError(`tenant key ${key.kid}: vault key ${key.baseKid} was retired`);
        await tx.query(
          `INSERT INTO signing_keys (kid, algorithm, public_jwk, purpose, tenant_id, generation, base_kid, created_at)
           VALUES ($1, 'EdDSA', $2, 'token', $3, $4, $5, $6) ON CONFLICT DO NOTHING`,
          [key.kid, JSON.stringify(key.publicJwk), key.tenantId, key.generation, key.baseKid, this.clock.now()],
        );
        const row = (await tx.query<StoredKey>(`SELECT ${COLUMNS} FROM signing_keys WHERE kid = $1`, [key.kid]))[0];
        if (!row || row.public_jwk.x !== key.publicJwk.x || row.tenant_id !== key.tenantId || row.generation !== key.generation) {
          throw new KeyConflictError(`tenant key ${key.kid} could not be published (another key holds this kid or generation)`);
        }
      }),
    );
    await this.refresh();
  }

  /**
   * Retires the tenant's current key (if any) and publishes the next generation, in one transaction
   * holding the tenant's row: concurrent rotations run one after the other. Undefined for an unknown
   * tenant; RotationTooFrequentError while the tenant has MAX_PUBLISHED_RETIRED_KEYS retired keys
   * still published (so one tenant adds at most that many keys to the shared JWKS); RotationBusyError
   * if it lost a database race twice.
   */
  async rotateTenant(
    tenantId: string,
    baseKid: string,
    next: (generation: number) => TenantKeyRecord,
  ): Promise<{ retired: string | null; current: TenantKeyRecord } | undefined> {
    let result;
    try {
      result = await retryOnce(() =>
        this.control.transaction(async (tx) => {
          if ((await tx.query("SELECT id FROM tenants WHERE id = $1 FOR UPDATE", [tenantId])).length === 0) return undefined;
          const rows = await tx.query<{ kid: string; generation: number; base_kid: string; retired_at: Date | null }>(
            "SELECT kid, generation, base_kid, retired_at FROM signing_keys WHERE tenant_id = $1 ORDER BY generation DESC",
            [tenantId],
          );
          const nowMs = this.clock.nowMs();
          const stillPublished = rows.filter((r) => r.retired_at !== null && new Date(r.retired_at).getTime() + this.tokenGraceSeconds * 1000 > nowMs);
          if (stillPublished.length >= MAX_PUBLISHED_RETIRED_KEYS) {
            const freeAt = Math.min(...stillPublished.map((r) => new Date(r.retired_at!).getTime())) + this.tokenGraceSeconds * 1000;
            throw new RotationTooFrequentError(`${stillPublished.length} retired keys of tenant ${tenantId} are still published; rotate again after ${new Date(freeAt).toISOString()}`);
          }
          const own = rows.filter((r) => r.base_kid === baseKid);
          const current = own.find((r) => r.retired_at === null);
          const key = next((own[0]?.generation ?? 0) + 1);
          if (current) await tx.query("UPDATE signing_keys SET retired_at = $2 WHERE kid = $1", [current.kid, this.clock.now()]);
          await tx.query(
            `INSERT INTO signing_keys (kid, algorithm, public_jwk, purpose, tenant_id, generation, base_kid, created_at)
             VALUES ($1, 'EdDSA', $2, 'token', $3, $4, $5, $6)`,
            [key.kid, JSON.stringify(key.publicJwk), key.tenantId, key.generation, key.baseKid, this.clock.now()],
          );
          return { retired: current?.kid ?? null, current: key };
        }),
      );
    } catch (err) {
      if (isRaceError(err)) throw new RotationBusyError(`the rotation of tenant ${tenantId} lost a database race twice; retry`);
      throw err;
    }
    await this.refresh();
    return result;
  }

  /** Reloads every key, with a query that starts after this call (a kid this process just committed is in it). */
  refresh(): Promise<void> {
    return this.reloadRuns.run();
  }

  /** The table's summary, then a full reload if it changed (or `force`). */
  private async syncOnce(force: boolean): Promise<void> {
    const seq = ++this.loadSeq;
    const startedMs = this.clock.nowMs();
    const [summary] = await this.control.query<Summary>(SUMMARY);
    const version = versionOfSummary(summary);
    if (!force && version === this.version) {
      if (seq > this.appliedSeq) this.lastCheckMs = startedMs;
      return;
    }
    // Unpublished tenant keys stay out of memory (and the JWKS); each base's first generation stays,
    // as it says since when a tenant's tokens carry its own keys (vault token keys verify only older ones).
    const cutoff = new Date(startedMs - this.tokenGraceSeconds * 1000);
    const rows = await this.control.query<StoredKey>(
      `SELECT ${COLUMNS} FROM signing_keys WHERE tenant_id IS NULL OR retired_at IS NULL OR retired_at > $1 OR generation = 1 ORDER BY created_at, kid`,
      [cutoff],
    );
    if (seq < this.appliedSeq) return;
    this.appliedSeq = seq;
    const now = this.clock.nowMs();
    this.stored = rows.map(normalized);
    this.byKid = new Map(this.stored.map((k) => [k.kid, k]));
    this.checkedAt = new Map(this.stored.map((k) => [k.kid, now]));
    this.version = version;
    this.lastCheckMs = startedMs;
  }

  /** Published versions of the given keys (for proof bundles, protocol §2.11), refreshing once if one is unknown. */
  async versions(kids: readonly string[]): Promise<StoredKey[]> {
    if (kids.some((kid) => !this.byKid.has(kid))) await this.refresh();
    return this.stored.filter((k) => kids.includes(k.kid));
  }

  /** When a retired token key leaves the JWKS; null while it is current (and for ledger keys, kept for ever). */
  publishedUntil(key: StoredKey): Date | null {
    if (key.purpose !== "token" || key.retired_at === null) return null;
    return new Date(key.retired_at.getTime() + this.tokenGraceSeconds * 1000);
  }

  isPublished(key: StoredKey): boolean {
    const until = this.publishedUntil(key);
    return until === null || until.getTime() > this.clock.nowMs();
  }

  /**
   * Always as the database has it: a summary query (how many keys, the newest) that starts after the
   * request arrived (one in flight per process, later callers share one follow-up), and a full reload
   * only when it changed. A kid committed before a token was answered is therefore in every process's
   * JWKS (the SDK fetches it once on an unknown kid, §3.2).
   */
  async jwks(): Promise<{ keys: (PublicJwk & { tenant_id?: string; purpose?: "ledger" })[] }> {
    await this.sync();
    return {
      keys: this.stored
        .filter((k) => this.isPublished(k))
        .map((k) => ({
          kty: k.public_jwk.kty,
          crv: k.public_jwk.crv,
          x: k.public_jwk.x,
          kid: k.kid,
          use: "sig",
          alg: "EdDSA",
          // Which tenant a tenant key signs for, so an offline verifier (the SDK, the gateway) refuses a
          // token of tenant A under tenant B's key, as the vault does; other JWK readers ignore it.
          ...(k.tenant_id !== null ? { tenant_id: k.tenant_id } : {}),
          // A ledger key signs receipts and checkpoints, never tokens: said here so that an offline
          // token verifier refuses a token under it, as the vault does.
          ...(k.purpose === "ledger" ? { purpose: "ledger" as const } : {}),
        })),
    };
  }

  /** Reloads the keys if the table changed, with a check that starts after this call. */
  sync(): Promise<void> {
    return this.syncRuns.run();
  }

  /** Token keys a tenant's tokens may carry: its own keys and the vault-level token keys. */
  async tenantTokenKeys(tenantId: string): Promise<StoredKey[]> {
    await this.sync();
    return this.stored.filter((k) => k.purpose === "token" && (k.tenant_id === null || k.tenant_id === tenantId));
  }

  /**
   * Until when a vault-level token key may sign the tenant's tokens (by `iat`): the creation of the
   * tenant's first own key made after that vault key, or undefined if there is none (tokens before
   * per-tenant keys, a KMS key). From the cache, which keeps every base's first generation.
   */
  vaultKeyValidUntil(vaultKey: StoredKey, tenantId: string): Date | undefined {
    let first: Date | undefined;
    for (const k of this.stored) {
      if (k.tenant_id === tenantId && k.created_at >= vaultKey.created_at && (!first || k.created_at < first)) first = k.created_at;
    }
    return first;
  }

  /** The cached current key of a tenant under a vault key (no I/O: the token path's synchronous read). */
  cachedCurrentTenantKey(tenantId: string, baseKid: string): StoredKey | undefined {
    return this.stored.find((k) => k.tenant_id === tenantId && k.base_kid === baseKid && k.retired_at === null);
  }

  /** Whether the cache was last checked more than `ms` ago; the caller may then sync it in the background. */
  olderThan(ms: number): boolean {
    return this.clock.nowMs() - this.lastCheckMs > ms;
  }

  /**
   * A stored key by kid. A known kid not checked in the last 2 s is read again by primary key (one read
   * per kid at a time), so a retirement by another process is seen. An unknown kid waits for a check of
   * the table that starts after it arrived, at most one per second per process (random kids cost no more).
   * A kid outside KID_PATTERN is unknown without any lookup. `fromVault`: a kid of the vault's own token
   * rows (signing), read by primary key at once.
   */
  async lookup(kid: string, opts: { fromVault?: boolean } = {}): Promise<StoredKey | undefined> {
    if (!KID_PATTERN.test(kid)) return undefined;
    const cached = this.byKid.get(kid);
    if (cached && this.clock.nowMs() - (this.checkedAt.get(kid) ?? -Infinity) <= KID_RECHECK_MS) return cached;
    if (!cached && !opts.fromVault) {
      await this.syncForUnknownKid();
      return this.byKid.get(kid);
    }
    let pending = this.lookups.get(kid);
    if (!pending) {
      pending = this.readKid(kid).finally(() => this.lookups.delete(kid));
      this.lookups.set(kid, pending);
    }
    return pending;
  }

  private syncForUnknownKid(): Promise<void> {
    if (this.unknownKidSync) return this.unknownKidSync;
    const wait = Math.max(0, this.lastUnknownKidSyncMs + UNKNOWN_KID_SYNC_GAP_MS - performance.now());
    const pending: Promise<void> = (async () => {
      await new Promise((resolve) => setTimeout(resolve, wait));
      // Callers from here on wait for the next check: this one may start before what they look for was committed.
      this.unknownKidSync = undefined;
      this.lastUnknownKidSyncMs = performance.now();
      await this.sync();
    })();
    this.unknownKidSync = pending;
    return pending;
  }

  private async readKid(kid: string): Promise<StoredKey | undefined> {
    const row = (await this.control.query<StoredKey>(`SELECT ${COLUMNS} FROM signing_keys WHERE kid = $1`, [kid]))[0];
    if (!row) return undefined;
    const key = normalized(row);
    const before = this.byKid.get(kid);
    // A retirement: the rest of the cache (a tenant's new current key) is stale too.
    if (!before || before.retired_at?.getTime() !== key.retired_at?.getTime()) await this.refresh();
    else this.checkedAt.set(kid, this.clock.nowMs());
    return this.byKid.get(kid) ?? key;
  }

  /** The public key object of a stored key (imported once). */
  publicKey(key: StoredKey): KeyObject {
    let imported = this.publicKeys.get(key.kid);
    if (!imported) {
      imported = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: key.public_jwk.x }, format: "jwk" });
      this.publicKeys.set(key.kid, imported);
    }
    return imported;
  }
}

function normalized(row: StoredKey): StoredKey {
  return {
    ...row,
    created_at: new Date(row.created_at),
    retired_at: row.retired_at ? new Date(row.retired_at) : null,
    tenant_id: row.tenant_id ?? null,
    generation: row.generation ?? null,
    base_kid: row.base_kid ?? null,
  };
}

function versionOfSummary(row: Summary | undefined): string {
  const c = row?.c ? new Date(row.c).getTime() : NaN;
  const r = row?.r ? new Date(row.r).getTime() : NaN;
  return `${Number(row?.n ?? 0)}:${Number.isFinite(c) ? c : "-"}:${Number.isFinite(r) ? r : "-"}`;
}
