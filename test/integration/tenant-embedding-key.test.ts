import { randomBytes } from "node:crypto";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import { openAdminContext } from "../../src/main/context.js";
import { startJudgeService, type RunningJudge } from "../../src/main/judge-service.js";
import { createTenant } from "../../src/tenancy/tenants.js";
import { runCli } from "../helpers/ledger-fixture.js";
import { OpenAiTestServer, type RecordedRequest } from "../helpers/openai-test-server.js";
import { startSecretsManagerStandIn, type SecretsManagerStandIn } from "../helpers/secrets-manager-stand-in.js";
import { call, newPgDatabase, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

/**
 * A tenant's `embedding_api_key` (its Secrets Manager bundle) goes on the embedding calls made for
 * its policy text, not only on the judge's retrieval queries: POST /register-policy and POST
 * /policies/:id/documents on a vault that embeds itself, the same through a `countersign judge`
 * service (which reads the tenant's bundle itself), and `countersign policies reembed`. A tenant
 * without one gets the process's EMBEDDING_API_KEY. Real PostgreSQL, the real Secrets Manager SDK
 * against its protocol stand-in, the real OpenAI SDK against the OpenAI-protocol test server, which
 * records each call's Authorization header.
 */
const PREFIX = "ck-test/embed-tenants";
const JUDGE_KEY = "judge-key-embed-test";
const ALPHA_KEY = "sk-alpha-embed-only";
const BETA_KEY = "sk-beta-embed-only";
const VAULT_KEY = "sk-vault-embed";
const JUDGE_EMBED_KEY = "sk-judge-embed";

let sm: SecretsManagerStandIn;
let models: OpenAiTestServer;
let db: TestDatabase;
let env: Record<string, string>;
let bootstrapKey: string;
let defaultAdmin: string;
let defaultTenant: string;
const tenants: Record<"alpha" | "beta", { tenantId: string; adminKey: string; secretName: string }> = {} as never;
/** Every line the vaults logged: no key may appear in them. */
const logLines: string[] = [];
const log = pino({ level: "debug" }, { write: (line: string) => void logLines.push(line) });

/** Fresh words each time: chunks of a text already embedded are reused, and would make no call. */
const uniquePolicy = (policyId: string) => {
  const tag = randomBytes(4).toString("hex");
  return {
    policy_id: policyId,
    description: `Refunds of customer payments, revision ${tag}`,
    rules: [`Refunds up to $100 may be issued automatically (${tag})`, `Refunds over $1000 are never issued by agents (${tag})`],
    tools: ["stripe_refund"],
    default_decision: "review",
  };
};
const bearers = () => models.embeddingRequests().map((r: RecordedRequest) => r.headers.authorization);

/** Registers a fresh policy and returns the Authorization headers of the embedding calls it made. */
async function registerAs(url: string, adminKey: string, policyId = "refund-policy") {
  models.reset();
  const res = await call(url, "POST", "/register-policy", { key: adminKey, body: uniquePolicy(policyId) });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const sent = bearers();
  expect(sent.length).toBeGreaterThan(0);
  return new Set(sent);
}

async function attachDocumentAs(url: string, adminKey: string) {
  models.reset();
  const res = await call(url, "POST", "/policies/refund-policy/documents", {
    key: adminKey,
    body: { title: "Refund handbook", content: `# Damaged goods\n\nRefund damaged goods on a photo (${randomBytes(4).toString("hex")}).` },
  });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  const sent = bearers();
  expect(sent.length).toBeGreaterThan(0);
  return new Set(sent);
}

const vaultEnv = () => ({ ...env, EMBEDDING_API_KEY: VAULT_KEY });

beforeAll(async () => {
  [sm, models] = await Promise.all([startSecretsManagerStandIn(), OpenAiTestServer.start()]);
  db = newPgDatabase();
  env = {
    ...sm.env,
    DATABASE_URL: db.url,
    TENANT_SECRET_PREFIX: PREFIX,
    // Long for the vault, so a test can make the judge's read fail while the vault still holds the bundle.
    VAULT_TENANT_SECRET_CACHE_TTL_SECONDS: "300",
    EMBEDDING_MODEL: "openai/test-embed",
    EMBEDDING_BASE_URL: `${models.url}/v1`,
  };
  const v = await startTestVault(db, { env: vaultEnv(), overrides: { log } });
  try {
    bootstrapKey = v.adminKey;
    defaultAdmin = v.adminKey;
    defaultTenant = v.tenantId;
    for (const [name, key] of [["alpha", ALPHA_KEY], ["beta", BETA_KEY]] as const) {
      const secretName = `${PREFIX}/${name}-${randomBytes(3).toString("hex")}`;
      // Only the embedding key: the tenant's database is the vault's own server (trust auth in tests).
      sm.put(secretName, { database_password: "unused-on-a-trusting-server", embedding_api_key: key });
      const created = await createTenant(v.vault.ctx.control, v.vault.ctx.tenantDbs, { name, secretRef: { name: secretName } });
      expect(created).not.toHaveProperty("databasePending");
      tenants[name] = { tenantId: created.tenantId, adminKey: created.adminKey.apiKey, secretName };
    }
  } finally {
    await v.close();
  }
});

afterAll(async () => {
  await db?.drop();
  await Promise.all([sm?.close(), models?.close()]);
  const all = logLines.join("\n");
  for (const key of [ALPHA_KEY, BETA_KEY, VAULT_KEY, JUDGE_EMBED_KEY]) expect(all).not.toContain(key);
});

describe("a vault that embeds policy text itself", () => {
  let v: TestVault;
  beforeAll(async () => {
    v = await startTestVault(db, { env: vaultEnv(), overrides: { log }, adminKey: bootstrapKey });
  });
  afterAll(async () => v?.close());

  it("registering a policy for a tenant whose bundle gives embedding_api_key sends that key, and only it", async () => {
    expect(await registerAs(v.url, tenants.alpha.adminKey)).toEqual(new Set([`Bearer ${ALPHA_KEY}`]));
  });

  it("attaching a document for that tenant sends its key too", async () => {
    expect(await attachDocumentAs(v.url, tenants.alpha.adminKey)).toEqual(new Set([`Bearer ${ALPHA_KEY}`]));
  });

  it("another tenant (no bundle) is embedded with the vault's EMBEDDING_API_KEY", async () => {
    expect(await registerAs(v.url, defaultAdmin)).toEqual(new Set([`Bearer ${VAULT_KEY}`]));
    expect(await attachDocumentAs(v.url, defaultAdmin)).toEqual(new Set([`Bearer ${VAULT_KEY}`]));
  });
});

describe("a vault behind `countersign judge` (VAULT_JUDGE_URL)", () => {
  let judge: RunningJudge;
  let v: TestVault;
  const embed = (body: unknown) => call(judge.url, "POST", "/embed", { headers: { "x-api-key": JUDGE_KEY }, body });

  beforeAll(async () => {
    judge = await startJudgeService(
      loadConfig({
        ...env,
        EMBEDDING_API_KEY: JUDGE_EMBED_KEY,
        // Short for the judge: it reads a bundle again soon after the vault has cached it.
        VAULT_TENANT_SECRET_CACHE_TTL_SECONDS: "1",
        JUDGE_API_KEY: JUDGE_KEY,
        JUDGE_HOST: "127.0.0.1",
        JUDGE_PORT: "0",
        LOG_LEVEL: "silent",
      }),
    );
    v = await startTestVault(db, {
      env: { ...vaultEnv(), VAULT_JUDGE_URL: judge.url, VAULT_JUDGE_API_KEY: JUDGE_KEY, VAULT_JUDGE_TIMEOUT_MS: "20000" },
      overrides: { log },
      adminKey: bootstrapKey,
    });
  });
  afterAll(async () => {
    await v?.close();
    await judge?.close();
  });

  it("the judge service embeds a tenant's policy text with the tenant's key, which never crosses the vault-judge wire", async () => {
    expect(await registerAs(v.url, tenants.alpha.adminKey)).toEqual(new Set([`Bearer ${ALPHA_KEY}`]));
    expect(await attachDocumentAs(v.url, tenants.alpha.adminKey)).toEqual(new Set([`Bearer ${ALPHA_KEY}`]));
  });

  it("another tenant's text is embedded with the judge's EMBEDDING_API_KEY", async () => {
    expect(await registerAs(v.url, defaultAdmin)).toEqual(new Set([`Bearer ${JUDGE_EMBED_KEY}`]));
  });

  it("POST /embed: tenant_id is validated like /evaluate's, an unknown tenant is 404, none means the judge's key", async () => {
    const empty = await embed({ texts: ["x"], tenant_id: "" });
    expect(empty.status).toBe(400);
    expect(empty.body).toMatchObject({ code: "validation_failed" });
    expect((await embed({ texts: ["x"], tenant_id: "t".repeat(201) })).status).toBe(400);
    const unknown = await embed({ texts: ["x"], tenant_id: "t_doesnotexist" });
    expect(unknown.status).toBe(404);
    expect(unknown.body).toMatchObject({ code: "not_found" });
    models.reset();
    const plain = await embed({ texts: ["refund text"] });
    expect(plain.status, JSON.stringify(plain.body)).toBe(200);
    expect(bearers()).toEqual([`Bearer ${JUDGE_EMBED_KEY}`]);
    models.reset();
    const own = await embed({ texts: ["refund text"], tenant_id: tenants.alpha.tenantId });
    expect(own.status, JSON.stringify(own.body)).toBe(200);
    expect(bearers()).toEqual([`Bearer ${ALPHA_KEY}`]);
  });

  it("a tenant whose bundle the judge cannot read: the judge answers 503 tenant_secrets_unavailable, registration 503 embedding_unavailable, nothing written", async () => {
    const beta = tenants.beta;
    // The vault reads beta's bundle (and keeps it for its 300 s TTL); the judge's copy (its start-up
    // knowledge check opened every tenant) is past its 1 s TTL once the read starts failing.
    expect((await call(v.url, "GET", "/policies", { key: beta.adminKey })).status).toBe(200);
    models.reset();
    sm.server.failWith = { status: 500, type: "InternalServiceError" };
    try {
      await new Promise((resolve) => setTimeout(resolve, 1100));
      const direct = await embed({ texts: ["x"], tenant_id: beta.tenantId });
      expect(direct.status).toBe(503);
      expect(direct.headers.get("content-type")).toContain("application/problem+json");
      expect(direct.body).toMatchObject({ code: "tenant_secrets_unavailable" });

      const res = await call(v.url, "POST", "/register-policy", { key: beta.adminKey, body: uniquePolicy("refund-policy") });
      expect(res.status, JSON.stringify(res.body)).toBe(503);
      expect(res.body).toMatchObject({ code: "embedding_unavailable" });
      expect(JSON.stringify(res.body)).not.toContain(BETA_KEY);
    } finally {
      sm.server.failWith = undefined;
    }
    // Neither the judge nor the vault's own key embedded beta's text in its place.
    expect(models.embeddingRequests()).toEqual([]);
    const sql = await v.vault.ctx.tenantDbs.get(beta.tenantId);
    expect((await sql.query<{ n: number }>("SELECT count(*)::int AS n FROM policies"))[0]!.n).toBe(0);
    expect((await sql.query<{ n: number }>("SELECT count(*)::int AS n FROM policy_chunks"))[0]!.n).toBe(0);

    // Once the bundle is readable again, the same registration goes through with beta's own key.
    expect(await registerAs(v.url, beta.adminKey)).toEqual(new Set([`Bearer ${BETA_KEY}`]));
  });
});

describe("`countersign policies reembed`", () => {
  /** Marks every chunk of the tenant as made by another model, so reembed embeds them all again. */
  async function makeStale(tenantId: string) {
    const admin = await openAdminContext(loadConfig({ ...vaultEnv(), LOG_LEVEL: "silent" }));
    try {
      const sql = await admin.tenantDbs.get(tenantId);
      const marked = await sql.query("UPDATE policy_chunks SET embedding_model = 'old/model' RETURNING 1");
      expect(marked.length).toBeGreaterThan(0);
    } finally {
      await admin.close();
    }
  }
  const reembedCli = (tenantId?: string) =>
    runCli(["policies", "reembed", ...(tenantId ? ["--tenant", tenantId] : []), "--json"], { ...vaultEnv(), LOG_LEVEL: "warn" });

  it("sends each tenant's own key for its text, the vault's for a tenant without one", async () => {
    for (const [tenantId, key] of [
      [tenants.alpha.tenantId, ALPHA_KEY],
      [defaultTenant, VAULT_KEY],
    ] as const) {
      await makeStale(tenantId);
      models.reset();
      const out = await reembedCli(tenantId);
      expect(out.code, out.stderr).toBe(0);
      const report = JSON.parse(out.stdout) as { tenants: { tenant_id: string; texts: number }[] };
      expect(report.tenants).toEqual([expect.objectContaining({ tenant_id: tenantId })]);
      expect(report.tenants[0]!.texts).toBeGreaterThan(0);
      expect(new Set(bearers())).toEqual(new Set([`Bearer ${key}`]));
      for (const k of [ALPHA_KEY, BETA_KEY, VAULT_KEY]) expect(out.stdout + out.stderr).not.toContain(k);
    }
  });

  it("over every tenant at once, each tenant's texts go with its own key", async () => {
    await makeStale(tenants.alpha.tenantId);
    await makeStale(tenants.beta.tenantId);
    models.reset();
    const out = await reembedCli();
    expect(out.code, out.stderr).toBe(0);
    const texts = (key: string) =>
      models
        .embeddingRequests()
        .filter((r) => r.headers.authorization === `Bearer ${key}`)
        .flatMap((r) => (Array.isArray(r.body.input) ? r.body.input : [r.body.input]) as string[]);
    const report = JSON.parse(out.stdout) as { tenants: { tenant_id: string; texts: number }[] };
    const count = (tenantId: string) => report.tenants.find((t) => t.tenant_id === tenantId)!.texts;
    expect(count(tenants.alpha.tenantId)).toBeGreaterThan(0);
    expect(count(tenants.beta.tenantId)).toBeGreaterThan(0);
    expect(texts(ALPHA_KEY).length).toBe(count(tenants.alpha.tenantId));
    expect(texts(BETA_KEY).length).toBe(count(tenants.beta.tenantId));
    expect(texts(VAULT_KEY)).toEqual([]);
  });
});
