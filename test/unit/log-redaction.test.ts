import { afterEach, describe, expect, it, vi } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import { createLogger } from "../../src/log.js";

/** Every credential field of Secrets (src/config/secrets.ts) is censored, wherever it sits in a log line. */
describe("log redaction", () => {
  afterEach(() => vi.restoreAllMocks());

  it("censors secret fields and tokens in logged objects", () => {
    const lines: string[] = [];
    // Captures the real logger's output at the process boundary; no module of ours is replaced.
    vi.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    const log = createLogger(loadConfig({ LOG_LEVEL: "info", DATABASE_URL: "memory://" }));
    const secret = "s3cr3t-value-that-must-not-appear";
    log.info(
      {
        deps: {
          smtpPassword: secret,
          sealingKey: secret,
          signingKey: { text: secret, source: "VAULT_PRIVATE_KEY_BASE64" },
          llmApiKey: secret,
          embeddingApiKey: secret,
          judgeApiKey: secret,
          judgeServiceApiKey: secret,
          bootstrapApiKey: secret,
          password: secret,
          token: secret,
        },
        ctx: { secrets: { anything: secret } },
      },
      "a line with secrets",
    );
    const out = lines.join("");
    expect(out).toContain("a line with secrets");
    expect(out).toContain("[redacted]");
    expect(out).not.toContain(secret);
  });
});
