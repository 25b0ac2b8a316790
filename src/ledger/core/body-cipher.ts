import { open, seal, SealedBoxError } from "../../sealed-box.js";

/**
 * Ledger entry bodies at rest: JSON text, or AES-256-GCM under VAULT_TRANSPORT_KEY_BASE64. The event
 * hash commits to the plaintext, so proofs verify whichever form is stored. The associated data
 * binds each ciphertext to its event, so a body cannot be moved onto another row unnoticed.
 */
const PREFIX = "aes256gcm:v1:";

export class LedgerBodyError extends Error {}

export function sealBody(plaintext: string, eventUuid: string, key: Buffer | undefined): string {
  if (!key) return plaintext;
  return PREFIX + seal(plaintext, aad(eventUuid), key).toString("base64");
}

export function isSealed(stored: string): boolean {
  return stored.startsWith(PREFIX);
}

/**
 * The plaintext JSON; throws LedgerBodyError when no key is given or the ciphertext was altered.
 * `keys`: every key the body may be sealed with (a tenant's current and previous keys, the vault's),
 * tried in order; GCM authentication tells a wrong key, so a key that opens it is the right one.
 */
export function openBody(stored: string, eventUuid: string, keys: Buffer | readonly Buffer[] | undefined): string {
  if (!isSealed(stored)) return stored;
  const candidates = keys === undefined ? [] : Buffer.isBuffer(keys) ? [keys] : keys;
  if (candidates.length === 0) throw new LedgerBodyError("this ledger entry is encrypted and VAULT_TRANSPORT_KEY_BASE64 is not set");
  const sealed = Buffer.from(stored.slice(PREFIX.length), "base64");
  for (const key of candidates) {
    try {
      return open(sealed, aad(eventUuid), key);
    } catch (err) {
      if (!(err instanceof SealedBoxError)) throw err;
      if (err.reason === "truncated") throw new LedgerBodyError("encrypted ledger body is truncated");
    }
  }
  throw new LedgerBodyError(
    candidates.length === 1
      ? "encrypted ledger body does not authenticate (wrong key or altered ciphertext)"
      : `encrypted ledger body does not authenticate with any of the ${candidates.length} keys tried (wrong keys or altered ciphertext)`,
  );
}

function aad(eventUuid: string): string {
  return `countersign.ledger.body.v1\0${eventUuid}`;
}
