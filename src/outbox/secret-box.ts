import { LedgerBodyError, openBody, sealBody } from "../ledger/core/body-cipher.js";

/**
 * Webhook signing secrets and Slack webhook URLs are credentials the vault must be able to use, so
 * they cannot be hashed like API keys. With the sealing key set (VAULT_TRANSPORT_KEY_BASE64, which
 * also seals ledger bodies and tenant DSNs) they are sealed with AES-256-GCM (the ledger body cipher);
 * the binding (e.g. `webhook_endpoint:<id>`) is the associated data, so a sealed value copied onto
 * another row does not open. Without the key they are stored as given, like the ledger bodies.
 */
export function sealSecret(plaintext: string, binding: string, sealingKey: Buffer | undefined): string {
  return sealBody(plaintext, binding, sealingKey);
}

export class SecretUnavailableError extends Error {}

export function openSecret(stored: string, binding: string, sealingKey: Buffer | undefined): string {
  try {
    return openBody(stored, binding, sealingKey);
  } catch (err) {
    if (err instanceof LedgerBodyError) {
      throw new SecretUnavailableError(
        sealingKey ? "a stored webhook credential does not authenticate (wrong VAULT_TRANSPORT_KEY_BASE64?)" : "a stored webhook credential is sealed and VAULT_TRANSPORT_KEY_BASE64 is not set",
      );
    }
    throw err;
  }
}

/** Associated data per kind of row, so a sealed value only opens on the row it was sealed for. */
export const endpointBinding = (id: string) => `webhook_endpoint:${id}`;
export const channelBinding = (id: string) => `notification_channel:${id}`;
export const outboxTargetBinding = (deliveryId: string) => `outbox:${deliveryId}`;
