import { importJWK, type JWK } from "jose";
import { TokenVerificationError } from "./errors.js";
import { send, type Transport } from "./http.js";

/** A refetch for an unknown kid happens at most this often, so a flood of forged kids cannot hammer the vault. */
const UNKNOWN_KID_COOLDOWN_MS = 10_000;

type VerificationKey = Awaited<ReturnType<typeof importJWK>>;

/**
 * The vault's JWKS (`GET /.well-known/jwks.json`), cached for `maxAgeMs`. A token signed by a kid the
 * cache does not know causes one refetch (rotation, or a tenant key the cache has not seen), at
 * most once per cooldown; any kid format is accepted (`<VAULT_KEY_ID>` or `<VAULT_KEY_ID>.<tenant>`).
 * Only Ed25519 public keys are kept: a JWK with `d`, or of another type, is ignored. When the cache
 * is stale and the vault cannot be reached, verification fails closed (`jwks_unavailable`).
 */
/** A JWKS key, and the one tenant whose tokens it may verify when the vault says so (a tenant token key). */
export interface JwksEntry {
  key: VerificationKey;
  tenantId?: string;
}

export class JwksCache {
  private keys = new Map<string, JwksEntry>();
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private lastUnknownKidFetch = Number.NEGATIVE_INFINITY;
  private inflight: Promise<void> | undefined;

  constructor(
    private readonly transport: Transport,
    private readonly maxAgeMs: number,
    private readonly now: () => number = Date.now,
    private readonly cooldownMs = UNKNOWN_KID_COOLDOWN_MS,
  ) {}

  async key(kid: string): Promise<JwksEntry> {
    const stale = this.now() - this.fetchedAt >= this.maxAgeMs;
    if (stale) await this.refresh();
    const known = this.keys.get(kid);
    if (known) return known;
    // Just fetched: a second fetch would find the same set.
    if (!stale && this.now() - this.lastUnknownKidFetch >= this.cooldownMs) {
      this.lastUnknownKidFetch = this.now();
      await this.refresh();
      const fetched = this.keys.get(kid);
      if (fetched) return fetched;
    }
    throw new TokenVerificationError("unknown_kid", `No key with kid ${JSON.stringify(kid)} in the vault's JWKS`);
  }

  /** Known kids (for diagnostics and tests). */
  kids(): string[] {
    return [...this.keys.keys()];
  }

  private refresh(): Promise<void> {
    // Concurrent verifications share one fetch.
    this.inflight ??= this.load().finally(() => {
      this.inflight = undefined;
    });
    return this.inflight;
  }

  private async load(): Promise<void> {
    let body: { keys?: unknown };
    try {
      ({ body } = await send<{ keys?: unknown }>(this.transport, "GET", "/.well-known/jwks.json"));
    } catch (err) {
      throw new TokenVerificationError("jwks_unavailable", `Cannot fetch the vault's JWKS: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
    if (!Array.isArray(body.keys)) throw new TokenVerificationError("jwks_unavailable", "The vault's JWKS has no keys array");
    const next = new Map<string, JwksEntry>();
    for (const jwk of body.keys as JWK[]) {
      if (!jwk || typeof jwk !== "object" || typeof jwk.kid !== "string") continue;
      if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || typeof jwk.x !== "string" || "d" in jwk) continue;
      try {
        const tenantId = (jwk as { tenant_id?: unknown }).tenant_id;
        next.set(jwk.kid, { key: await importJWK({ kty: "OKP", crv: "Ed25519", x: jwk.x }, "EdDSA"), tenantId: typeof tenantId === "string" ? tenantId : undefined });
      } catch {
        // A malformed key is skipped: tokens signed by it fail as unknown_kid.
      }
    }
    this.keys = next;
    this.fetchedAt = this.now();
  }
}
