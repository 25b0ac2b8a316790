import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

/**
 * Ledger entry bodies at rest: JSON text, or AES-256-GCM under VAULT_TRANSPORT_KEY_BASE64. The event
 * hash commits to the plaintext, so proofs verify whichever form is stored. The associated data
 * binds each ciphertext to its event, so a body cannot be moved onto another row unnoticed.
 */
const PREFIX = "aes256gcm:v1:";
const IV_BYTES = 12;
const TAG_BYTES = 16;

export class LedgerBodyError extends Error {}

export function sealBody(plaintext: string, eventUuid: string, key: Buffer | undefined): string {
  if (!key) return plaintext;
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(aad(eventUuid));
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return PREFIX + Buffer.concat([iv, body, cipher.getAuthTag()]).toString("base64");
}

export function isSealed(stored: string): boolean {
  return stored.startsWith(PREFIX);
}

/** The plaintext JSON; throws LedgerBodyError when the key is missing or the ciphertext was altered. */
export function openBody(stored: string, eventUuid: string, key: Buffer | undefined): string {
  if (!isSealed(stored)) return stored;
  if (!key) throw new LedgerBodyError("this ledger entry is encrypted and VAULT_TRANSPORT_KEY_BASE64 is not set");
  const raw = Buffer.from(stored.slice(PREFIX.length), "base64");
  if (raw.length < IV_BYTES + TAG_BYTES) throw new LedgerBodyError("encrypted ledger body is truncated");
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, raw.subarray(0, IV_BYTES));
    decipher.setAAD(aad(eventUuid));
    decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
    return Buffer.concat([decipher.update(raw.subarray(IV_BYTES, raw.length - TAG_BYTES)), decipher.final()]).toString("utf8");
  } catch {
    throw new LedgerBodyError("encrypted ledger body does not authenticate (wrong key or altered ciphertext)");
  }
}

function aad(eventUuid: string): Buffer {
  return Buffer.from(`countersign.ledger.body.v1\0${eventUuid}`, "utf8");
}
