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

/** The plaintext JSON; throws LedgerBodyError when the key is missing or the ciphertext was altered. */
export function openBody(stored: string, eventUuid: string, key: Buffer | undefined): string {
  if (!isSealed(stored)) return stored;
  if (!key) throw new LedgerBodyError("this ledger entry is encrypted and VAULT_TRANSPORT_KEY_BASE64 is not set");
  try {
    return open(Buffer.from(stored.slice(PREFIX.length), "base64"), aad(eventUuid), key);
  } catch (err) {
    if (!(err instanceof SealedBoxError)) throw err;
    throw new LedgerBodyError(err.reason === "truncated" ? "encrypted ledger body is truncated" : "encrypted ledger body does not authenticate (wrong key or altered ciphertext)");
  }
}

function aad(eventUuid: string): string {
  return `countersign.ledger.body.v1\0${eventUuid}`;
}
