import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/config.js";
import { resolveWebauthn } from "../../src/config/webauthn-config.js";

/** VAULT_WEBAUTHN_* (docs/passkeys.md#configuration): defaults follow the public URL; a bad pairing stops start-up. */
const load = (env: Record<string, string>) => loadConfig({ DATABASE_URL: "memory://", ...env });

describe("the WebAuthn relying party settings", () => {
  it("default to the public URL's host and origin, resolved once the port is known", () => {
    const config = load({ VAULT_PUBLIC_URL: "https://vault.example.com" });
    expect(config.webauthn).toEqual({ rpId: undefined, origins: undefined, rpName: "Countersign" });
    expect(resolveWebauthn(config.webauthn, config.http.publicUrl)).toEqual({ rpId: "vault.example.com", origins: ["https://vault.example.com"], rpName: "Countersign" });
    expect(resolveWebauthn(config.webauthn, "http://localhost:41234")).toEqual({ rpId: "localhost", origins: ["http://localhost:41234"], rpName: "Countersign" });
  });

  it("take an RP ID, origins on it or under it, and a name", () => {
    const config = load({ VAULT_WEBAUTHN_RP_ID: "Example.com", VAULT_WEBAUTHN_ORIGINS: "https://vault.example.com, https://example.com:8443", VAULT_WEBAUTHN_RP_NAME: "Acme vault" });
    expect(resolveWebauthn(config.webauthn, "http://127.0.0.1:1")).toEqual({ rpId: "example.com", origins: ["https://vault.example.com", "https://example.com:8443"], rpName: "Acme vault" });
  });

  it("refuse an origin off the RP ID, an origin with a path, and an RP ID that is not a domain", () => {
    expect(() => load({ VAULT_WEBAUTHN_RP_ID: "example.com", VAULT_WEBAUTHN_ORIGINS: "https://example.com.evil.net" })).toThrow(ConfigError);
    expect(() => load({ VAULT_WEBAUTHN_RP_ID: "example.com", VAULT_WEBAUTHN_ORIGINS: "https://notexample.com" })).toThrow(/not on VAULT_WEBAUTHN_RP_ID/);
    expect(() => load({ VAULT_WEBAUTHN_ORIGINS: "https://vault.example.com/console" })).toThrow(/no path/);
    expect(() => load({ VAULT_WEBAUTHN_ORIGINS: "vault.example.com" })).toThrow(/not a URL/);
    expect(() => load({ VAULT_WEBAUTHN_RP_ID: "https://example.com" })).toThrow(/VAULT_WEBAUTHN_RP_ID/);
  });
});
