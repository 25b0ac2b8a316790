import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AwsSettings } from "../../src/config/aws.js";
import { secretsManagerClient } from "../../src/config/secret-bundle.js";
import { AppError } from "../../src/errors.js";
import { TenantSecrets, TenantSecretsUnavailableError } from "../../src/tenancy/tenant-secrets.js";
import { startSecretsManagerStandIn, type SecretsManagerStandIn } from "../helpers/secrets-manager-stand-in.js";
import { failure } from "../helpers/rejection.js";
import { SecretsManagerProvider } from "../../src/config/secrets-manager-provider.js";
import { describeReference, SecretUnresolvedError } from "../../src/config/secrets-provider.js";


let sm: SecretsManagerStandIn;
let clock = 0;
let secrets: TenantSecrets;
const key = () => randomBytes(32).toString("base64");
const reads = () => sm.server.calls.filter((c) => c === "secretsmanager.GetSecretValue").length;

beforeAll(async () => {
  sm = await startSecretsManagerStandIn();
  secrets = new TenantSecrets(new SecretsManagerProvider(secretsManagerClient(new AwsSettings(sm.env))), { prefix: "cs/tenants", cacheTtlMs: 1000, now: () => clock });
});
afterAll(async () => {
  secrets?.close();
  await sm?.close();
});

describe("TenantSecrets", () => {
  it("parses every documented field; keys are 32-byte buffers", async () => {
    const ledger = key();
    sm.put("cs/tenants/t_full", {
      database_url: "postgres://acme:pw@db.internal:5432/acme",
      ledger_transport_key_base64: ledger,
      webhook_sealing_key_base64: key(),
      llm_api_key: "sk-llm",
      embedding_api_key: "sk-emb",
    });
    expect(secrets.defaultSecretName("t_full")).toBe("cs/tenants/t_full");
    const b = await secrets.bundle("t_full", "cs/tenants/t_full");
    expect(b.database).toEqual({ url: "postgres://acme:pw@db.internal:5432/acme" });
    expect(b.ledgerTransportKey).toEqual(Buffer.from(ledger, "base64"));
    expect(b.webhookSealingKey?.length).toBe(32);
    expect(b).toMatchObject({ llmApiKey: "sk-llm", embeddingApiKey: "sk-emb" });
  });

  it("puts database_password (and database_user) into the vault's own DSN for the tenant", async () => {
    sm.put("own", { database_user: "tenant_role", database_password: "p@ss/word" });
    const { dsn, own } = await secrets.databaseDsn("t_own", "own", "postgres://postgres@127.0.0.1:5432/cs_t_own");
    expect(own).toBe(true);
    const u = new URL(dsn);
    expect([decodeURIComponent(u.username), decodeURIComponent(u.password), u.pathname]).toEqual(["tenant_role", "p@ss/word", "/cs_t_own"]);
    const embedded = await failure(secrets.databaseDsn("t_own", "own", undefined));
    expect(embedded.message).toContain("database_password needs the vault on PostgreSQL");
  });

  it("refuses unknown fields, wrong keys and two database answers, naming fields and never values", async () => {
    const cases: [object, RegExp][] = [
      [{ database_url: "postgres://h/db", databse_password: "hunter2" }, /unknown field\(s\) databse_password/],
      [{ ledger_transport_key_base64: Buffer.from("hunter2").toString("base64") }, /ledger_transport_key_base64: must be base64 of exactly 32 bytes/],
      [{ database_url: "postgres://u:hunter2@h/db", database_password: "hunter2" }, /database_url excludes database_password/],
      [{ database_url: "mysql://u:hunter2@h/db" }, /database_url: must be a postgres/],
      [{ llm_api_key: 42 }, /llm_api_key: Invalid input/],
    ];
    for (const [value, message] of cases) {
      sm.put("bad", value);
      clock += 10_000;
      const err = await failure(secrets.bundle("t_bad", "bad"));
      expect(err).toBeInstanceOf(TenantSecretsUnavailableError);
      expect(err).toBeInstanceOf(AppError);
      expect((err as AppError).status).toBe(503);
      expect(err.message).toMatch(/tenant t_bad \(secret "bad"\)/);
      expect(err.message).toMatch(message);
      expect(err.message).not.toContain("hunter2");
    }
  });

  it("caches for the TTL, shares one read in flight, and reads a rotated bundle after expiry", async () => {
    sm.put("rot", { database_url: "postgres://h/one" });
    clock += 10_000;
    const before = reads();
    const [a, b] = await Promise.all([secrets.bundle("t_rot", "rot"), secrets.bundle("t_rot", "rot")]);
    expect(a).toBe(b);
    expect(reads() - before).toBe(1);
    sm.put("rot", { database_url: "postgres://h/two" });
    clock += 999;
    expect((await secrets.bundle("t_rot", "rot")).database).toEqual({ url: "postgres://h/one" });
    expect(reads() - before).toBe(1);
    clock += 2;
    const rotated = await secrets.bundle("t_rot", "rot");
    expect(rotated.database).toEqual({ url: "postgres://h/two" });
    expect(reads() - before).toBe(2);
  });

  it("fails closed when the refresh after expiry fails, and recovers when the service is back", async () => {
    sm.put("outage", { database_url: "postgres://h/db" });
    clock += 10_000;
    await secrets.bundle("t_out", "outage");
    sm.server.failWith = { status: 500, type: "InternalServiceError" };
    try {
      // Still fresh: served from the cache without a call.
      expect((await secrets.bundle("t_out", "outage")).database).toEqual({ url: "postgres://h/db" });
      clock += 1001;
      const err = await failure(secrets.bundle("t_out", "outage"));
      expect(err).toBeInstanceOf(TenantSecretsUnavailableError);
      expect(err.message).toContain("could not be read (InternalServiceError)");
      expect((err as AppError).extra.retryAfterSeconds).toBeGreaterThan(0);
      // The failure is not cached and the stale bundle is gone: the next call asks again, and fails again.
      await expect(secrets.bundle("t_out", "outage")).rejects.toBeInstanceOf(TenantSecretsUnavailableError);
    } finally {
      sm.server.failWith = undefined;
    }
    expect((await secrets.bundle("t_out", "outage")).database).toEqual({ url: "postgres://h/db" });
    sm.remove("outage");
    clock += 1001;
    expect((await failure(secrets.bundle("t_out", "outage"))).message).toContain("does not exist");
  });
});

describe("SecretsManagerProvider (the SecretsProvider port on AWS Secrets Manager)", () => {
  it("resolves aws-secretsmanager: references to the SecretString, and refuses other schemes and missing secrets by name only", async () => {
    const provider = new SecretsManagerProvider(secretsManagerClient(new AwsSettings(sm.env)));
    try {
      sm.put("port/plain", { a: "b" });
      expect(JSON.parse(await provider.resolve("aws-secretsmanager:port/plain"))).toEqual({ a: "b" });
      await expect(provider.resolve("env:HOME")).rejects.toThrow(SecretUnresolvedError);
      const missing = await failure(provider.resolve("aws-secretsmanager:port/missing"));
      expect(missing).toBeInstanceOf(SecretUnresolvedError);
      expect(describeReference("aws-secretsmanager:port/missing")).toBe("AWS Secrets Manager secret port/missing");
    } finally {
      provider.close();
    }
  });
});
