/**
 * Per-tenant token keys (issue 15): each tenant's A-JWTs carry its own kid and key, the global JWKS
 * lists them all (the Ledgix SDK keeps working), a key verifies only its tenant's tokens, and a
 * rotation (HTTP and CLI) changes the kid of new tokens while old ones still consume, re-render
 * identically and stay published until they have expired.
 */
import { execFile } from "node:child_process";
import { createPublicKey, generateKeyPairSync } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { decodeProtectedHeader } from "jose";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { Countersign } from "../../src/sdk/index.js";
import { signClaims } from "../../src/tokens/a-jwt.js";
import { LocalSigner, parseEd25519PrivateKey } from "../../src/tokens/signer.js";
import { deriveTenantSigner } from "../../src/tokens/tenant-token-keys.js";
import { startKmsStandIn, type KmsStandIn } from "../helpers/kms-stand-in.js";
import { verifyLikeSdk } from "../helpers/sdk-checks.js";
import { call, freePort, newDatabase, newKey, newPgDatabase, newTenant, refundPolicy, startTestVault, TEST_KEY_BASE64, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

const TTL_SECONDS = 300;
const vaultKey = () => new LocalSigner("test-key-1", parseEd25519PrivateKey(TEST_KEY_BASE64, "test key"));
const headerOf = (token: string) => decodeProtectedHeader(token);
const b64json = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

describe.each<Engine>(["postgres", "pglite"])("per-tenant token keys on %s", (engine) => {
  let db: TestDatabase;
  let v: TestVault;
  const clock = new ManualClock(Date.now());
  let agentA: string;
  let other: { tenantId: string; adminKey: string };
  let agentB: string;

  const approve = async (key: string, amount = 5) => {
    const res = await call(v.url, "POST", "/request-clearance", { key, body: { tool_name: "stripe_refund", tool_args: { amount } } });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("approved");
    return res.body as { request_id: string; token: string };
  };
  const jwksKids = async () => ((await call(v.url, "GET", "/.well-known/jwks.json")).body.keys as { kid: string; x: string }[]).map((k) => k.kid);

  beforeAll(async () => {
    db = newDatabase(engine);
    v = await startTestVault(db, { overrides: { clock } });
    agentA = await newKey(v, "agent");
    other = await newTenant(v, "tenant-keys-other");
    agentB = await newKey(v, "agent", other.tenantId);
    for (const key of [v.adminKey, other.adminKey]) expect((await call(v.url, "POST", "/register-policy", { key, body: refundPolicy })).status).toBe(200);
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("signs each tenant's tokens with its own key, published in the JWKS the SDK reads", async () => {
    const a = await approve(agentA);
    const b = await approve(agentB);
    expect(headerOf(a.token)).toMatchObject({ alg: "EdDSA", kid: `test-key-1.${v.tenantId}` });
    expect(headerOf(b.token)).toMatchObject({ alg: "EdDSA", kid: `test-key-1.${other.tenantId}` });
    const jwks = (await call(v.url, "GET", "/.well-known/jwks.json")).body.keys as { kid: string; x: string }[];
    const x = (kid: string) => jwks.find((k) => k.kid === kid)?.x;
    expect(x(`test-key-1.${v.tenantId}`)).toBe(deriveTenantSigner(vaultKey(), v.tenantId, 1).publicJwk.x);
    expect(x(`test-key-1.${other.tenantId}`)).toBe(deriveTenantSigner(vaultKey(), other.tenantId, 1).publicJwk.x);
    expect(x(`test-key-1.${v.tenantId}`)).not.toBe(x(`test-key-1.${other.tenantId}`));
    // The vault key (tokens issued before per-tenant keys) and the ledger key stay published.
    expect(jwks.map((k) => k.kid)).toEqual(expect.arrayContaining(["test-key-1", "test-key-1.ledger"]));
    expect(await verifyLikeSdk(v.url, a.token)).toMatchObject({ tenant_id: v.tenantId });
    expect(await verifyLikeSdk(v.url, b.token)).toMatchObject({ tenant_id: other.tenantId });
  });

  it("refuses a token of one tenant carrying another tenant's kid or signed with another tenant's key", async () => {
    const a = await approve(agentA);
    const [h, p, s] = a.token.split(".") as [string, string, string];
    const swapped = `${b64json({ ...JSON.parse(Buffer.from(h, "base64url").toString()), kid: `test-key-1.${other.tenantId}` })}.${p}.${s}`;
    const res = await call(v.url, "POST", "/consume-token", { key: agentA, body: { token: swapped } });
    expect([res.status, res.body.code]).toEqual([401, "token_invalid"]);
    // Validly signed by tenant B's own key, but claiming tenant A.
    const claims = JSON.parse(Buffer.from(p, "base64url").toString());
    const byB = await signClaims(JSON.stringify(claims), deriveTenantSigner(vaultKey(), other.tenantId, 1));
    const refused = await call(v.url, "POST", "/consume-token", { key: agentA, body: { token: byB } });
    expect([refused.status, refused.body.code]).toEqual([401, "token_invalid"]);
    // Offline too: the JWKS names each tenant key's tenant, and the SDK (so the gateways) refuses the forgery.
    await approve(agentB); // publishes tenant B's key (a key is published with its first token)
    const jwks = (await call(v.url, "GET", "/.well-known/jwks.json")).body.keys as { kid: string; tenant_id?: string }[];
    expect(jwks.find((k) => k.kid === `test-key-1.${other.tenantId}`)?.tenant_id).toBe(other.tenantId);
    expect(jwks.find((k) => k.kid === "test-key-1")?.tenant_id).toBeUndefined();
    const sdk = new Countersign({ baseUrl: v.url, apiKey: agentA });
    await expect(sdk.verifyToken(byB)).rejects.toMatchObject({ name: "TokenVerificationError", code: "tenant_mismatch" });
    expect(await sdk.verifyToken(a.token)).toMatchObject({ tenant_id: v.tenantId });
    // The ledger key is marked as such in the JWKS: a token under it is refused offline as by the vault.
    expect(jwks.find((k) => k.kid === "test-key-1.ledger")).toMatchObject({ purpose: "ledger" });
    const byLedgerKey = await signClaims(JSON.stringify(claims), vaultKey().derive("test-key-1.ledger", "ledger signing key v1"));
    await expect(sdk.verifyToken(byLedgerKey)).rejects.toMatchObject({ name: "TokenVerificationError", code: "unknown_kid" });
    expect((await call(v.url, "POST", "/consume-token", { key: agentA, body: { token: byLedgerKey } })).status).toBe(401);
    // The real token still burns once.
    expect((await call(v.url, "POST", "/consume-token", { key: agentA, body: { token: a.token } })).status).toBe(200);
  });

  it("keeps accepting tokens signed by the vault-level key (issued before per-tenant keys)", async () => {
    const a = await approve(agentA);
    const [, p] = a.token.split(".") as [string, string, string];
    const legacy = await signClaims(Buffer.from(p, "base64url").toString(), vaultKey());
    expect(headerOf(legacy).kid).toBe("test-key-1");
    expect((await call(v.url, "POST", "/consume-token", { key: agentA, body: { token: legacy } })).status).toBe(200);
  });

  it("rotates: new tokens get the new kid, old ones consume and re-render identically, the old key leaves after TTL + margin", async () => {
    const before = await approve(agentA);
    const unconsumedBefore = await approve(agentA, 6);
    const oldKid = `test-key-1.${v.tenantId}`;
    // Another tenant's id is answered like an unknown one; an agent key may not rotate.
    expect((await call(v.url, "POST", `/tenants/${other.tenantId}/keys/rotate`, { key: v.adminKey, body: {} })).body.code).toBe("tenant_not_found");
    expect((await call(v.url, "POST", `/tenants/${v.tenantId}/keys/rotate`, { key: agentA, body: {} })).body.code).toBe("insufficient_scope");
    const rotated = await call(v.url, "POST", `/tenants/${v.tenantId}/keys/rotate`, { key: v.adminKey, body: {} });
    expect(rotated.status).toBe(200);
    expect(rotated.body).toEqual({ tenant_id: v.tenantId, kid: `${oldKid}.2`, previous_kid: oldKid });

    const after = await approve(agentA);
    expect(headerOf(after.token).kid).toBe(`${oldKid}.2`);
    expect(await verifyLikeSdk(v.url, after.token)).toMatchObject({ tenant_id: v.tenantId });
    // The other tenant is untouched.
    expect(headerOf((await approve(agentB)).token).kid).toBe(`test-key-1.${other.tenantId}`);
    // The token issued before the rotation re-renders to the same string and still burns.
    const poll = await call(v.url, "GET", `/clearance-status/${before.request_id}`, { key: agentA });
    expect(poll.body.token).toBe(before.token);
    expect((await call(v.url, "POST", "/consume-token", { key: agentA, body: { token: before.token } })).status).toBe(200);
    expect(await jwksKids()).toEqual(expect.arrayContaining([oldKid, `${oldKid}.2`]));

    const set = await call(v.url, "GET", `/tenants/${v.tenantId}/keys/public`, { key: agentA });
    expect(set.status).toBe(200);
    expect(set.headers.get("cache-control")).toBe("max-age=60");
    const keys = set.body.keys as Record<string, any>[];
    expect(keys.map((k) => [k.kid, k.status])).toEqual([
      [`${oldKid}.2`, "active"],
      [oldKid, "previous"],
      ["test-key-1", "previous"],
    ]);
    expect(keys[1]!.published_until).toBe(new Date(Date.parse(keys[1]!.retired_at) + (TTL_SECONDS + 60) * 1000).toISOString());
    const pemX = createPublicKey(keys[0]!.public_key_pem).export({ format: "jwk" }).x;
    expect(pemX).toBe(keys[0]!.public_jwk.x);
    expect(keys[0]!.publicKeyPem).toBe(keys[0]!.public_key_pem);
    expect((await call(v.url, "GET", `/tenants/${other.tenantId}/keys/public`, { key: agentA })).body.code).toBe("tenant_not_found");

    // TTL + margin later, the retired key has left the JWKS and the key set; the old token still re-renders the same.
    clock.advance((TTL_SECONDS + 61) * 1000);
    expect(await jwksKids()).not.toContain(oldKid);
    expect(await jwksKids()).toEqual(expect.arrayContaining([`${oldKid}.2`, "test-key-1", "test-key-1.ledger", `test-key-1.${other.tenantId}`]));
    const later = (await call(v.url, "GET", `/tenants/${v.tenantId}/keys/public`, { key: agentA })).body.keys as { kid: string }[];
    expect(later.map((k) => k.kid)).toEqual([`${oldKid}.2`]);
    const again = await call(v.url, "GET", `/clearance-status/${unconsumedBefore.request_id}`, { key: agentA });
    expect(again.body.token).toBe(unconsumedBefore.token);
  });

  it("countersign keys rotate --tenant rotates through the running vault", async () => {
    const current = (await call(v.url, "GET", `/tenants/${v.tenantId}/keys/public`, { key: v.adminKey })).body.keys[0].kid as string;
    const out = await runCli(["keys", "rotate", "--tenant", v.tenantId, "--json", "--url", v.url, "--api-key", v.adminKey]);
    expect(out.stderr).toBe("");
    expect(out.code).toBe(0);
    const printed = JSON.parse(out.stdout);
    expect(printed).toEqual({ tenant_id: v.tenantId, kid: `test-key-1.${v.tenantId}.3`, previous_kid: current });
    expect(headerOf((await approve(agentA)).token).kid).toBe(`test-key-1.${v.tenantId}.3`);
    // --tenant naming another tenant than the key's is refused before anything happens.
    const wrong = await runCli(["keys", "rotate", "--tenant", other.tenantId, "--url", v.url, "--api-key", v.adminKey]);
    expect(wrong.code).not.toBe(0);
    expect(headerOf((await approve(agentB)).token).kid).toBe(`test-key-1.${other.tenantId}`);
  });
});

describe("with VAULT_SIGNER_BACKEND=aws_kms (the KMS stand-in): one KMS token key for every tenant", () => {
  let kms: KmsStandIn;
  let db: TestDatabase;
  let v: TestVault;

  beforeAll(async () => {
    kms = await startKmsStandIn();
    kms.createKey("token-1");
    kms.createKey("ledger-1");
    db = newDatabase("pglite");
    v = await startTestVault(db, {
      env: {
        VAULT_PRIVATE_KEY_BASE64: "",
        VAULT_SIGNER_BACKEND: "aws_kms",
        VAULT_KEY_ID: "kms-token-1",
        VAULT_KMS_KEY_ID: "token-1",
        VAULT_LEDGER_KMS_KEY_ID: "ledger-1",
        AWS_ENDPOINT_URL_KMS: kms.url,
        AWS_REGION: "us-east-1",
        AWS_ACCESS_KEY_ID: "AKIDSTANDIN",
        AWS_SECRET_ACCESS_KEY: "stand-in-secret",
      },
    });
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy })).status).toBe(200);
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
    await kms?.close();
  });

  it("signs with the KMS key, lists it as the tenant's active key, verifies, and refuses a per-tenant rotation", async () => {
    const agent = await newKey(v, "agent");
    const res = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 5 } } });
    expect(res.body.status).toBe("approved");
    expect(headerOf(res.body.token).kid).toBe("kms-token-1");
    const set = (await call(v.url, "GET", `/tenants/${v.tenantId}/keys/public`, { key: agent })).body.keys as { kid: string; status: string }[];
    expect(set.map((k) => [k.kid, k.status])).toEqual([["kms-token-1", "active"]]);
    expect((await call(v.url, "POST", "/verify/token", { key: agent, body: { token: res.body.token, expected_kid: "kms-token-1" } })).body.valid).toBe(true);
    const rotate = await call(v.url, "POST", `/tenants/${v.tenantId}/keys/rotate`, { key: v.adminKey, body: {} });
    expect([rotate.status, rotate.body.code]).toEqual([409, "tenant_key_rotation_unsupported"]);
  });
});

function runCli(args: string[], extraEnv: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  const env = Object.fromEntries(
    Object.entries({ ...process.env, LOG_LEVEL: "silent", COUNTERSIGN_URL: undefined, COUNTERSIGN_API_KEY: undefined, COUNTERSIGN_DEBUG: undefined, ...extraEnv }).filter(
      ([, val]) => val !== undefined,
    ),
  ) as NodeJS.ProcessEnv;
  return new Promise((resolve) => {
    execFile("node", ["--import", "tsx", "src/main/cli.ts", ...args], { env }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

describe("per-tenant token keys across two vault processes on one PostgreSQL", () => {
  let db: TestDatabase;
  let a: TestVault;
  let b: TestVault;
  let agent: string;

  beforeAll(async () => {
    db = newPgDatabase();
    a = await startTestVault(db);
    b = await startTestVault(db, { adminKey: a.adminKey });
    agent = await newKey(a, "agent");
    expect((await call(a.url, "POST", "/register-policy", { key: a.adminKey, body: refundPolicy })).status).toBe(200);
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await db?.drop();
  });

  const approve = async (vault: TestVault) => {
    const res = await call(vault.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 5 } } });
    expect(res.body.status).toBe("approved");
    return res.body.token as string;
  };

  it("a kid one process hands out is already in the other's JWKS, and the other verifies and consumes its tokens", async () => {
    // b read the keys before any tenant key existed; a publishes the tenant's first key with its first token.
    await call(b.url, "GET", "/.well-known/jwks.json");
    const first = await approve(a);
    const kid = headerOf(first).kid!;
    expect(kid).toBe(`test-key-1.${a.tenantId}`);
    expect(await verifyLikeSdk(b.url, first)).toMatchObject({ tenant_id: a.tenantId });
    expect((await call(b.url, "POST", "/consume-token", { key: agent, body: { token: first } })).status).toBe(200);

    // Rotated through a: a's next token has the new kid, b's JWKS lists it at once and b accepts the token.
    const rotated = await call(a.url, "POST", `/tenants/${a.tenantId}/keys/rotate`, { key: a.adminKey, body: {} });
    expect(rotated.body.kid).toBe(`${kid}.2`);
    const next = await approve(a);
    expect(headerOf(next).kid).toBe(`${kid}.2`);
    expect(((await call(b.url, "GET", "/.well-known/jwks.json")).body.keys as { kid: string }[]).map((k) => k.kid)).toContain(`${kid}.2`);
    expect((await call(b.url, "POST", "/verify/token", { key: agent, body: { token: next } })).body).toMatchObject({ valid: true, consumed: false });
    expect((await call(b.url, "POST", "/consume-token", { key: agent, body: { token: next } })).status).toBe(200);

    // b's own tokens verify whichever key it signed with, and switch to the new key once it has re-read the keys (every 2 s).
    const deadline = Date.now() + 20_000;
    let fromB = await approve(b);
    expect(await verifyLikeSdk(a.url, fromB)).toMatchObject({ tenant_id: a.tenantId });
    while (headerOf(fromB).kid !== `${kid}.2` && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 500));
      fromB = await approve(b);
    }
    expect(headerOf(fromB).kid).toBe(`${kid}.2`);
    expect((await call(a.url, "POST", "/consume-token", { key: agent, body: { token: fromB } })).status).toBe(200);
  });

  it("countersign keys rotate --tenant over the database (no vault answering) rotates for the running vaults too", async () => {
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "cs-tenant-keys-cli-"));
    try {
      const env = { DATABASE_URL: db.url, VAULT_DATA_DIR: dataDir, VAULT_PORT: String(await freePort()), VAULT_PRIVATE_KEY_BASE64: TEST_KEY_BASE64, VAULT_KEY_ID: "test-key-1" };
      const out = await runCli(["keys", "rotate", "--tenant", a.tenantId, "--json"], env);
      expect(out.code, out.stderr).toBe(0);
      const kid = `test-key-1.${a.tenantId}`;
      expect(JSON.parse(out.stdout)).toEqual({ tenant_id: a.tenantId, kid: `${kid}.3`, previous_kid: `${kid}.2` });
      expect(((await call(a.url, "GET", "/.well-known/jwks.json")).body.keys as { kid: string }[]).map((k) => k.kid)).toContain(`${kid}.3`);
      const deadline = Date.now() + 20_000;
      let token = await approve(a);
      while (headerOf(token).kid !== `${kid}.3` && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 500));
        token = await approve(a);
      }
      expect(headerOf(token).kid).toBe(`${kid}.3`);
      expect((await call(b.url, "POST", "/consume-token", { key: agent, body: { token } })).status).toBe(200);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

/** A fresh Ed25519 key as VAULT_PRIVATE_KEY_BASE64 (base64 PKCS#8 DER). */
const newVaultKeyBase64 = () => generateKeyPairSync("ed25519").privateKey.export({ format: "der", type: "pkcs8" }).toString("base64");
const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()) as Record<string, unknown>;

describe.each<Engine>(["postgres", "pglite"])("tenant key hardening on %s", (engine) => {
  let db: TestDatabase;
  let v: TestVault;
  const clock = new ManualClock(Date.now());
  let agent: string;

  beforeAll(async () => {
    db = newDatabase(engine);
    v = await startTestVault(db, { overrides: { clock } });
    agent = await newKey(v, "agent");
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy })).status).toBe(200);
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });
  const approve = async (key = agent) => {
    const res = await call(v.url, "POST", "/request-clearance", { key, body: { tool_name: "stripe_refund", tool_args: { amount: 5 } } });
    expect(res.status).toBe(200);
    return res.body as { request_id: string; status: string; token?: string };
  };

  it("a first key that cannot be published sends the decision to review (fails closed), never a 500", async () => {
    const t = await newTenant(v, "unpublishable");
    expect((await call(v.url, "POST", "/register-policy", { key: t.adminKey, body: refundPolicy })).status).toBe(200);
    const tAgent = await newKey(v, "agent", t.tenantId);
    // Another key already holds the tenant's first kid: this vault cannot publish its own under it.
    const foreign = generateKeyPairSync("ed25519").publicKey.export({ format: "jwk" }).x;
    await v.vault.ctx.control.query(
      "INSERT INTO signing_keys (kid, algorithm, public_jwk, purpose, tenant_id, generation, base_kid, created_at) VALUES ($1, 'EdDSA', $2, 'token', $3, 1, 'test-key-1', $4)",
      [`test-key-1.${t.tenantId}`, JSON.stringify({ kty: "OKP", crv: "Ed25519", x: foreign, kid: `test-key-1.${t.tenantId}`, use: "sig", alg: "EdDSA" }), t.tenantId, clock.now()],
    );
    const res = await approve(tAgent);
    expect(res.status).not.toBe("approved");
    expect(res.token ?? null).toBeNull();
    // A tenant whose first generation is held by another kid: its first key cannot be registered at all.
    const u = await newTenant(v, "unregistrable");
    expect((await call(v.url, "POST", "/register-policy", { key: u.adminKey, body: refundPolicy })).status).toBe(200);
    const uAgent = await newKey(v, "agent", u.tenantId);
    await v.vault.ctx.control.query(
      "INSERT INTO signing_keys (kid, algorithm, public_jwk, purpose, tenant_id, generation, base_kid, created_at, retired_at) VALUES ($1, 'EdDSA', $2, 'token', $3, 1, 'test-key-1', $4, $4)",
      [`squatter.${u.tenantId}`, JSON.stringify({ kty: "OKP", crv: "Ed25519", x: foreign, kid: `squatter.${u.tenantId}`, use: "sig", alg: "EdDSA" }), u.tenantId, clock.now()],
    );
    const refused = await approve(uAgent);
    expect(refused.status).not.toBe("approved");
    expect(refused.token ?? null).toBeNull();
  });

  it("limits rotations: 429 rotation_too_frequent while 2 retired keys are still published, so the JWKS stays bounded", async () => {
    const t = await newTenant(v, "rotate-often");
    const rotate = () => call(v.url, "POST", `/tenants/${t.tenantId}/keys/rotate`, { key: t.adminKey, body: {} });
    for (let i = 0; i < 3; i++) expect((await rotate()).status).toBe(200);
    const refused = await rotate();
    expect([refused.status, refused.body.code]).toEqual([429, "rotation_too_frequent"]);
    const published = () => call(v.url, "GET", "/.well-known/jwks.json").then((r) => (r.body.keys as { tenant_id?: string }[]).filter((k) => k.tenant_id === t.tenantId).length);
    expect(await published()).toBe(3);
    // Once the retired keys have left the JWKS, rotating works again; unpublished keys are not listed.
    clock.advance((TTL_SECONDS + 61) * 1000);
    expect((await rotate()).status).toBe(200);
    expect(await published()).toBe(2);
  });

  it("verify/token: not_issued for a correctly signed jti the tenant never stored; bounded iat/exp; kids the vault never issues", async () => {
    const issued = await approve();
    const claims = claimsOf(issued.token!);
    expect(headerOf(issued.token!).kid).toBe(`test-key-1.${v.tenantId}`);
    const signer = deriveTenantSigner(vaultKey(), v.tenantId, 1);
    const resign = (c: Record<string, unknown>) => signClaims(JSON.stringify(c), signer);
    const verify = (body: Record<string, unknown>) => call(v.url, "POST", "/verify/token", { key: agent, body });
    expect((await verify({ token: issued.token })).body.valid).toBe(true);
    const never = await verify({ token: await resign({ ...claims, jti: "00000000-0000-4000-8000-000000000000" }) });
    expect([never.status, never.body.valid, never.body.code]).toEqual([200, false, "not_issued"]);
    for (const [iat, exp] of [[-1e20, 1e12], [claims.iat, 1e20], [claims.iat, (claims.exp as number) + 0.5]]) {
      const odd = await verify({ token: await resign({ ...claims, iat, exp }) });
      expect([odd.status, odd.body.code]).toEqual([200, "claims_invalid"]);
      const consumed = await call(v.url, "POST", "/consume-token", { key: agent, body: { token: await resign({ ...claims, iat, exp }) } });
      expect([consumed.status, consumed.body.code]).toEqual([401, "token_invalid"]);
    }
    const [, p, sig] = issued.token!.split(".") as [string, string, string];
    const nulKid = `${b64json({ alg: "EdDSA", kid: "test-key-1\u0000x", typ: "JWT" })}.${p}.${sig}`;
    expect((await verify({ token: nulKid })).body.code).toBe("malformed");
    const expected = await verify({ token: issued.token, expected_kid: "k\u0000" });
    expect([expected.status, expected.body.code]).toEqual([200, "unknown_kid"]);
  });

  it("the vault-level key verifies a tenant's tokens only if issued before the tenant's first own key (+30 s)", async () => {
    const t = await newTenant(v, "vault-key-window");
    expect((await call(v.url, "POST", "/register-policy", { key: t.adminKey, body: refundPolicy })).status).toBe(200);
    const tAgent = await newKey(v, "agent", t.tenantId);
    const token = (await approve(tAgent)).token!;
    const claims = claimsOf(token);
    const byVaultKey = (iat: number) => signClaims(JSON.stringify({ ...claims, iat, exp: iat + TTL_SECONDS }), vaultKey());
    const verify = async (tok: string) => (await call(v.url, "POST", "/verify/token", { key: tAgent, body: { token: tok } })).body;
    // Issued before the tenant's first key: accepted (its jti is stored, so the answer is valid).
    expect(await verify(await byVaultKey((claims.iat as number) - 10))).toMatchObject({ valid: true });
    clock.advance(120_000);
    const late = await verify(await byVaultKey(Math.floor(clock.nowMs() / 1000)));
    expect([late.valid, late.code]).toEqual([false, "unknown_kid"]);
  });
});

describe.each<Engine>(["postgres", "pglite"])("a new VAULT_KEY_ID on %s", (engine) => {
  it("retires the old key's tenant keys: gone from the JWKS and the key set after TTL + margin, its tokens unknown_kid", async () => {
    const db = newDatabase(engine);
    const clock = new ManualClock(Date.now());
    let v: TestVault | undefined;
    try {
      v = await startTestVault(db, { overrides: { clock } });
      const adminKey = v.adminKey;
      expect((await call(v.url, "POST", "/register-policy", { key: adminKey, body: refundPolicy })).status).toBe(200);
      const agent = await newKey(v, "agent");
      const approve = async () => (await call(v!.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 5 } } })).body;
      const old = (await approve()).token as string;
      const oldKid = `test-key-1.${v.tenantId}`;
      expect(headerOf(old).kid).toBe(oldKid);
      const tenantId = v.tenantId;
      await v.close();
      v = undefined;

      clock.advance(1_000);
      v = await startTestVault(db, { adminKey, overrides: { clock }, env: { VAULT_KEY_ID: "test-key-2", VAULT_PRIVATE_KEY_BASE64: newVaultKeyBase64() } });
      const fresh = (await approve()).token as string;
      expect(headerOf(fresh).kid).toBe(`test-key-2.${tenantId}`);
      // Tokens of the old key stay good while they may live.
      expect((await call(v.url, "POST", "/verify/token", { key: agent, body: { token: old } })).body.valid).toBe(true);

      clock.advance((TTL_SECONDS + 61) * 1000);
      const kids = ((await call(v.url, "GET", "/.well-known/jwks.json")).body.keys as { kid: string }[]).map((k) => k.kid);
      expect(kids).not.toContain(oldKid);
      expect(kids).not.toContain("test-key-1");
      expect(kids).toContain(`test-key-2.${tenantId}`);
      const set = (await call(v.url, "GET", `/tenants/${tenantId}/keys/public`, { key: agent })).body.keys as { kid: string }[];
      expect(set.map((k) => k.kid)).not.toContain(oldKid);
      // A token signed now with the old tenant key is refused.
      const forged = await signClaims(JSON.stringify({ ...claimsOf(old), iat: Math.floor(clock.nowMs() / 1000), exp: Math.floor(clock.nowMs() / 1000) + 60 }), deriveTenantSigner(vaultKey(), tenantId, 1));
      const res = await call(v.url, "POST", "/verify/token", { key: agent, body: { token: forged } });
      expect([res.body.valid, res.body.code]).toEqual([false, "unknown_kid"]);
    } finally {
      await v?.close();
      await db.drop();
    }
  });
});

describe("tenant key races on PostgreSQL", () => {
  let db: TestDatabase;
  let v: TestVault;
  beforeAll(async () => {
    db = newPgDatabase();
    v = await startTestVault(db);
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("a first key published while a rotation holds the tenant and inserts the same kid: no deadlock, both agree", async () => {
    const t = await newTenant(v, "deadlock");
    const first = deriveTenantSigner(vaultKey(), t.tenantId, 1);
    const rotation = new pg.Client({ connectionString: db.url });
    await rotation.connect();
    try {
      // What a rotation does: lock the tenant's row, then insert the (first) kid.
      await rotation.query("BEGIN");
      await rotation.query("SELECT id FROM tenants WHERE id = $1 FOR UPDATE", [t.tenantId]);
      const registering = v.vault.ctx.keys
        .registerTenantKey({ kid: first.kid, publicJwk: first.publicJwk, tenantId: t.tenantId, generation: 1, baseKid: "test-key-1" })
        .then(() => "published", (err: unknown) => err);
      const deadline = Date.now() + 20_000;
      const waiting = async () =>
        (await rotation.query("SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'")).rows[0].n as number;
      while ((await waiting()) === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(await waiting()).toBeGreaterThan(0);
      await rotation.query(
        "INSERT INTO signing_keys (kid, algorithm, public_jwk, purpose, tenant_id, generation, base_kid, created_at) VALUES ($1, 'EdDSA', $2, 'token', $3, 1, 'test-key-1', now())",
        [first.kid, JSON.stringify(first.publicJwk), t.tenantId],
      );
      await rotation.query("COMMIT");
      expect(await registering).toBe("published");
    } finally {
      await rotation.end();
    }
  });

  it("concurrent first tokens and rotations of new tenants never answer 500", async () => {
    for (let i = 0; i < 4; i++) {
      const t = await newTenant(v, `race-${i}`);
      expect((await call(v.url, "POST", "/register-policy", { key: t.adminKey, body: refundPolicy })).status).toBe(200);
      const tAgent = await newKey(v, "agent", t.tenantId);
      const [clear, rotate] = await Promise.all([
        call(v.url, "POST", "/request-clearance", { key: tAgent, body: { tool_name: "stripe_refund", tool_args: { amount: 5 } } }),
        call(v.url, "POST", `/tenants/${t.tenantId}/keys/rotate`, { key: t.adminKey, body: {} }),
      ]);
      expect(clear.status).toBe(200);
      expect([200, 503]).toContain(rotate.status);
    }
  });

  it("countersign keys rotate over the database with another VAULT_KEY_ID is refused (exit 1) and rotates nothing", async () => {
    await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy });
    const agent = await newKey(v, "agent");
    await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 5 } } });
    const before = (await call(v.url, "GET", `/tenants/${v.tenantId}/keys/public`, { key: v.adminKey })).body.keys[0].kid as string;
    const dataDir = mkdtempSync(path.join(os.tmpdir(), "cs-tenant-keys-cli-"));
    try {
      const env = { DATABASE_URL: db.url, VAULT_DATA_DIR: dataDir, VAULT_PORT: String(await freePort()), VAULT_PRIVATE_KEY_BASE64: TEST_KEY_BASE64, VAULT_KEY_ID: "test-key-9" };
      const out = await runCli(["keys", "rotate", "--tenant", v.tenantId], env);
      expect(out.code).toBe(1);
      expect(out.stderr).toContain("VAULT_KEY_ID");
      const after = (await call(v.url, "GET", `/tenants/${v.tenantId}/keys/public`, { key: v.adminKey })).body.keys as { kid: string; status: string }[];
      expect(after[0]).toMatchObject({ kid: before, status: "active" });
      expect(after.map((k) => k.kid).some((k) => k.startsWith("test-key-9"))).toBe(false);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
