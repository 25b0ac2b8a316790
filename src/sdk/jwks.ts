import { importJWK, type JWK } from "jose";
import { TokenVerificationError } from "./errors.js";
import { send, type Transport } from "./http.js";

/** A refetch for an unknown kid happens at most this often, so a flood of forged kids cannot hammer the vault. */
const UNKNOWN_KID_COOLDOWN_MS = 10_000;
/** After a failed JWKS fetch, verifications fail closed for this long before the vault is asked again. */
const FAILED_FETCH_BACKOFF_MS = 1_000;

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
  /** Kid → the published JWK, imported on first use (a JWKS of thousands of tenant keys costs no imports up front). */
  private keys = new Map<string, { x: string; tenantId?: string; imported?: Promise<JwksEntry> }>();
  private fetchedAt = Number.NEGATIVE_INFINITY;
  private lastUnknownKidFetch = Number.NEGATIVE_INFINITY;
  /** The last failed fetch: within FAILED_FETCH_BACKOFF_MS, verifications fail closed without asking again. */
  private failure: { at: number; error: TokenVerificationError } | undefined;
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
    if (known) return this.imported(kid, known);
    // Just fetched: a second fetch would find the same set.
    if (!stale && this.now() - this.lastUnknownKidFetch >= this.cooldownMs) {
      this.lastUnknownKidFetch = this.now();
      await this.refresh();
      const fetched = this.keys.get(kid);
      if (fetched) return this.imported(kid, fetched);
    }
    throw new TokenVerificationError("unknown_kid", `No key with kid ${JSON.stringify(kid)} in the vault's JWKS`);
  }

  /** Known kids (for diagnostics and tests). */
  kids(): string[] {
    return [...this.keys.keys()];
  }

  private imported(kid: string, entry: { x: string; tenantId?: string; imported?: Promise<JwksEntry> }): Promise<JwksEntry> {
    entry.imported ??= importJWK({ kty: "OKP", crv: "Ed25519", x: entry.x }, "EdDSA").then(
      (key) => ({ key, ...(entry.tenantId !== undefined ? { tenantId: entry.tenantId } : {}) }),
      // A malformed key (x not 32 bytes): tokens signed under its kid fail as unknown_kid.
      () => {
        throw new TokenVerificationError("unknown_kid", `The vault's JWKS key ${JSON.stringify(kid)} is not a usable Ed25519 key`);
      },
    );
    return entry.imported;
  }

  private refresh(): Promise<void> {
    // A vault that just failed is not asked again at once: a stream of verifications while it is
    // down would otherwise each send a fetch (and each wait for its timeout). Fail closed meanwhile.
    if (this.failure && this.now() - this.failure.at < FAILED_FETCH_BACKOFF_MS) return Promise.reject(this.failure.error);
    // Concurrent verifications share one fetch.
    this.inflight ??= this.load().then(
      () => {
        this.failure = undefined;
      },
      (err: TokenVerificationError) => {
        this.failure = { at: this.now(), error: err };
        throw err;
      },
    ).finally(() => {
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
    const next = new Map<string, { x: string; tenantId?: string }>();
    const ambiguous = new Set<string>();
    for (const jwk of body.keys as (JWK & { tenant_id?: unknown; purpose?: unknown })[]) {
      if (!jwk || typeof jwk !== "object" || typeof jwk.kid !== "string") continue;
      if (jwk.kty !== "OKP" || jwk.crv !== "Ed25519" || typeof jwk.x !== "string" || "d" in jwk) continue;
      if (jwk.use !== undefined && jwk.use !== "sig") continue;
      if (jwk.alg !== undefined && jwk.alg !== "EdDSA") continue;
      // The vault marks its ledger keys (receipts, checkpoints): they never verify a token.
      if (jwk.purpose !== undefined && jwk.purpose !== "token") continue;
      // A tenant_id member that is present but not a tenant id would make a tenant key look global
      // (valid for every tenant): such a key is not trusted at all (fail closed).
      const tenantId = jwk.tenant_id;
      if (tenantId !== undefined && (typeof tenantId !== "string" || tenantId === "")) continue;
      // The same kid twice with different keys or tenants is ambiguous: neither is trusted.
      const seen = next.get(jwk.kid);
      if (seen && (seen.x !== jwk.x || seen.tenantId !== tenantId)) ambiguous.add(jwk.kid);
      next.set(jwk.kid, { x: jwk.x, ...(tenantId !== undefined ? { tenantId } : {}) });
    }
    for (const kid of ambiguous) next.delete(kid);
    this.keys = next;
    this.fetchedAt = this.now();
  }
}
