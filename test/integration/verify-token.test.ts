/**
 * POST /verify/token (issue 15): every verdict code with real tokens from a real vault on both
 * engines, request-level refusals (400), and that verification never burns.
 */
import { createHmac, generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { canonicalJson, sha256Hex } from "../../src/tokens/canonical-json.js";
import { call, newDatabase, newKey, newTenant, refundPolicy, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

const ARGS = { amount: 45, currency: "usd", order_id: "o-1" };
const b64json = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");
const parts = (token: string) => {
  const [h, p, s] = token.split(".") as [string, string, string];
  return { h, p, s, header: JSON.parse(Buffer.from(h, "base64url").toString()), claims: JSON.parse(Buffer.from(p, "base64url").toString()) };
};

/** The fenced block after `<!-- name -->` in docs/tokens.md. */
function docsBlock(name: string): string {
  const doc = readFileSync(path.resolve(import.meta.dirname, "../../docs/tokens.md"), "utf8");
  const at = doc.indexOf(`<!-- ${name} -->`);
  if (at < 0) throw new Error(`docs/tokens.md has no example marked <!-- ${name} -->`);
  const block = /```\w*\n([\s\S]*?)```/.exec(doc.slice(at));
  if (!block) throw new Error(`docs/tokens.md: no fenced block after <!-- ${name} -->`);
  return block[1]!;
}

describe.each<Engine>(["postgres", "pglite"])("POST /verify/token on %s", (engine) => {
  let db: TestDatabase;
  let v: TestVault;
  const clock = new ManualClock(Date.now());
  let agent: string;
  let reviewer: string;
  let otherAgent: string;
  let otherTenantId: string;

  const approve = async (key = agent, toolArgs: object = ARGS) => {
    const res = await call(v.url, "POST", "/request-clearance", { key, body: { tool_name: "stripe_refund", tool_args: toolArgs } });
    expect(res.body.status).toBe("approved");
    return res.body.token as string;
  };
  const verify = (body: object, key = agent) => call(v.url, "POST", "/verify/token", { key, body });
  const verdict = async (body: object, key = agent) => {
    const res = await verify(body, key);
    expect(res.status).toBe(200);
    return res.body as { valid: boolean; code: string | null; reason: string | null; header: Record<string, string> | null; claims: Record<string, unknown> | null; consumed?: boolean };
  };

  beforeAll(async () => {
    db = newDatabase(engine);
    v = await startTestVault(db, { overrides: { clock } });
    agent = await newKey(v, "agent");
    reviewer = await newKey(v, "reviewer");
    const other = await newTenant(v, "verify-other");
    otherTenantId = other.tenantId;
    otherAgent = await newKey(v, "agent", other.tenantId);
    for (const key of [v.adminKey, other.adminKey]) expect((await call(v.url, "POST", "/register-policy", { key, body: refundPolicy })).status).toBe(200);
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("answers valid with header and claims when every expectation holds, in either spelling", async () => {
    const token = await approve();
    const kid = `test-key-1.${v.tenantId}`;
    const pem = (await call(v.url, "GET", `/tenants/${v.tenantId}/keys/public`, { key: agent })).body.keys[0].public_key_pem as string;
    const ok = await verdict({
      token,
      expected_kid: kid,
      expected_tenant_id: v.tenantId,
      expected_tool: "stripe_refund",
      expected_tool_args: ARGS,
      max_token_ttl_seconds: 300,
      clock_skew_seconds: 0,
      public_key_pem: pem,
    });
    expect(ok).toMatchObject({ valid: true, code: null, reason: null, header: { alg: "EdDSA", kid, typ: "JWT" }, consumed: false });
    expect(ok.claims).toMatchObject({ tenant_id: v.tenantId, tool: "stripe_refund", tool_args_hash: sha256Hex(canonicalJson(ARGS)), sub: "clearance" });
    const camel = await verdict({ token, expectedKid: kid, expectedTenantId: v.tenantId, maxTokenTtlSeconds: 300, clockSkewSeconds: 5, publicKeyPem: pem });
    expect(camel.valid).toBe(true);
    expect((await verdict({ token, expected_tool_args_hash: sha256Hex(canonicalJson(ARGS)) })).valid).toBe(true);
    // An admin key may verify too.
    expect((await verdict({ token }, v.adminKey)).valid).toBe(true);
  });

  it("accepts the request documented in docs/tokens.md, with a real token and tenant", async () => {
    const documented = JSON.parse(docsBlock("verify-token-request"));
    const token = await approve(agent, documented.expected_tool_args);
    const ok = await verdict({ ...documented, token, expected_tenant_id: v.tenantId });
    expect(ok).toMatchObject({ valid: true, consumed: false, claims: { tool: documented.expected_tool } });
  });

  it("refuses tampered, unsigned and confused tokens with stable codes", async () => {
    const token = await approve();
    const t = parts(token);
    const tampered = `${t.h}.${Buffer.from(Buffer.from(t.p, "base64url").toString().replace("stripe_refund", "stripe_refunc")).toString("base64url")}.${t.s}`;
    expect(await verdict({ token: tampered })).toMatchObject({ valid: false, code: "invalid_signature", claims: null, header: { alg: "EdDSA", kid: t.header.kid } });
    const none = `${b64json({ alg: "none", kid: t.header.kid, typ: "JWT" })}.${t.p}.`;
    expect(await verdict({ token: none })).toMatchObject({ valid: false, code: "alg_unsupported", header: { alg: "none" } });
    const input = `${b64json({ alg: "HS256", kid: t.header.kid, typ: "JWT" })}.${t.p}`;
    const hs = `${input}.${createHmac("sha256", "secret").update(input).digest("base64url")}`;
    expect((await verdict({ token: hs })).code).toBe("alg_unsupported");
    expect(await verdict({ token: "a.b" })).toMatchObject({ valid: false, code: "malformed", header: null });
    expect((await verdict({ token: `${b64json({ alg: "EdDSA" })}.${t.p}.${t.s}` })).code).toBe("malformed");
    const unknownKid = `${b64json({ ...t.header, kid: "no-such-key" })}.${t.p}.${t.s}`;
    expect((await verdict({ token: unknownKid })).code).toBe("unknown_kid");
    // The other tenant's kid is not a key this tenant's tokens may carry.
    const otherKid = `${b64json({ ...t.header, kid: `test-key-1.${otherTenantId}` })}.${t.p}.${t.s}`;
    expect((await verdict({ token: otherKid })).code).toBe("unknown_kid");
  });

  it("checks expected_kid and public_key_pem against the registered keys", async () => {
    const token = await approve();
    expect((await verdict({ token, expected_kid: "no-such-key" })).code).toBe("unknown_kid");
    // The vault-level key is a key this tenant's tokens may carry, but not this token's.
    expect((await verdict({ token, expected_kid: "test-key-1" })).code).toBe("kid_mismatch");
    const stranger = generateKeyPairSync("ed25519").publicKey.export({ format: "pem", type: "spki" }).toString();
    expect((await verdict({ token, public_key_pem: stranger })).code).toBe("public_key_mismatch");
    expect((await verdict({ token, publicKeyPem: "-----BEGIN PUBLIC KEY-----\nnope\n-----END PUBLIC KEY-----" })).code).toBe("public_key_mismatch");
  });

  it("applies the clock skew to expiry and issue time, and max_token_ttl_seconds", async () => {
    const token = await approve();
    expect((await verdict({ token, max_token_ttl_seconds: 299 })).code).toBe("ttl_too_long");
    expect((await verdict({ token, max_token_ttl_seconds: 300 })).valid).toBe(true);
    const start = clock.nowMs();
    clock.advance((300 + 31) * 1000);
    try {
      expect((await verdict({ token })).code).toBe("expired");
      expect((await verdict({ token, clock_skew_seconds: 32 })).valid).toBe(true);
    } finally {
      clock.set(start);
    }
    // A token issued by a clock 31 s ahead: in the future beyond the default 30 s skew.
    clock.advance(31_000);
    const ahead = await approve();
    clock.set(start);
    expect((await verdict({ token: ahead })).code).toBe("not_yet_valid");
    expect((await verdict({ token: ahead, clockSkewSeconds: 40 })).valid).toBe(true);
  });

  it("refuses other tenants' tokens without looking at their signature, and binding mismatches", async () => {
    const theirs = await approve(otherAgent);
    expect(await verdict({ token: theirs })).toMatchObject({ valid: false, code: "tenant_mismatch", claims: null });
    // Even a garbage signature gets the same answer: nothing is said about it.
    const t = parts(theirs);
    expect((await verdict({ token: `${t.h}.${t.p}.${"A".repeat(86)}` })).code).toBe("tenant_mismatch");
    const mine = await approve();
    expect((await verdict({ token: mine, expected_tenant_id: otherTenantId })).code).toBe("tenant_mismatch");
    expect((await verdict({ token: mine, expected_tool: "wire_transfer" })).code).toBe("binding_mismatch");
    expect((await verdict({ token: mine, expected_tool_args: { ...ARGS, amount: 46 } })).code).toBe("binding_mismatch");
    expect((await verdict({ token: mine, expected_tool_args: null })).code).toBe("binding_mismatch");
    expect((await verdict({ token: mine, expected_tool_args_hash: "0".repeat(64) })).code).toBe("binding_mismatch");
  });

  it("never burns: a verified token still consumes, and is then reported consumed", async () => {
    const token = await approve();
    expect(await verdict({ token })).toMatchObject({ valid: true, consumed: false });
    expect(await verdict({ token })).toMatchObject({ valid: true, consumed: false });
    const burned = await call(v.url, "POST", "/consume-token", { key: agent, body: { token, tool_name: "stripe_refund", tool_args: ARGS } });
    expect(burned.status).toBe(200);
    expect(await verdict({ token })).toMatchObject({ valid: true, consumed: true });
  });

  it("answers a malformed request with 400 problem+json, and refuses reviewer keys", async () => {
    const token = await approve();
    const bad = [
      {},
      { token: 5 },
      { token, extra: 1 },
      { token, expected_kid: "a", expectedKid: "a" },
      { token, clock_skew_seconds: 5, clockSkewSeconds: 5 },
      { token, public_key_pem: "x", publicKeyPem: "x" },
      { token, expected_tool_args: ARGS, expected_tool_args_hash: "0".repeat(64) },
      { token, clock_skew_seconds: 301 },
      { token, max_token_ttl_seconds: 0 },
      { token, max_token_ttl_seconds: 1.5 },
    ];
    for (const body of bad) {
      const res = await verify(body);
      expect([res.status, res.headers.get("content-type"), res.body.code], JSON.stringify(body)).toEqual([400, "application/problem+json; charset=utf-8", "validation_failed"]);
    }
    expect((await verify({ token }, reviewer)).body.code).toBe("insufficient_scope");
    expect((await call(v.url, "POST", "/verify/token", { body: { token } })).status).toBe(401);
  });
});
