import { ConfigError } from "./config-error.js";
import type { RawEnv } from "./env-schema.js";

/**
 * The WebAuthn relying party of passkey-signed approvals (src/passkeys/, docs/passkeys.md). What is
 * configured is kept apart from what is derived: the public URL's port is only known once the vault
 * listens (VAULT_PORT=0), so the defaults are resolved by `resolveWebauthn` when the services are built.
 */
export interface WebauthnConfig {
  /** VAULT_WEBAUTHN_RP_ID; undefined: the public URL's host name. */
  rpId?: string;
  /** VAULT_WEBAUTHN_ORIGINS; undefined: the public URL's origin. */
  origins?: string[];
  rpName: string;
}

/** The relying party as assertions are checked against it. */
export interface WebauthnSettings {
  rpId: string;
  origins: string[];
  rpName: string;
}

export function webauthnConfig(e: RawEnv): WebauthnConfig {
  const origins = e.VAULT_WEBAUTHN_ORIGINS?.split(",").map((o) => o.trim()).filter((o) => o !== "").map(origin);
  if (origins && e.VAULT_WEBAUTHN_RP_ID) {
    for (const o of origins) {
      if (!withinRpId(new URL(o).hostname, e.VAULT_WEBAUTHN_RP_ID)) {
        throw new ConfigError(`Invalid configuration:\n  VAULT_WEBAUTHN_ORIGINS: ${o} is not on VAULT_WEBAUTHN_RP_ID ${e.VAULT_WEBAUTHN_RP_ID} or a subdomain of it (WebAuthn refuses such an origin)`);
      }
    }
  }
  return { rpId: e.VAULT_WEBAUTHN_RP_ID, origins: origins?.length ? origins : undefined, rpName: e.VAULT_WEBAUTHN_RP_NAME };
}

/** The settings in force: the configured values, else those of the vault's public URL. */
export function resolveWebauthn(config: WebauthnConfig, publicUrl: string): WebauthnSettings {
  const url = new URL(publicUrl);
  return {
    rpId: config.rpId ?? url.hostname.replace(/^\[|\]$/g, ""),
    origins: config.origins ?? [url.origin],
    rpName: config.rpName,
  };
}

/** An origin as browsers write it in clientDataJSON: scheme, host and port only. */
function origin(text: string): string {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new ConfigError(`Invalid configuration:\n  VAULT_WEBAUTHN_ORIGINS: ${text} is not a URL (write origins such as https://vault.example.com)`);
  }
  if ((url.protocol !== "https:" && url.protocol !== "http:") || url.pathname !== "/" || url.search || url.hash || url.username) {
    throw new ConfigError(`Invalid configuration:\n  VAULT_WEBAUTHN_ORIGINS: ${text} must be an http(s) origin with no path, query or credentials`);
  }
  return url.origin;
}

/** WebAuthn §5.1.3 / §7.2 step 9 context: the RP ID is the origin's host or a registrable suffix of it. */
function withinRpId(host: string, rpId: string): boolean {
  return host === rpId || host.endsWith(`.${rpId}`);
}
