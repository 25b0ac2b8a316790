import { randomBytes } from "node:crypto";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { AwsSettings } from "../../src/config/aws.js";
import { secretsManagerClient } from "../../src/config/secret-bundle.js";
import { ModelCredentials } from "../../src/judge/model-credentials.js";
import { openBody, sealBody } from "../../src/ledger/core/body-cipher.js";
import { BundleTenantKeys } from "../../src/tenancy/tenant-keys.js";
import { TenantSecrets, TenantSecretsUnavailableError } from "../../src/tenancy/tenant-secrets.js";
import { startSecretsManagerStandIn, type SecretsManagerStandIn } from "../helpers/secrets-manager-stand-in.js";
import { SecretsManagerProvider } from "../../src/config/secrets-manager-provider.js";

/** TenantKeys over real TenantSecrets (SDK against the Secrets Manager stand-in). */
let sm: SecretsManagerStandIn;
let secrets: TenantSecrets;
let clock = 0;
const globalKey = randomBytes(32);
const [k1, k2, w1] = [randomBytes(32), randomBytes(32), randomBytes(32)];
const b64 = (k: Buffer) => k.toString("base64");

beforeAll(async () => {
  sm = await startSecretsManagerStandIn();
  secrets = new TenantSecrets(new SecretsManagerProvider(secretsManagerClient(new AwsSettings(sm.env))), { prefix: "tk/tenants", cacheTtlMs: 1000, now: () => clock });
});
afterAll(async () => {
  secrets?.close();
  await sm?.close();
});

describe("BundleTenantKeys", () => {
  it("gives a tenant without a bundle the vault's key, and none at all without VAULT_TRANSPORT_KEY_BASE64", () => {
    expect(new BundleTenantKeys(globalKey, secrets).sealingKeysFor("t_none", "ledger")).toEqual({ seal: globalKey, open: [globalKey] });
    expect(new BundleTenantKeys(undefined, undefined).sealingKeysFor("t_none", "webhook")).toEqual({ seal: undefined, open: [] });
    expect(new BundleTenantKeys(globalKey, secrets).modelKeysFor("t_none")).toEqual({});
  });

  it("seals with the bundle's key and opens with it, its previous keys, then the vault's; per purpose", async () => {
    sm.put("tk/tenants/t_a", {
      ledger_transport_key_base64: b64(k2),
      previous_ledger_transport_keys_base64: [b64(k1)],
      webhook_sealing_key_base64: b64(w1),
      llm_api_key: "sk-a",
    });
    const keys = new BundleTenantKeys(globalKey, secrets);
    expect(secrets.latest("t_a")).toBeUndefined();
    await secrets.bundle("t_a", "tk/tenants/t_a");
    const ledger = keys.sealingKeysFor("t_a", "ledger");
    expect(ledger.seal!.equals(k2)).toBe(true);
    expect(ledger.open.map(b64)).toEqual([k2, k1, globalKey].map(b64));
    expect(keys.sealingKeysFor("t_a", "webhook").open.map(b64)).toEqual([w1, globalKey].map(b64));
    expect(keys.modelKeysFor("t_a")).toEqual({ llmApiKey: "sk-a", embeddingApiKey: undefined });
    // Cached per bundle: the hot path allocates nothing on a hit.
    expect(keys.sealingKeysFor("t_a", "ledger")).toBe(ledger);
    // A body under any of them opens with the list; one under an unknown key does not.
    for (const key of [k1, k2, globalKey]) expect(openBody(sealBody('{"x":1}', "u", key), "u", ledger.open)).toBe('{"x":1}');
    expect(() => openBody(sealBody('{"x":1}', "u", randomBytes(32)), "u", ledger.open)).toThrow(/does not authenticate with any of the 3 keys tried/);
  });

  it("sees a rotation once the bundle is read again, and a bundle without keys falls back to the vault's", async () => {
    sm.put("tk/tenants/t_a", { previous_ledger_transport_keys_base64: [b64(k2)] });
    clock += 1001;
    await secrets.bundle("t_a", "tk/tenants/t_a");
    const keys = new BundleTenantKeys(globalKey, secrets);
    expect(keys.sealingKeysFor("t_a", "ledger").seal!.equals(globalKey)).toBe(true);
    expect(keys.sealingKeysFor("t_a", "ledger").open.map(b64)).toEqual([k2, globalKey].map(b64));
    expect(keys.modelKeysFor("t_a")).toEqual({ llmApiKey: undefined, embeddingApiKey: undefined });
  });

  it("refuses previous keys that are not 32-byte base64, naming the field and never the value", async () => {
    sm.put("tk/tenants/t_bad", { previous_webhook_sealing_keys_base64: ["c2hvcnQ="] });
    const err = await secrets.bundle("t_bad", "tk/tenants/t_bad").catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TenantSecretsUnavailableError);
    expect((err as Error).message).toContain("previous_webhook_sealing_keys_base64.0: must be base64 of exactly 32 bytes");
    expect((err as Error).message).not.toContain("c2hvcnQ=");
  });
});

describe("ModelCredentials", () => {
  const keysOf = (own: { llmApiKey?: string; embeddingApiKey?: string }) => ({ modelKeysFor: () => own });
  const lines: string[] = [];
  const log = pino({ level: "warn" }, { write: (line: string) => void lines.push(line) });

  it("gives the tenant's keys, its LLM key to an embedding endpoint that is the LLM's own, nothing for a tenant without", () => {
    const setup = { llm: true, remoteEmbeddings: true, embeddingsOnLlmEndpoint: true, log };
    expect(new ModelCredentials(keysOf({ llmApiKey: "sk-l" }), setup).for("t")).toEqual({ llmApiKey: "sk-l", embeddingApiKey: "sk-l" });
    expect(new ModelCredentials(keysOf({ llmApiKey: "sk-l" }), { ...setup, embeddingsOnLlmEndpoint: false }).for("t")).toEqual({ llmApiKey: "sk-l", embeddingApiKey: undefined });
    expect(new ModelCredentials(keysOf({ llmApiKey: "sk-l", embeddingApiKey: "sk-e" }), setup).for("t")).toEqual({ llmApiKey: "sk-l", embeddingApiKey: "sk-e" });
    expect(new ModelCredentials(keysOf({}), setup).for("t")).toEqual({});
    expect(new ModelCredentials(undefined, setup).for("t")).toEqual({});
  });

  it("warns once per tenant and field about a key this judge cannot use, without the key", () => {
    lines.length = 0;
    const creds = new ModelCredentials(keysOf({ llmApiKey: "sk-secret-l", embeddingApiKey: "sk-secret-e" }), { llm: false, remoteEmbeddings: false, embeddingsOnLlmEndpoint: true, log });
    expect(creds.for("t_x")).toEqual({ llmApiKey: undefined, embeddingApiKey: undefined });
    creds.for("t_x");
    expect(lines).toHaveLength(2);
    expect(lines.join("")).toContain('"field":"llm_api_key"');
    expect(lines.join("")).toContain('"field":"embedding_api_key"');
    expect(lines.join("")).not.toContain("sk-secret");
  });
});
