import { randomBytes } from "node:crypto";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/config.js";
import { dsnHasPassword, StoredSecrets } from "../../src/tenancy/stored-secrets.js";
import { adminSecretNames, loadSecrets } from "../../src/config/secrets.js";
import { EnvSecretsProvider, SecretUnresolvedError } from "../../src/config/secrets-provider.js";
import { failure } from "../helpers/rejection.js";

const tmp = mkdtempSync(path.join(os.tmpdir(), "cs-secrets-"));
const secretFile = (name: string, text: string) => {
  const file = path.join(tmp, name);
  writeFileSync(file, text);
  return file;
};


describe("EnvSecretsProvider", () => {
  const provider = new EnvSecretsProvider({ LLM_API_KEY: "sk-live-123", BLANK: "  " });

  it("resolves env: and file: references; a secret file's trailing newline is not part of it", async () => {
    expect(await provider.resolve("env:LLM_API_KEY")).toBe("sk-live-123");
    expect(await provider.resolve(`file:${secretFile("key.txt", "from-file\n")}`)).toBe("from-file");
  });

  it("says which reference is missing, and never what another reference holds", async () => {
    const missing = await failure(provider.resolve("env:SMTP_PASSWORD"));
    expect(missing).toBeInstanceOf(SecretUnresolvedError);
    expect(missing.message).toBe("environment variable SMTP_PASSWORD is not set");
    expect((await failure(provider.resolve("env:BLANK"))).message).toMatch(/BLANK is not set/);
    const file = path.join(tmp, "nope.txt");
    expect((await failure(provider.resolve(`file:${file}`))).message).toBe(`cannot read secret file ${file} (ENOENT)`);
    // An unknown scheme's rest may be a credential: only the scheme is named.
    const unknown = await failure(provider.resolve("postgres://admin:hunter2@db/x"));
    expect(unknown.message).toMatch(/^a postgres: reference cannot be resolved here/);
    expect(unknown.message).not.toMatch(/hunter2/);
  });

  it("shows no value when the provider (it sits in Config) is printed", () => {
    expect(JSON.stringify(provider)).not.toMatch(/sk-live-123/);
  });
});

describe("loadSecrets", () => {
  const sealing = randomBytes(32);
  const env = {
    VAULT_PRIVATE_KEY_BASE64: "c2lnbmluZy1rZXk=",
    VAULT_TRANSPORT_KEY_BASE64: sealing.toString("base64"),
    EVAL_MODEL: "openai/m",
    LLM_BASE_URL: "http://llm:4000/v1",
    LLM_API_KEY: "llm-secret",
    VAULT_JUDGE_URL: "http://judge:8001",
    VAULT_JUDGE_API_KEY: "judge-secret",
    JUDGE_API_KEY: "judge-service-secret",
    SMTP_HOST: "smtp.example",
    SMTP_FROM: "vault@example.com",
    SMTP_USER: "vault",
    SMTP_PASSWORD: "smtp-secret",
    VAULT_BOOTSTRAP_API_KEY: "csk_bootstrap_secret",
  };
  const values = ["c2lnbmluZy1rZXk=", sealing.toString("base64"), "llm-secret", "judge-secret", "judge-service-secret", "smtp-secret", "csk_bootstrap_secret"];

  it("resolves every credential into Secrets, and Config holds none of them", async () => {
    const config = loadConfig(env);
    const printed = JSON.stringify(config);
    for (const v of values) expect(printed).not.toContain(v);
    expect(config.secretRefs).toMatchObject({ sealingKey: "env:VAULT_TRANSPORT_KEY_BASE64", smtpPassword: "env:SMTP_PASSWORD" });
    const secrets = await loadSecrets(config.secretRefs, config.secretsProvider);
    expect(secrets).toEqual({
      signingKey: { text: "c2lnbmluZy1rZXk=", source: "VAULT_PRIVATE_KEY_BASE64" },
      sealingKey: sealing,
      llmApiKey: "llm-secret",
      embeddingApiKey: "llm-secret",
      judgeApiKey: "judge-secret",
      judgeServiceApiKey: "judge-service-secret",
      smtpPassword: "smtp-secret",
      bootstrapApiKey: "csk_bootstrap_secret",
    });
  });

  it("resolves only what it is asked for: the admin commands never read the signing key", async () => {
    const config = loadConfig({ ...env, VAULT_PRIVATE_KEY_BASE64: "", VAULT_PRIVATE_KEY_FILE: path.join(tmp, "missing.pem") });
    const admin = await loadSecrets(config.secretRefs, config.secretsProvider, adminSecretNames);
    expect(admin.signingKey).toBeUndefined();
    expect(admin.sealingKey).toEqual(sealing);
    const err = await failure(loadSecrets(config.secretRefs, config.secretsProvider, ["signingKey"]));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toMatch(/VAULT_PRIVATE_KEY_FILE: cannot read secret file .*missing\.pem \(ENOENT\)/);
  });

  it("loads in parts that merge without blanking each other out (as serve adds the signing key)", async () => {
    const config = loadConfig(env);
    const admin = await loadSecrets(config.secretRefs, config.secretsProvider, adminSecretNames);
    const merged = { ...admin, ...(await loadSecrets(config.secretRefs, config.secretsProvider, ["signingKey"])) };
    expect(merged).toEqual(await loadSecrets(config.secretRefs, config.secretsProvider));
  });

  it("reads the signing key from VAULT_PRIVATE_KEY_FILE", async () => {
    const file = secretFile("key.pem", "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----\n");
    const config = loadConfig({ VAULT_PRIVATE_KEY_FILE: file });
    expect(config.secretRefs.signingKey).toBe(`file:${file}`);
    expect((await loadSecrets(config.secretRefs, config.secretsProvider)).signingKey).toEqual({
      text: "-----BEGIN PRIVATE KEY-----\nabc\n-----END PRIVATE KEY-----",
      source: "VAULT_PRIVATE_KEY_FILE",
    });
  });

  it("refuses a sealing key of the wrong size, naming the variable and not the value", async () => {
    const short = randomBytes(16).toString("base64");
    const config = loadConfig({ VAULT_TRANSPORT_KEY_BASE64: short });
    const err = await failure(loadSecrets(config.secretRefs, config.secretsProvider));
    expect(err).toBeInstanceOf(ConfigError);
    expect(err.message).toBe("Invalid configuration:\n  VAULT_TRANSPORT_KEY_BASE64: must be base64 of exactly 32 bytes (got 16)");
    expect(err.message).not.toContain(short);
  });

  it("names the variable of a secret a provider cannot find, without any value", async () => {
    const config = loadConfig({ SMTP_HOST: "smtp.example", SMTP_FROM: "a@b.c", SMTP_USER: "u", SMTP_PASSWORD: "pw-in-env" });
    const empty = new EnvSecretsProvider({});
    const err = await failure(loadSecrets(config.secretRefs, empty));
    expect(err.message).toBe("Invalid configuration:\n  SMTP_PASSWORD: environment variable SMTP_PASSWORD is not set");
  });

  it("leaves unconfigured secrets out", async () => {
    const config = loadConfig({});
    expect(config.secretRefs).toEqual({});
    expect(await loadSecrets(config.secretRefs, config.secretsProvider)).toEqual({});
  });
});

describe("StoredSecrets (tenant DSNs in the control database)", () => {
  const key = randomBytes(32);
  const dsn = "postgres://app:s3cr3t-pw@db.internal:5432/tenant_a";
  const base = new EnvSecretsProvider({ TENANT_A_DSN: dsn });

  it("seals a DSN for its row: the reference holds neither the DSN nor the password, and opens only there", async () => {
    const stored = new StoredSecrets(base, key);
    const ref = stored.referenceFor(dsn, "tenant_database:t_a");
    expect(ref).toMatch(/^sealed:v1:[A-Za-z0-9_-]+$/);
    expect(ref).not.toContain("s3cr3t-pw");
    expect(ref).not.toContain("db.internal");
    expect(await stored.resolve(ref, { binding: "tenant_database:t_a" })).toBe(dsn);
    const moved = await failure(stored.resolve(ref, { binding: "tenant_database:t_b" }));
    expect(moved.message).toMatch(/does not open/);
    expect(moved.message).not.toContain("s3cr3t-pw");
    const otherKey = await failure(new StoredSecrets(base, randomBytes(32)).resolve(ref, { binding: "tenant_database:t_a" }));
    expect(otherKey).toBeInstanceOf(SecretUnresolvedError);
    const noKey = await failure(new StoredSecrets(base, undefined).resolve(ref, { binding: "tenant_database:t_a" }));
    expect(noKey.message).toMatch(/VAULT_TRANSPORT_KEY_BASE64 \(the sealing key\) is not set/);
  });

  it("keeps the operator's env:/file: reference as given and resolves it through the provider", async () => {
    const stored = new StoredSecrets(base, key);
    expect(stored.referenceFor("env:TENANT_A_DSN", "tenant_database:t_a")).toBe("env:TENANT_A_DSN");
    expect(await stored.resolve("env:TENANT_A_DSN")).toBe(dsn);
  });

  it("without a sealing key, stores a password-free DSN as dsn: and refuses one with a password", async () => {
    const stored = new StoredSecrets(base, undefined);
    const plain = "postgres://app@db.internal:5432/tenant_a";
    expect(stored.referenceFor(plain, "tenant_database:t_a")).toBe(`dsn:${plain}`);
    expect(await stored.resolve(`dsn:${plain}`)).toBe(plain);
    let refused: Error | undefined;
    try {
      stored.referenceFor(dsn, "tenant_database:t_a");
    } catch (err) {
      refused = err as Error;
    }
    expect(refused).toBeInstanceOf(SecretUnresolvedError);
    expect(refused!.message).toMatch(/holds a password/);
    expect(refused!.message).not.toContain("s3cr3t-pw");
    expect(() => stored.referenceFor("postgres://app@db/x?password=pw2", "b")).toThrow(SecretUnresolvedError);
  });

  it("marks dsn: references that hold a password for sealing once a key is there", () => {
    expect(new StoredSecrets(base, key).needsSealing(`dsn:${dsn}`)).toBe(true);
    expect(new StoredSecrets(base, undefined).needsSealing(`dsn:${dsn}`)).toBe(false);
    expect(new StoredSecrets(base, key).needsSealing("dsn:postgres://app@db/x")).toBe(false);
    expect(dsnHasPassword("host=db password=x")).toBe(true);
  });

  it("refuses to open a sealed reference without knowing its row", async () => {
    const stored = new StoredSecrets(base, key);
    const ref = stored.referenceFor(dsn, "tenant_database:t_a");
    expect((await failure(stored.resolve(ref))).message).toMatch(/without the row/);
  });
});
