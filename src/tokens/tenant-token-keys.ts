import type { Clock } from "../clock.js";
import type { KeyRegistry, StoredKey, TenantKeyRecord } from "./key-registry.js";
import { LocalSigner, SignerUnavailableError, type Signer } from "./signer.js";

/** How long past the token TTL a retired tenant key stays published (processes pick up a rotation well within it). */
export const TENANT_KEY_MARGIN_SECONDS = 60;
/** A process re-reads the tenant keys at least this often while it issues tokens. */
const CURRENT_KEY_MAX_AGE_MS = 2_000;

/** `<VAULT_KEY_ID>.<tenant_id>` for the first generation, `<VAULT_KEY_ID>.<tenant_id>.<n>` after rotations. */
export function tenantKid(baseKid: string, tenantId: string, generation: number): string {
  return generation === 1 ? `${baseKid}.${tenantId}` : `${baseKid}.${tenantId}.${generation}`;
}

/**
 * A tenant's token key, derived from the vault token key by HKDF with a label naming the tenant and
 * the generation: every process derives the same key with no more configuration, and old
 * generations stay derivable, so a stored token re-renders to the same string after a rotation.
 */
export function deriveTenantSigner(vault: LocalSigner, tenantId: string, generation: number): LocalSigner {
  return vault.derive(tenantKid(vault.kid, tenantId, generation), `tenant token key v1 ${JSON.stringify([tenantId, generation])}`);
}

export class TenantKeyRotationUnsupported extends Error {}

export interface TenantKeyView {
  kid: string;
  status: "active" | "previous";
  key: StoredKey;
  publishedUntil: Date | null;
}

/**
 * Which key signs a tenant's tokens. With a local vault key each tenant has its own derived key; a
 * KMS key cannot be derived from, so there every tenant's tokens are signed by the vault token key.
 */
export class TenantTokenKeys {
  private readonly signers = new Map<string, LocalSigner>();
  private retiring: Promise<void> | undefined;

  constructor(
    readonly vaultSigner: Signer,
    private readonly registry: KeyRegistry,
    private readonly clock: Clock,
  ) {}

  get perTenant(): boolean {
    return this.vaultSigner instanceof LocalSigner;
  }

  /**
   * The kid a new token of the tenant gets, without I/O (tokens are prepared synchronously): the
   * cached current key, or the first generation for a tenant with none yet. A cache not checked for
   * 2 s is synced in the background (reloaded only if the keys changed); `signerFor` makes sure the
   * kid is published before anything is signed with it.
   */
  currentKid(tenantId: string): string {
    if (!(this.vaultSigner instanceof LocalSigner)) return this.vaultSigner.kid;
    if (this.registry.olderThan(CURRENT_KEY_MAX_AGE_MS)) void this.registry.sync().catch(() => {});
    return this.registry.cachedCurrentTenantKey(tenantId, this.vaultSigner.kid)?.kid ?? tenantKid(this.vaultSigner.kid, tenantId, 1);
  }

  /**
   * The signer for a token row's kid, published first. `expiresAt` is the token's expiry: a retired key
   * is used only if it stays published until then (a process that had not yet seen a rotation), else
   * the signature is refused (SignerUnavailableError: the caller fails closed and the next token gets the new key).
   */
  async signerFor(kid: string, tenantId: string, expiresAt: Date): Promise<Signer> {
    await this.retireOtherBases();
    const vault = this.vaultSigner;
    if (!(vault instanceof LocalSigner) || kid === vault.kid) return vault;
    let stored = await this.registry.lookup(kid, { fromVault: true });
    if (!stored && kid === tenantKid(vault.kid, tenantId, 1)) {
      const first = deriveTenantSigner(vault, tenantId, 1);
      try {
        await this.registry.registerTenantKey(record(first, tenantId, 1, vault.kid));
      } catch (err) {
        // Unpublished means unusable: the decision fails closed (review), as for any signer failure.
        throw new SignerUnavailableError(`tenant key ${kid} could not be published: ${err instanceof Error ? err.message : String(err)}`, kid);
      }
      stored = await this.registry.lookup(kid, { fromVault: true });
    }
    if (!stored || stored.tenant_id !== tenantId || stored.base_kid !== vault.kid || stored.generation === null) {
      // A kid this vault key cannot derive (VAULT_KEY_ID changed since): the tenant's current key signs.
      const current = this.currentKid(tenantId);
      if (current === kid) throw new SignerUnavailableError(`tenant key ${kid} is not derivable from ${vault.kid}`, kid);
      return this.signerFor(current, tenantId, expiresAt);
    }
    const until = this.registry.publishedUntil(stored);
    if (until && until.getTime() < expiresAt.getTime()) {
      throw new SignerUnavailableError(`tenant key ${kid} was retired at ${stored.retired_at?.toISOString()}; a new token needs the current key`, kid);
    }
    const signer = this.derived(tenantId, stored.generation);
    // The published key must be the one derived here (never sign under a kid whose published key differs).
    if (stored.public_jwk.x !== signer.publicJwk.x) throw new SignerUnavailableError(`tenant key ${kid} is published with another public key`, kid);
    return signer;
  }

  /**
   * Once per process, before its first signature or rotation: a vault key newer than every other retires
   * the token keys of older VAULT_KEY_IDs (KeyRegistry.retireOtherTokenKeys). A failure is retried next time.
   */
  private retireOtherBases(): Promise<void> {
    this.retiring ??= this.registry.retireOtherTokenKeys(this.vaultSigner.kid).catch((err: unknown) => {
      this.retiring = undefined;
      throw new SignerUnavailableError(`could not retire the keys of older vault keys: ${err instanceof Error ? err.message : String(err)}`, this.vaultSigner.kid);
    });
    return this.retiring;
  }

  /** Retires the tenant's current key and publishes the next generation. Undefined for an unknown tenant. */
  async rotate(tenantId: string): Promise<{ retired: string | null; current: string } | undefined> {
    const vault = this.vaultSigner;
    if (!(vault instanceof LocalSigner)) {
      throw new TenantKeyRotationUnsupported("With VAULT_SIGNER_BACKEND=aws_kms every tenant's tokens are signed by the KMS token key: rotate it with a new VAULT_KEY_ID and VAULT_KMS_KEY_ID");
    }
    await this.retireOtherBases();
    const rotated = await this.registry.rotateTenant(tenantId, vault.kid, (generation) => record(this.derived(tenantId, generation), tenantId, generation, vault.kid));
    return rotated && { retired: rotated.retired, current: rotated.current.kid };
  }

  /**
   * The tenant's published token keys, current first. With a KMS key: the vault token keys. With a
   * local key, the vault key is listed as `previous` while tokens it signed before the tenant had a key may live.
   */
  async keySet(tenantId: string): Promise<TenantKeyView[]> {
    const keys = (await this.registry.tenantTokenKeys(tenantId)).filter((k) => this.registry.isPublished(k));
    const vault = this.vaultSigner;
    if (!(vault instanceof LocalSigner)) {
      return keys
        .filter((k) => k.tenant_id === null)
        .map((k) => ({ kid: k.kid, status: k.kid === vault.kid ? "active" : "previous", key: k, publishedUntil: null }) as TenantKeyView)
        .sort((a, b) => (a.status === b.status ? 0 : a.status === "active" ? -1 : 1));
    }
    const own = keys.filter((k) => k.tenant_id === tenantId).sort((a, b) => (b.generation ?? 0) - (a.generation ?? 0));
    const views: TenantKeyView[] = own.map((k) => ({
      kid: k.kid,
      status: k.retired_at === null && k.base_kid === vault.kid ? "active" : "previous",
      key: k,
      publishedUntil: this.registry.publishedUntil(k),
    }));
    // The vault key verifies the tenant's tokens issued before its first own key (token-verifier.ts), so
    // it is listed while such a token may live.
    const vaultKey = keys.find((k) => k.kid === vault.kid);
    const graceMs = this.registry.tokenGraceSeconds * 1000;
    const first = vaultKey && this.registry.vaultKeyValidUntil(vaultKey, tenantId);
    if (vaultKey && (!first || first.getTime() + graceMs > this.clock.nowMs())) {
      views.push({ kid: vaultKey.kid, status: "previous", key: vaultKey, publishedUntil: first ? new Date(first.getTime() + graceMs) : null });
    }
    return views;
  }

  private derived(tenantId: string, generation: number): LocalSigner {
    const kid = tenantKid(this.vaultSigner.kid, tenantId, generation);
    let signer = this.signers.get(kid);
    if (!signer) {
      signer = deriveTenantSigner(this.vaultSigner as LocalSigner, tenantId, generation);
      this.signers.set(kid, signer);
    }
    return signer;
  }
}

function record(signer: LocalSigner, tenantId: string, generation: number, baseKid: string): TenantKeyRecord {
  return { kid: signer.kid, publicJwk: signer.publicJwk, tenantId, generation, baseKid };
}
