import { decodeProtectedHeader } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/config-error.js";
import { trustedKeysFromJwks, verifyProofBundle } from "../../src/ledger/verify/bundle-verifier.js";
import { startKmsStandIn, type KmsStandIn } from "../helpers/kms-stand-in.js";
import { verifyLikeSdk } from "../helpers/sdk-checks.js";
import { call, newDatabase, newKey, refundPolicy, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

/** A vault signing with two KMS keys of the stand-in, reached the standard way (AWS_ENDPOINT_URL_KMS). */
function kmsEnv(kid: string, tokenKey: string, ledgerKey: string, endpoint: string): Record<string, string> {
  return {
    // startTestVault sets the suite's local key; an empty variable is unset, and a KMS vault refuses a local key.
    VAULT_PRIVATE_KEY_BASE64: "",
    VAULT_SIGNER_BACKEND: "aws_kms",
    VAULT_KEY_ID: kid,
    VAULT_KMS_KEY_ID: tokenKey,
    VAULT_LEDGER_KMS_KEY_ID: ledgerKey,
    VAULT_KMS_TIMEOUT_MS: "1000",
    AWS_ENDPOINT_URL_KMS: endpoint,
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: "AKIDSTANDIN",
    AWS_SECRET_ACCESS_KEY: "stand-in-secret",
  };
}

describe("tokens and ledger signed by AWS KMS (the KMS stand-in)", () => {
  let kms: KmsStandIn;
  let db: TestDatabase;
  let v: TestVault;
  let agent: string;
  const keyX = (keyId: string) => String(kms.createKey(keyId).publicKey.export({ format: "jwk" }).x);
  const published: Record<string, string> = {};
  const clear = async (amount: number) => {
    const res = await call(v.url, "POST", "/request-clearance", {
      key: agent,
      body: { tool_name: "stripe_refund", tool_args: { amount }, agent_id: "kms-agent", session_id: "s1" },
    });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    expect(res.body.status).toBe("approved");
    return res.body as { request_id: string; token: string; policy_version_id: string; policy_content_hash: string; reason: string };
  };
  const consume = (token: string) => call(v.url, "POST", "/consume-token", { key: agent, body: { token } });
  const jwksKids = async () => ((await call(v.url, "GET", "/.well-known/jwks.json")).body.keys as { kid: string; x: string }[]);

  beforeAll(async () => {
    kms = await startKmsStandIn();
    published["token-1"] = keyX("token-1");
    published["ledger-1"] = keyX("ledger-1");
    db = newDatabase("postgres");
    v = await startTestVault(db, { env: kmsEnv("kms-token-1", "token-1", "ledger-1", kms.url) });
    agent = await newKey(v, "agent");
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy })).status).toBe(200);
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
    await kms?.close();
  });

  it("issues a token KMS signed under VAULT_KEY_ID, consumes it, and the ledger receipt and checkpoint verify with the ledger key", async () => {
    const cleared = await clear(45);
    expect(decodeProtectedHeader(cleared.token)).toMatchObject({ alg: "EdDSA", kid: "kms-token-1" });
    expect((await verifyLikeSdk(v.url, cleared.token)).request_id).toBe(cleared.request_id);
    expect(await jwksKids()).toEqual([
      expect.objectContaining({ kid: "kms-token-1", x: published["token-1"] }),
      expect.objectContaining({ kid: "kms-token-1.ledger", x: published["ledger-1"] }),
    ]);
    expect((await consume(cleared.token)).status).toBe(200);
    expect(kms.signRequests.map((r) => r.KeyId)).toEqual(expect.arrayContaining(["token-1", "ledger-1"]));

    await v.vault.ctx.ledgerLoop.drain();
    const bundle = await call(v.url, "GET", `/ledger/proof/bundle?request_id=${cleared.request_id}`, { key: agent });
    expect(bundle.status, JSON.stringify(bundle.body)).toBe(200);
    expect(bundle.body.event.receipt_key_id).toBe("kms-token-1.ledger");
    const report = verifyProofBundle(bundle.body, trustedKeysFromJwks((await call(v.url, "GET", "/.well-known/jwks.json")).body));
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.checks.map((c) => c.name)).toEqual(expect.arrayContaining(["receipt signature", "inclusion proof", "c2sp checkpoint"]));
  });

  it("answers 503 signer_unavailable on mint and consume while KMS is down or answers a bad signature, and burns nothing", async () => {
    const cleared = await clear(20);
    const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
    const ledgerCount = async () => Number((await sql.query<{ n: string }>("SELECT count(*) AS n FROM ledger_events"))[0]!.n);
    const eventsBefore = await ledgerCount();
    const mintBody = {
      tool_name: "stripe_refund",
      tool_args: { amount: 20 },
      agent_id: "kms-agent",
      original_request_id: cleared.request_id,
      policy_version_id: cleared.policy_version_id,
      policy_content_hash: cleared.policy_content_hash,
    };
    for (const outage of ["down", "bad signature", "ledger key disabled"] as const) {
      if (outage === "down") kms.server.failWith = { status: 500, type: "KMSInternalException", message: "stand-in outage" };
      else if (outage === "bad signature") kms.tamper = "flip";
      else kms.disabledKeys.add("ledger-1");
      try {
        const consumed = await consume(cleared.token);
        expect(consumed.status, outage).toBe(503);
        expect(consumed.body.code).toBe("signer_unavailable");
        expect(consumed.headers.get("retry-after")).toBe("1");
        expect(JSON.stringify(consumed.body)).not.toMatch(/token-1|ledger-1|KMSInternalException|DisabledException/);
        const minted = await call(v.url, "POST", "/mint-token", { key: agent, body: mintBody });
        expect(minted.status, outage).toBe(503);
        expect(minted.body.code).toBe("signer_unavailable");
      } finally {
        kms.server.failWith = undefined;
        kms.tamper = "none";
        kms.disabledKeys.clear();
      }
    }
    const row = (await sql.query<{ consumed_at: Date | null }>("SELECT consumed_at FROM issued_tokens WHERE request_id = $1", [cleared.request_id]))[0];
    expect(row?.consumed_at).toBeNull();
    expect(await ledgerCount()).toBe(eventsBefore);
    // After recovery the same token is consumed once, and a mint works again.
    expect((await consume(cleared.token)).status).toBe(200);
    expect((await consume(cleared.token)).body.code).toBe("token_already_consumed");
    expect((await call(v.url, "POST", "/mint-token", { key: agent, body: mintBody })).status).toBe(200);
    // A burn is signed by the ledger key only: a disabled token key does not stop consumption.
    const other = await clear(21);
    kms.disabledKeys.add("token-1");
    try {
      expect((await consume(other.token)).status).toBe(200);
      // A mint is refused before anything is stored: no mint row, no ledger event, no token at rest.
      const eventsNow = await ledgerCount();
      const mintsNow = async () => Number((await sql.query<{ n: string }>("SELECT count(*) AS n FROM clearance_requests WHERE kind = 'mint'"))[0]!.n);
      const mintsBefore = await mintsNow();
      const refused = await call(v.url, "POST", "/mint-token", { key: agent, body: mintBody });
      expect(refused.status).toBe(503);
      expect(refused.body.code).toBe("signer_unavailable");
      expect(await mintsNow()).toBe(mintsBefore);
      expect(await ledgerCount()).toBe(eventsNow);
    } finally {
      kms.disabledKeys.clear();
    }
  });

  it("rotates to a new VAULT_KEY_ID and KMS key on the same database: old tokens still verify and consume", async () => {
    const old = await clear(30);
    await v.close();
    published["token-2"] = keyX("token-2");
    published["ledger-2"] = keyX("ledger-2");
    v = await startTestVault(db, { env: kmsEnv("kms-token-2", "token-2", "ledger-2", kms.url), adminKey: v.adminKey });
    const kids = await jwksKids();
    expect(kids.map((k) => k.kid)).toEqual(expect.arrayContaining(["kms-token-1", "kms-token-1.ledger", "kms-token-2", "kms-token-2.ledger"]));
    expect(kids.find((k) => k.kid === "kms-token-2")?.x).toBe(published["token-2"]);
    expect((await verifyLikeSdk(v.url, old.token)).request_id).toBe(old.request_id);
    expect((await consume(old.token)).status).toBe(200);
    const fresh = await clear(31);
    expect(decodeProtectedHeader(fresh.token).kid).toBe("kms-token-2");
    expect((await consume(fresh.token)).status).toBe(200);
  });

  it("refuses to start when KMS is unreachable or a key is unknown, naming the variable and the endpoint", async () => {
    const closed = await startKmsStandIn();
    const closedUrl = closed.url;
    await closed.close();
    const other = newDatabase("pglite");
    try {
      const down = await startTestVault(other, { env: kmsEnv("kms-down", "token-1", "ledger-1", closedUrl) }).then((t) => t.close(), (e: unknown) => e);
      expect(down).toBeInstanceOf(ConfigError);
      expect((down as Error).message).toContain(`VAULT_KMS_KEY_ID: KMS key "token-1" at ${closedUrl} cannot be read`);
      expect((down as Error).message).toContain(`VAULT_LEDGER_KMS_KEY_ID: KMS key "ledger-1" at ${closedUrl} cannot be read`);
      const unknown = await startTestVault(other, { env: kmsEnv("kms-unknown", "token-1", "no-such-key", kms.url) }).then((t) => t.close(), (e: unknown) => e);
      expect(unknown).toBeInstanceOf(ConfigError);
      expect((unknown as Error).message).toMatch(new RegExp(`VAULT_LEDGER_KMS_KEY_ID: KMS key "no-such-key" at ${kms.url} cannot be read: NotFoundException`));
    } finally {
      await other.drop();
    }
  });
});

describe("a failing token key on the queued path and on human approvals (the KMS stand-in)", () => {
  let kms: KmsStandIn;
  let db: TestDatabase;
  let v: TestVault;
  let agent: string;
  let reviewer: string;
  const tokenSigns = () => kms.signRequests.filter((r) => r.KeyId === "token-q").length;
  const status = async (id: string) => (await call(v.url, "GET", `/clearance-status/${id}`, { key: agent })).body;

  beforeAll(async () => {
    kms = await startKmsStandIn();
    kms.createKey("token-q");
    kms.createKey("ledger-q");
    db = newDatabase("postgres");
    v = await startTestVault(db, {
      env: { ...kmsEnv("kms-q", "token-q", "ledger-q", kms.url), VAULT_CLEARANCE_MODE: "queued", VAULT_CLEARANCE_SYNC_WAIT_MS: "10000" },
    });
    agent = await newKey(v, "agent");
    reviewer = await newKey(v, "reviewer");
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy })).status).toBe(200);
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
    await kms?.close();
  });

  it("a queued approval whose token cannot be signed is stored as review, with no token, and stays so after recovery", async () => {
    kms.disabledKeys.add("token-q");
    let id: string;
    try {
      const res = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 20 } } });
      expect(res.status).toBe(200);
      expect(res.body).toMatchObject({ status: "pending_review", reason_code: "signer_unavailable", token: null });
      id = res.body.request_id;
      // /readyz names the failing key and the error's kind, never the service's message (it names ARNs).
      const ready = await call(v.url, "GET", "/readyz");
      expect(ready.body.degraded.join(" ")).toMatch(/signing: KMS signing with key "kms-q" failed while calling KMS Sign \(DisabledException\)/);
      expect(JSON.stringify(ready.body)).not.toContain("arn:aws:kms");
    } finally {
      kms.disabledKeys.clear();
    }
    const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
    expect(await sql.query("SELECT 1 FROM issued_tokens WHERE request_id = $1", [id])).toEqual([]);
    expect(await status(id)).toMatchObject({ status: "pending_review", token: null });
  });

  it("signs an approval's token once: reading it again does not call KMS", async () => {
    const res = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 30 } } });
    expect(res.body.status).toBe("approved");
    const signs = tokenSigns();
    for (let i = 0; i < 5; i++) expect((await status(res.body.request_id)).token).toBe(res.body.token);
    expect(tokenSigns()).toBe(signs);
  });

  it("a human approval whose token cannot be signed is refused with 503 and changes nothing; it succeeds after recovery", async () => {
    const res = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 500 } } });
    expect(res.body.status).toBe("pending_review");
    const id: string = res.body.request_id;
    const approve = () => call(v.url, "POST", `/reviews/${id}/decision`, { key: reviewer, body: { approved: true, review_reason: "checked" } });
    kms.disabledKeys.add("token-q");
    try {
      const refused = await approve();
      expect(refused.status).toBe(503);
      expect(refused.body.code).toBe("signer_unavailable");
    } finally {
      kms.disabledKeys.clear();
    }
    expect(await status(id)).toMatchObject({ status: "pending_review", token: null });
    expect((await approve()).status).toBe(200);
    const approved = await status(id);
    expect(approved.status).toBe("approved");
    await verifyLikeSdk(v.url, approved.token);
  });
});
