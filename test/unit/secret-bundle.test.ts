import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/config-error.js";
import { applySecretBundle } from "../../src/config/secret-bundle.js";
import { startSecretsManagerStandIn, type SecretsManagerStandIn } from "../helpers/secrets-manager-stand-in.js";
import { failure } from "../helpers/rejection.js";

const run = promisify(execFile);


let sm: SecretsManagerStandIn;
beforeAll(async () => {
  sm = await startSecretsManagerStandIn();
});
afterAll(async () => {
  await sm?.close();
});

describe("applySecretBundle (AWS_SECRET_NAME)", () => {
  it("merges the bundle over the environment: the bundle wins, numbers and booleans become text", async () => {
    sm.put("vault/prod", { DATABASE_URL: "postgres://from-bundle/db", VAULT_PORT: 8123, VAULT_PRINT_BOOTSTRAP_KEY: false, LLM_API_KEY: "sk-bundle" });
    const env = { ...sm.env, AWS_SECRET_NAME: "vault/prod", DATABASE_URL: "postgres://from-env/db", LOG_LEVEL: "info" };
    const merged = await applySecretBundle(env);
    expect(merged).toEqual({ ...env, DATABASE_URL: "postgres://from-bundle/db", VAULT_PORT: "8123", VAULT_PRINT_BOOTSTRAP_KEY: "false", LLM_API_KEY: "sk-bundle" });
    expect(env.DATABASE_URL).toBe("postgres://from-env/db");
    expect(sm.server.calls.at(-1)).toBe("secretsmanager.GetSecretValue");
  });

  it("without AWS_SECRET_NAME returns the environment as it is and calls nothing", async () => {
    const before = sm.server.calls.length;
    const env = { ...sm.env, DATABASE_URL: "postgres://x/y", AWS_SECRET_NAME: "  " };
    expect(await applySecretBundle(env)).toBe(env);
    expect(sm.server.calls.length).toBe(before);
  });

  it("a missing secret, bad JSON or a non-object is a ConfigError naming AWS_SECRET_NAME and the endpoint, never the text", async () => {
    const env = (name: string) => ({ ...sm.env, AWS_SECRET_NAME: name });
    const missing = await failure(applySecretBundle(env("vault/none")));
    expect(missing).toBeInstanceOf(ConfigError);
    expect(missing.message).toContain("AWS_SECRET_NAME");
    expect(missing.message).toContain(`"vault/none" at ${sm.url}`);
    expect(missing.message).toContain("does not exist");

    sm.put("vault/broken", '{"DATABASE_URL": "postgres://u:hunter2@h/db",');
    const broken = await failure(applySecretBundle(env("vault/broken")));
    expect(broken).toBeInstanceOf(ConfigError);
    expect(broken.message).toMatch(/AWS_SECRET_NAME: secret "vault\/broken" at http:\/\/127\.0\.0\.1:\d+ .*not valid JSON/);
    expect(broken.message).not.toContain("hunter2");

    for (const text of ['["a"]', '"hunter2"', "null", "42"]) {
      sm.put("vault/shape", text);
      const err = await failure(applySecretBundle(env("vault/shape")));
      expect(err).toBeInstanceOf(ConfigError);
      expect(err.message).toContain("is not a JSON object");
      expect(err.message).not.toContain("hunter2");
    }
  });

  it("a value that is not a string, number or boolean names its key, not the value", async () => {
    sm.put("vault/nested", { LLM_API_KEY: "fine", SMTP_PASSWORD: { nested: "hunter2" } });
    const err = await failure(applySecretBundle({ ...sm.env, AWS_SECRET_NAME: "vault/nested" }));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/AWS_SECRET_NAME: .*has a value for SMTP_PASSWORD that is not a string, number or boolean/);
    expect(err.message).not.toContain("hunter2");
    sm.put("vault/null", { SMTP_PASSWORD: null });
    expect((await failure(applySecretBundle({ ...sm.env, AWS_SECRET_NAME: "vault/null" }))).message).toContain("SMTP_PASSWORD");
  });

  it("an unreachable or silent service fails within a bounded time, naming the variable and the endpoint", async () => {
    const closed = await startSecretsManagerStandIn();
    await closed.close();
    const started = Date.now();
    const unreachable = await failure(applySecretBundle({ ...closed.env, AWS_SECRET_NAME: "vault/prod" }));
    expect(unreachable).toBeInstanceOf(ConfigError);
    expect(unreachable.message).toContain(`AWS_SECRET_NAME: secret "vault/prod" at ${closed.url}`);
    expect(unreachable.message).toContain("unreachable");

    sm.put("vault/slow", { A: "b" });
    sm.server.latencyMs = 5000;
    try {
      const slow = await failure(applySecretBundle({ ...sm.env, AWS_SECRET_NAME: "vault/slow" }, { timeoutMs: 300 }));
      expect(slow).toBeInstanceOf(ConfigError);
      expect(slow.message).toContain("could not be read in time");
    } finally {
      sm.server.latencyMs = 0;
    }
    expect(Date.now() - started).toBeLessThan(4000);
  });
});

describe("countersign CLI with AWS_SECRET_NAME", () => {
  const cliEnv = (extra: Record<string, string>) => {
    const env: Record<string, string | undefined> = { ...process.env, ...sm.env, LOG_LEVEL: "silent", ...extra };
    delete env.DATABASE_URL;
    delete env.VAULT_DATA_DIR;
    return env as NodeJS.ProcessEnv;
  };

  it("reads its configuration from the merged bundle", async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "cs-bundle-cli-"));
    try {
      sm.put("vault/cli", { VAULT_DATA_DIR: dataDir });
      const { stdout } = await run("node", ["--import", "tsx", "src/main/cli.ts", "tenants", "list", "--json"], { env: cliEnv({ AWS_SECRET_NAME: "vault/cli" }) });
      expect(JSON.parse(stdout)).toEqual({ tenants: [] });
      // The data directory came from the bundle only: the control database was made there.
      expect(existsSync(path.join(dataDir, "control"))).toBe(true);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it("exits 1 with a message naming AWS_SECRET_NAME and the endpoint when the bundle cannot be read", async () => {
    for (const command of [["tenants", "list"], ["serve"]]) {
      const err = await run("node", ["--import", "tsx", "src/main/cli.ts", ...command], { env: cliEnv({ AWS_SECRET_NAME: "vault/absent", VAULT_PORT: "0" }) }).then(
        () => undefined,
        (e: { code: number; stderr: string }) => e,
      );
      expect(err?.code).toBe(1);
      expect(err?.stderr).toContain(`AWS_SECRET_NAME: secret "vault/absent" at ${sm.url} cannot be used: does not exist`);
      expect(err?.stderr).not.toMatch(/\n\s+at /);
    }
  });
});
