import { createCipheriv, createDecipheriv, randomBytes } from "node:crypto";

/**
 * AES-256-GCM under the vault's sealing key (VAULT_TRANSPORT_KEY_BASE64), bound to associated data,
 * for everything the vault keeps sealed at rest: ledger bodies (ledger/core/body-cipher.ts), webhook
 * and Slack credentials (through it), and tenant DSNs (tenancy/stored-secrets.ts). Each caller keeps
 * its own stored form (prefix, text encoding) and associated-data domain; the layout of the sealed
 * bytes is the same for all: 12-byte IV, ciphertext, 16-byte tag.
 */
const IV_BYTES = 12;
const TAG_BYTES = 16;

/** Raised when sealed bytes are truncated, altered, or sealed under another key or binding. */
export class SealedBoxError extends Error {
  constructor(readonly reason: "truncated" | "unauthenticated") {
    super(reason === "truncated" ? "sealed value is truncated" : "sealed value does not authenticate");
  }
}

export function seal(plaintext: string, associatedData: string, key: Buffer): Buffer {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv("aes-256-gcm", key, iv);
  cipher.setAAD(Buffer.from(associatedData, "utf8"));
  const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
  return Buffer.concat([iv, body, cipher.getAuthTag()]);
}

export function open(sealed: Buffer, associatedData: string, key: Buffer): string {
  if (sealed.length < IV_BYTES + TAG_BYTES) throw new SealedBoxError("truncated");
  try {
    const decipher = createDecipheriv("aes-256-gcm", key, sealed.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(associatedData, "utf8"));
    decipher.setAuthTag(sealed.subarray(sealed.length - TAG_BYTES));
    return Buffer.concat([decipher.update(sealed.subarray(IV_BYTES, sealed.length - TAG_BYTES)), decipher.final()]).toString("utf8");
  } catch {
    throw new SealedBoxError("unauthenticated");
  }
}
