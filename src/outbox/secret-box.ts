import { LedgerBodyError, openBody, sealBody } from "../ledger/core/body-cipher.js";

/**
 * Webhook signing secrets and Slack webhook URLs are credentials the vault must be able to use, so
 * they cannot be hashed like API keys. With a sealing key (the tenant's bundle's
 * `webhook_sealing_key_base64`, else VAULT_TRANSPORT_KEY_BASE64, which also seals ledger bodies and
 * tenant DSNs: TenantKeys.sealingKeysFor(tenantId, "webhook")) they are sealed with AES-256-GCM (the
 * ledger body cipher); the binding (e.g. `webhook_endpoint:<id>`) is the associated data, so a sealed
 * value copied onto another row does not open. Without a key they are stored as given, like the
 * ledger bodies.
 */
export function sealSecret(plaintext: string, binding: string, sealKey: Buffer | undefined): string {
  return sealBody(plaintext, binding, sealKey);
}

export class SecretUnavailableError extends Error {}

/** `openKeys`: the tenant's current and previous webhook keys, then the vault's, tried in order. */
export function openSecret(stored: string, binding: string, openKeys: readonly Buffer[]): string {
  try {
    return openBody(stored, binding, openKeys);
  } catch (err) {
    if (err instanceof LedgerBodyError) {
      throw new SecretUnavailableError(
        openKeys.length > 0
          ? "a stored webhook credential does not authenticate with the tenant's webhook keys (webhook_sealing_key_base64 and previous_webhook_sealing_keys_base64 in its bundle) nor VAULT_TRANSPORT_KEY_BASE64"
          : "a stored webhook credential is sealed and VAULT_TRANSPORT_KEY_BASE64 is not set",
      );
    }
    throw err;
  }
}

/** Associated data per kind of row, so a sealed value only opens on the row it was sealed for. */
export const endpointBinding = (id: string) => `webhook_endpoint:${id}`;
export const channelBinding = (id: string) => `notification_channel:${id}`;
export const outboxTargetBinding = (deliveryId: string) => `outbox:${deliveryId}`;
