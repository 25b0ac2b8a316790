import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import type { Sql } from "../../src/db/sql.js";
import { openBody } from "../../src/ledger/core/body-cipher.js";
import { trustedKeysFromJwks, verifyProofBundle } from "../../src/ledger/verify/bundle-verifier.js";
import { startJudgeService, type RunningJudge } from "../../src/main/judge-service.js";
import { channelBinding, endpointBinding, openSecret, outboxTargetBinding } from "../../src/outbox/secret-box.js";
import { createTenant } from "../../src/tenancy/tenants.js";
import { runCli } from "../helpers/ledger-fixture.js";
import { excerptsOf, OpenAiTestServer, type ChatScript, type RecordedRequest } from "../helpers/openai-test-server.js";
import { HttpReceiver, sdkVerifyWebhook } from "../helpers/outbox-receivers.js";
import { startSecretsManagerStandIn, type SecretsManagerStandIn } from "../helpers/secrets-manager-stand-in.js";
import { call, newKey, newPgDatabase, refundPolicy, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

/**
 * A tenant's own keys from its Secrets Manager bundle, on real PostgreSQL with the real SDK against
 * the protocol stand-in: `ledger_transport_key_base64` seals its ledger bodies, `webhook_sealing_key_base64`
 * its webhook secrets and Slack URLs, `llm_api_key` / `embedding_api_key` go on its judge calls; the
 * `previous_*_keys_base64` lists keep what older keys sealed readable after a rotation. Another tenant
 * (no bundle) keeps the vault's own keys throughout.
 */
const PREFIX = "ck-test/tenants";
const SEALED = "aes256gcm:v1:";
const globalKey = randomBytes(32);
const [ledgerK1, ledgerK2, webhookW1, webhookW2] = [randomBytes(32), randomBytes(32), randomBytes(32), randomBytes(32)];
const b64 = (k: Buffer) => k.toString("base64");
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// Text for retrieval and the LLM, and no condition an ordinary refund matches: those go to the model.
const llmPolicy = {
  policy_id: "refund-llm",
  description: "# Refunds\n\nRefunds of customer payments for damaged goods are handled by support agents.",
  rules: ["Refunds up to $100 for damaged goods may be issued automatically"],
  tools: ["llm_refund"],
  conditions: [],
  default_decision: "review",
};

const citeLast: ChatScript = (req: RecordedRequest) => ({
  json: { decision: "yes", reasoning: "scripted yes", confidence_bucket: "high", cited_chunk_ids: excerptsOf(req).map((e) => e.chunk_id).slice(-1) },
});

let sm: SecretsManagerStandIn;
let models: OpenAiTestServer;
let hooks: HttpReceiver;
let db: TestDatabase;
let v: TestVault;
let env: Record<string, string>;
let alpha: { tenantId: string; adminKey: string; agent: string; secretName: string };
let otherAgent: string;

/** The bundle of tenant alpha: its database (the vault's own server) plus whatever keys the test gives. */
const bundle = (keys: Record<string, unknown>) => ({ database_password: "unused-on-a-trusting-server", ...keys });
const alphaSql = () => v.vault.ctx.tenantDbs.get(alpha.tenantId);

/** Posts a clearance and polls until it is decided (an LLM on the vault puts decisions on the queue). */
async function clear(key: string, toolName: string, args: Record<string, unknown>) {
  let res = await call(v.url, "POST", "/request-clearance", { key, body: { tool_name: toolName, tool_args: args } });
  expect([200, 202], JSON.stringify(res.body)).toContain(res.status);
  for (const deadline = Date.now() + 30_000; res.body.status === "processing" && Date.now() < deadline; ) {
    await sleep(100);
    res = await call(v.url, "GET", `/clearance-status/${res.body.request_id}`, { key });
  }
  expect(res.body.status).not.toBe("processing");
  return res.body as { request_id: string; status: string };
}

async function ledgerRows(sql: Sql) {
  return sql.query<{ event_uuid: string; request_id: string; body: string }>("SELECT event_uuid, request_id, body FROM ledger_events ORDER BY seq");
}

/** Whether `key` opens the body (GCM tells a wrong key). */
const opensWith = (row: { body: string; event_uuid: string }, key: Buffer) => {
  try {
    JSON.parse(openBody(row.body, row.event_uuid, [key]));
    return true;
  } catch {
    return false;
  }
};

async function verifiedBundle(key: string, requestId: string) {
  const jwks = (await call(v.url, "GET", "/.well-known/jwks.json")).body;
  const res = await call(v.url, "GET", `/ledger/proof/bundle?request_id=${requestId}`, { key });
  expect(res.status, JSON.stringify(res.body)).toBe(200);
  const report = verifyProofBundle(res.body, trustedKeysFromJwks(jwks));
  expect(report.checks.filter((c) => !c.ok)).toEqual([]);
  return res.body;
}

/** `countersign ledger fsck` as its own process: it reads the tenant's bundle itself. */
async function fsckCli(tenantId: string) {
  const out = await runCli(["ledger", "fsck", "--tenant", tenantId, "--json"], env);
  return { code: out.code, report: out.stdout ? JSON.parse(out.stdout) : undefined, stderr: out.stderr };
}

beforeAll(async () => {
  [sm, models, hooks] = await Promise.all([startSecretsManagerStandIn(), OpenAiTestServer.start(), HttpReceiver.start()]);
  db = newPgDatabase();
  env = {
    ...sm.env,
    DATABASE_URL: db.url,
    TENANT_SECRET_PREFIX: PREFIX,
    VAULT_TENANT_SECRET_CACHE_TTL_SECONDS: "1",
    VAULT_TRANSPORT_KEY_BASE64: b64(globalKey),
    VAULT_WEBHOOK_ALLOW_PRIVATE_TARGETS: "true",
    EVAL_MODEL: "openai/gpt-test",
    LLM_BASE_URL: `${models.url}/v1`,
    LLM_API_KEY: "sk-global-llm",
    EVAL_TIMEOUT_MS: "5000",
    EMBEDDING_MODEL: "openai/test-embed",
    EMBEDDING_API_KEY: "sk-global-embed",
  };
  v = await startTestVault(db, { env });
  const secretName = `${PREFIX}/alpha-${randomBytes(3).toString("hex")}`;
  // Webhook and model keys from the start; the ledger key comes later, over bodies the vault's key sealed.
  sm.put(secretName, bundle({ webhook_sealing_key_base64: b64(webhookW1), llm_api_key: "sk-alpha-llm", embedding_api_key: "sk-alpha-embed" }));
  const created = await createTenant(v.vault.ctx.control, v.vault.ctx.tenantDbs, { name: "alpha", secretRef: { name: secretName } });
  alpha = { tenantId: created.tenantId, adminKey: created.adminKey.apiKey, agent: "", secretName };
  expect(created).not.toHaveProperty("databasePending");
  alpha.agent = await newKey(v, "agent", alpha.tenantId);
  otherAgent = await newKey(v, "agent");
  for (const key of [alpha.adminKey, v.adminKey]) {
    for (const policy of [refundPolicy, llmPolicy]) expect((await call(v.url, "POST", "/register-policy", { key, body: policy })).status).toBe(200);
  }
});

afterAll(async () => {
  await v?.close();
  await db?.drop();
  await Promise.all([sm?.close(), models?.close(), hooks?.close()]);
});

describe("a tenant's own ledger key (ledger_transport_key_base64)", () => {
  const early: string[] = [];
  const underK1: string[] = [];

  it("seals the tenant's bodies with its key, not the vault's, while older bodies stay readable under the vault's", async () => {
    for (const amount of [10, 20]) early.push((await clear(alpha.agent, "stripe_refund", { amount })).request_id);
    sm.put(alpha.secretName, bundle({ ledger_transport_key_base64: b64(ledgerK1), webhook_sealing_key_base64: b64(webhookW1) }));
    await sleep(1100);
    for (const amount of [30, 40]) underK1.push((await clear(alpha.agent, "stripe_refund", { amount })).request_id);
    const other = await clear(otherAgent, "stripe_refund", { amount: 50 });

    const rows = await ledgerRows(await alphaSql());
    expect(rows.length).toBeGreaterThanOrEqual(4);
    for (const r of rows) expect(r.body.startsWith(SEALED)).toBe(true);
    for (const r of rows.filter((r) => underK1.includes(r.request_id))) {
      expect(opensWith(r, globalKey)).toBe(false);
      expect(opensWith(r, ledgerK1)).toBe(true);
    }
    for (const r of rows.filter((r) => early.includes(r.request_id))) expect(opensWith(r, globalKey)).toBe(true);
    // The other tenant has no bundle: the vault's key seals its bodies.
    const otherRows = (await ledgerRows(await v.vault.ctx.tenantDbs.get(v.tenantId))).filter((r) => r.request_id === other.request_id);
    expect(otherRows.length).toBeGreaterThan(0);
    for (const r of otherRows) expect(opensWith(r, globalKey)).toBe(true);

    const listed = await call(v.url, "GET", "/ledger?limit=100", { key: alpha.agent });
    expect(listed.status, JSON.stringify(listed.body)).toBe(200);
    expect(listed.body.entries.map((e: { request_id: string }) => e.request_id)).toEqual(expect.arrayContaining([...early, ...underK1]));
  });

  it("proof bundles of bodies under either key verify, and `ledger fsck` is clean", async () => {
    for (const id of [early[0]!, underK1[1]!]) expect((await verifiedBundle(alpha.agent, id)).event.request_id).toBe(id);
    const { code, report, stderr } = await fsckCli(alpha.tenantId);
    expect(code, stderr).toBe(0);
    expect(report).toMatchObject({ ok: true, problems: [] });
    expect(report.events).toBeGreaterThanOrEqual(4);
  });

  it("a rotation that drops the old key leaves its bodies unreadable (503, never 500); listing it as previous reads them again", async () => {
    sm.put(alpha.secretName, bundle({ ledger_transport_key_base64: b64(ledgerK2), webhook_sealing_key_base64: b64(webhookW1) }));
    await sleep(1100);
    const lost = await call(v.url, "GET", "/ledger?limit=100", { key: alpha.agent });
    expect(lost.status).toBe(503);
    expect(lost.body).toMatchObject({ code: "ledger_key_unavailable" });
    const lostFsck = await fsckCli(alpha.tenantId);
    expect(lostFsck.code).toBe(1);
    expect(lostFsck.report.problems.every((p: { detail: string }) => p.detail.startsWith("body unreadable"))).toBe(true);

    sm.put(
      alpha.secretName,
      bundle({ ledger_transport_key_base64: b64(ledgerK2), previous_ledger_transport_keys_base64: [b64(ledgerK1)], webhook_sealing_key_base64: b64(webhookW1) }),
    );
    await sleep(1100);
    const underK2 = (await clear(alpha.agent, "stripe_refund", { amount: 60 })).request_id;
    const rows = await ledgerRows(await alphaSql());
    for (const r of rows.filter((r) => r.request_id === underK2)) {
      expect(opensWith(r, ledgerK2)).toBe(true);
      expect(opensWith(r, ledgerK1) || opensWith(r, globalKey)).toBe(false);
    }
    const listed = await call(v.url, "GET", "/ledger?limit=100", { key: alpha.agent });
    expect(listed.status, JSON.stringify(listed.body)).toBe(200);
    for (const id of [early[1]!, underK1[0]!, underK2]) await verifiedBundle(alpha.agent, id);
    const { code, report, stderr } = await fsckCli(alpha.tenantId);
    expect(code, stderr).toBe(0);
    expect(report).toMatchObject({ ok: true, problems: [] });
  });
});

describe("a tenant's own webhook sealing key (webhook_sealing_key_base64)", () => {
  it("seals a new endpoint's secret with the tenant's key, and deliveries sign with it; a rotation keeps it deliverable", async () => {
    const reg = await call(v.url, "POST", "/webhooks", { key: alpha.adminKey, body: { url: `${hooks.url}/alpha` } });
    expect(reg.status, JSON.stringify(reg.body)).toBe(201);
    const [stored] = await (await alphaSql()).query<{ secret: string }>("SELECT secret FROM webhook_endpoints WHERE id = $1", [reg.body.id]);
    expect(stored!.secret.startsWith(SEALED)).toBe(true);
    expect(() => openSecret(stored!.secret, endpointBinding(reg.body.id), [globalKey])).toThrow();
    expect(openSecret(stored!.secret, endpointBinding(reg.body.id), [webhookW1])).toBe(reg.body.secret);

    const ping = async () => {
      const before = hooks.requests.length;
      const test = await call(v.url, "POST", `/webhooks/${reg.body.id}/test`, { key: alpha.adminKey, body: {} });
      expect(test.status).toBe(202);
      await hooks.waitFor(before + 1);
      const got = hooks.requests[before]!;
      expect(got.headers["x-countersign-delivery"]).toBe(test.body.delivery_id);
      expect(sdkVerifyWebhook(got.raw, got.headers["x-ledgix-signature"] as string, reg.body.secret)).toBe(true);
    };
    await ping();
    sm.put(
      alpha.secretName,
      bundle({
        ledger_transport_key_base64: b64(ledgerK2),
        previous_ledger_transport_keys_base64: [b64(ledgerK1)],
        webhook_sealing_key_base64: b64(webhookW2),
        previous_webhook_sealing_keys_base64: [b64(webhookW1)],
      }),
    );
    await sleep(1100);
    await ping();
  });

  it("seals the tenant's Slack URLs (settings and outbox rows) with its key and delivers review notices to them", async () => {
    const slackUrl = `${hooks.url}/services/alpha-slack`;
    const put = await call(v.url, "PUT", "/notification-settings", { key: alpha.adminKey, body: { slack: { webhook_url: slackUrl } } });
    expect(put.status, JSON.stringify(put.body)).toBe(200);
    expect(put.body.slack.webhook_url).toBe(`${hooks.url}/…lack`);
    const sql = await alphaSql();
    const [channel] = await sql.query<{ id: string; slack_url: string }>("SELECT id, slack_url FROM notification_channels WHERE kind = 'slack'");
    expect(() => openSecret(channel!.slack_url, channelBinding(channel!.id), [globalKey, webhookW1])).toThrow();
    expect(openSecret(channel!.slack_url, channelBinding(channel!.id), [webhookW2])).toBe(slackUrl);

    const before = hooks.requests.length;
    const review = await clear(alpha.agent, "stripe_refund", { amount: 500 });
    expect(review.status).toBe("pending_review");
    for (const deadline = Date.now() + 15_000; !hooks.requests.slice(before).some((r) => r.path === "/services/alpha-slack") && Date.now() < deadline; ) await sleep(100);
    expect(hooks.requests.slice(before).map((r) => r.path)).toContain("/services/alpha-slack");
    const [entry] = await sql.query<{ delivery_id: string; target: string }>("SELECT delivery_id, target FROM outbox WHERE kind = 'slack' AND request_id = $1", [review.request_id]);
    expect(opensTarget(entry!, [webhookW2])).toBe(slackUrl);
    expect(() => opensTarget(entry!, [globalKey, webhookW1])).toThrow();
  });
});

const opensTarget = (entry: { delivery_id: string; target: string }, keys: Buffer[]) => openSecret(entry.target, outboxTargetBinding(entry.delivery_id), keys);

describe("a tenant's own model keys (llm_api_key, embedding_api_key)", () => {
  const bearer = (r: RecordedRequest) => r.headers.authorization;

  it("the vault's in-process judge sends the tenant's keys on its calls, and the vault's keys on another tenant's", async () => {
    // The sealing keys stay: what they sealed (the Slack route above) is needed by every decision's notices.
    sm.put(
      alpha.secretName,
      bundle({ llm_api_key: "sk-alpha-llm", embedding_api_key: "sk-alpha-embed", webhook_sealing_key_base64: b64(webhookW2), ledger_transport_key_base64: b64(ledgerK2) }),
    );
    await sleep(1100);
    models.reset();
    models.fallback = citeLast;
    expect((await clear(alpha.agent, "llm_refund", { amount: 50, reason: "damaged goods" })).status).toBe("approved");
    expect(models.chatRequests().map(bearer)).toEqual(["Bearer sk-alpha-llm"]);
    expect(models.embeddingRequests().map(bearer)).toEqual(["Bearer sk-alpha-embed"]);

    models.reset();
    models.fallback = citeLast;
    expect((await clear(otherAgent, "llm_refund", { amount: 50, reason: "damaged goods" })).status).toBe("approved");
    expect(models.chatRequests().map(bearer)).toEqual(["Bearer sk-global-llm"]);
    expect(models.embeddingRequests().map(bearer)).toEqual(["Bearer sk-global-embed"]);
  });

  it("`countersign judge` opens the tenant's bundle with its database and sends the tenant's keys too", async () => {
    let judge: RunningJudge | undefined;
    try {
      judge = await startJudgeService(
        loadConfig({ ...env, JUDGE_API_KEY: "judge-key-test", JUDGE_HOST: "127.0.0.1", JUDGE_PORT: "0", LOG_LEVEL: "silent" }),
      );
      const evaluate = (tenantId: string) =>
        call(judge!.url, "POST", "/evaluate", {
          headers: { "x-api-key": "judge-key-test" },
          body: { tenant_id: tenantId, request_id: `req_${randomBytes(6).toString("hex")}`, tool: "llm_refund", args: { amount: 50 }, context: {}, agent_id: "a", session_id: "s", human_principal: null },
        });
      for (const [tenantId, llmKey, embedKey] of [
        [alpha.tenantId, "sk-alpha-llm", "sk-alpha-embed"],
        [v.tenantId, "sk-global-llm", "sk-global-embed"],
      ] as const) {
        models.reset();
        models.fallback = citeLast;
        const res = await evaluate(tenantId);
        expect(res.status, JSON.stringify(res.body)).toBe(200);
        expect(res.body.decision).toBe("approve");
        expect(models.chatRequests().map(bearer)).toEqual([`Bearer ${llmKey}`]);
        expect(models.embeddingRequests().map(bearer)).toEqual([`Bearer ${embedKey}`]);
      }
    } finally {
      await judge?.close();
    }
  });
});
