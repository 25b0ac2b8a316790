import { describe, expect, it } from "vitest";
import { derivedPublicUrl, loadConfig } from "../../src/config/config.js";

/** VAULT_PUBLIC_URL's default, which the StepAuth metadata publishes as its host (docs/stepauth.md). */
describe("the vault's derived public URL", () => {
  it("is a URL a client can dial: wildcards become localhost, IPv6 literals are bracketed", () => {
    expect(derivedPublicUrl("0.0.0.0", 8000)).toBe("http://localhost:8000");
    expect(derivedPublicUrl("::", 8000)).toBe("http://localhost:8000");
    expect(derivedPublicUrl("[::]", 8000)).toBe("http://localhost:8000");
    expect(derivedPublicUrl("::1", 8443)).toBe("http://[::1]:8443");
    expect(derivedPublicUrl("127.0.0.1", 1234)).toBe("http://127.0.0.1:1234");
    for (const host of ["0.0.0.0", "::", "::1", "vault.internal"]) expect(() => new URL(derivedPublicUrl(host, 8000))).not.toThrow();
  });

  it("is VAULT_PUBLIC_URL when set, without a trailing slash", () => {
    const config = loadConfig({ VAULT_PUBLIC_URL: "https://vault.example.com/", VAULT_HOST: "::", DATABASE_URL: "memory://" });
    expect(config.http).toMatchObject({ publicUrl: "https://vault.example.com", publicUrlSet: true });
    expect(loadConfig({ VAULT_HOST: "::", VAULT_PORT: "9000", DATABASE_URL: "memory://" }).http.publicUrl).toBe("http://localhost:9000");
  });
});
