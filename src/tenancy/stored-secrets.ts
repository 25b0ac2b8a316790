import { schemeOf, SecretUnresolvedError, type SecretReference, type SecretsProvider } from "../config/secrets-provider.js";
import { open, seal, SealedBoxError } from "../sealed-box.js";

/**
 * Stored references: what the vault writes into its own databases for a secret it was handed (today a
 * tenant's DSN). With the sealing key, the value is sealed with AES-256-GCM into `sealed:v1:...`, bound
 * to its row (the associated data), so a value copied onto another row does not open. Without the key
 * only a value that holds no password may be stored, as `dsn:<url>`: there is nothing in it to hide.
 * `env:` and `file:` references given by the operator are stored as they are.
 */
const SEALED = "sealed:v1:";

export function sealValue(plaintext: string, binding: string, key: Buffer): SecretReference {
  return SEALED + seal(plaintext, aad(binding), key).toString("base64url");
}

export function openSealed(reference: SecretReference, binding: string, key: Buffer | undefined): string {
  if (!key) throw new SecretUnresolvedError("a sealed secret is stored and VAULT_TRANSPORT_KEY_BASE64 (the sealing key) is not set");
  if (!reference.startsWith(SEALED)) throw new SecretUnresolvedError("a sealed secret is malformed");
  try {
    return open(Buffer.from(reference.slice(SEALED.length), "base64url"), aad(binding), key);
  } catch (err) {
    if (err instanceof SealedBoxError && err.reason === "truncated") throw new SecretUnresolvedError("a sealed secret is malformed");
    throw new SecretUnresolvedError(`a sealed secret of ${binding} does not open (wrong VAULT_TRANSPORT_KEY_BASE64, or moved from another row)`);
  }
}

function aad(binding: string): string {
  return `countersign.secret.v1\0${binding}`;
}

/** True when a PostgreSQL DSN carries a password, in its user info or as a `password` parameter. */
export function dsnHasPassword(dsn: string): boolean {
  try {
    const url = new URL(dsn);
    return url.password !== "" || url.searchParams.has("password");
  } catch {
    // Not a URL (a key=value connection string): assume the worst.
    return true;
  }
}

/**
 * The provider the vault's own stores use: stored forms (`sealed:`, `dsn:`) are opened here, every other
 * reference goes to the configured provider (environment and files today).
 */
export class StoredSecrets implements SecretsProvider {
  readonly #sealingKey: Buffer | undefined;

  constructor(
    private readonly provider: SecretsProvider,
    sealingKey: Buffer | undefined,
  ) {
    this.#sealingKey = sealingKey;
  }

  get canSeal(): boolean {
    return this.#sealingKey !== undefined;
  }

  async resolve(reference: SecretReference, opts: { binding?: string } = {}): Promise<string> {
    const scheme = schemeOf(reference);
    if (scheme === "sealed") {
      if (!opts.binding) throw new SecretUnresolvedError("a sealed secret was resolved without the row it belongs to");
      return openSealed(reference, opts.binding, this.#sealingKey);
    }
    if (scheme === "dsn") return reference.slice(4);
    return this.provider.resolve(reference, opts);
  }

  /**
   * What to store for a value the vault was handed: the operator's own reference as given, else the value
   * sealed for its row, else (no sealing key) `dsn:<value>` when it holds no password. A password with no
   * key to seal it is refused: it would otherwise sit in clear in the control database.
   */
  referenceFor(value: string, binding: string): SecretReference {
    const scheme = schemeOf(value);
    if (scheme === "env" || scheme === "file") return value;
    if (this.#sealingKey) return sealValue(value, binding, this.#sealingKey);
    if (!dsnHasPassword(value)) return `dsn:${value}`;
    throw new SecretUnresolvedError(
      "this DSN holds a password, and without VAULT_TRANSPORT_KEY_BASE64 (the sealing key) it would be stored in clear: " +
        "set the key, or pass the DSN as a reference (env:NAME or file:/path)",
    );
  }

  /** A stored `dsn:` reference that holds a password and can now be sealed (rows written before sealing). */
  needsSealing(reference: SecretReference): boolean {
    return this.canSeal && schemeOf(reference) === "dsn" && dsnHasPassword(reference.slice(4));
  }
}

