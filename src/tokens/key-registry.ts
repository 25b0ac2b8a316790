import { importJWK, type CryptoKey } from "jose";
import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import type { PublicJwk, Signer } from "./signer.js";

export class KeyConflictError extends Error {}

export type KeyPurpose = "token" | "ledger";
export interface StoredKey {
  kid: string;
  public_jwk: PublicJwk;
  purpose: KeyPurpose;
  created_at: Date;
  retired_at: Date | null;
}

/**
 * Every public signing key the vault has used, shared by all vault processes through the control
 * database. JWKS publishes all of them (retired ones too) so old tokens and receipts still verify.
 */
export class KeyRegistry {
  private keys: PublicJwk[] = [];
  private stored: StoredKey[] = [];
  private tokenKids = new Set<string>();
  private imported = new Map<string, Promise<CryptoKey | Uint8Array>>();
  private lastRefreshMs = -Infinity;

  constructor(
    private readonly control: Sql,
    private readonly clock: Clock,
  ) {}

  /** Publishes the signer's public key; refuses to start if its kid is already bound to another key. */
  async register(signer: Signer, purpose: KeyPurpose = "token"): Promise<void> {
    await this.control.query(
      "INSERT INTO signing_keys (kid, algorithm, public_jwk, purpose) VALUES ($1, 'EdDSA', $2, $3) ON CONFLICT (kid) DO NOTHING",
      [signer.kid, JSON.stringify(signer.publicJwk), purpose],
    );
    const stored = await this.control.query<{ public_jwk: PublicJwk; purpose: KeyPurpose }>(
      "SELECT public_jwk, purpose FROM signing_keys WHERE kid = $1",
      [signer.kid],
    );
    if (stored[0]?.public_jwk.x !== signer.publicJwk.x || stored[0]?.purpose !== purpose) {
      throw new KeyConflictError(
        `VAULT_KEY_ID: kid "${signer.kid}" is already published with a different public key or purpose; give a new key a new VAULT_KEY_ID`,
      );
    }
    await this.refresh();
  }

  async refresh(): Promise<void> {
    const rows = await this.control.query<StoredKey>(
      "SELECT kid, public_jwk, purpose, created_at, retired_at FROM signing_keys ORDER BY created_at",
    );
    this.stored = rows;
    this.keys = rows.map((r) => r.public_jwk);
    this.tokenKids = new Set(rows.filter((r) => r.purpose === "token").map((r) => r.kid));
    this.lastRefreshMs = this.clock.nowMs();
  }

  /** Published versions of the given keys (for proof bundles, protocol §2.11), refreshing once if one is unknown. */
  async versions(kids: readonly string[]): Promise<StoredKey[]> {
    if (kids.some((kid) => !this.stored.some((k) => k.kid === kid))) await this.refresh();
    return this.stored.filter((k) => kids.includes(k.kid));
  }

  /** Refreshed when older than 30 s, so a key published by another vault process appears here too. */
  async jwks(): Promise<{ keys: PublicJwk[] }> {
    if (this.clock.nowMs() - this.lastRefreshMs > 30_000) await this.refresh();
    return { keys: this.keys.map((k) => ({ kty: k.kty, crv: k.crv, x: k.x, kid: k.kid, use: "sig", alg: "EdDSA" })) };
  }

  /**
   * The token verification key for a kid; an unknown kid triggers at most one refresh per second.
   * Ledger keys are published in the same JWKS but never verify a token.
   */
  async verificationKey(kid: string | undefined): Promise<CryptoKey | Uint8Array | undefined> {
    if (!kid) return undefined;
    let jwk = this.tokenKids.has(kid) ? this.keys.find((k) => k.kid === kid) : undefined;
    if (!jwk && this.clock.nowMs() - this.lastRefreshMs > 1000) {
      await this.refresh();
      jwk = this.tokenKids.has(kid) ? this.keys.find((k) => k.kid === kid) : undefined;
    }
    if (!jwk) return undefined;
    let key = this.imported.get(kid);
    if (!key) {
      key = importJWK({ kty: "OKP", crv: "Ed25519", x: jwk.x }, "EdDSA");
      this.imported.set(kid, key);
    }
    return key;
  }
}
