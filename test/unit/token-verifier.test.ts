/**
 * The pure token verifier (src/tokens/token-verifier.ts) on a real control database (PGlite): the
 * header and claim checks that tokens from a vault never exercise, and tenant-bound keys.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { migrate } from "../../src/db/migrate.js";
import { PgliteDatabase } from "../../src/db/pglite-database.js";
import type { Sql } from "../../src/db/sql.js";
import { newClaims, signClaims } from "../../src/tokens/a-jwt.js";
import { KeyRegistry } from "../../src/tokens/key-registry.js";
import { LocalSigner, parseEd25519PrivateKey } from "../../src/tokens/signer.js";
import { deriveTenantSigner, tenantKid, TenantTokenKeys } from "../../src/tokens/tenant-token-keys.js";
import { verifyToken, type VerifyExpectations } from "../../src/tokens/token-verifier.js";

const vault = new LocalSigner("kid-v", parseEd25519PrivateKey(Buffer.from("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60", "hex").toString("base64"), "t"));
const settings = { issuer: "alcv-vault", audience: "ledgix-sdk", ttlSeconds: 300 };
const clock = new ManualClock(Date.UTC(2026, 11, 5, 12));
const input = (tenantId: string) => ({ tool: "t", toolArgsHash: "ab".repeat(32), agentId: "a", sessionId: "", policyId: "p", requestId: "req_1", tenantId });
const expectations: VerifyExpectations = { expirySkewSeconds: 30, issuedSkewSeconds: 30 };
const b64json = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

describe("verifyToken", () => {
  let keys: KeyRegistry;
  let tenantKeys: TenantTokenKeys;

  beforeAll(async () => {
    const db = await PgliteDatabase.open("memory://");
    await migrate(db, "control");
    for (const id of ["t_a", "t_b"]) await db.query("INSERT INTO tenants (id, name, db_name) VALUES ($1, $1, $1)", [id]);
    keys = new KeyRegistry(db, clock, 360);
    await keys.register(vault);
    tenantKeys = new TenantTokenKeys(vault, keys, clock);
  });

  const sign = async (tenantId: string, over: Record<string, unknown> = {}, signer?: LocalSigner) => {
    const claims = { ...newClaims(input(tenantId), settings, clock), ...over };
    const kid = tenantKeys.currentKid(tenantId);
    return signClaims(JSON.stringify(claims), signer ?? ((await tenantKeys.signerFor(kid, tenantId, new Date(claims.exp * 1000))) as LocalSigner));
  };
  const check = (token: string, over: Partial<VerifyExpectations> = {}) => verifyToken(token, { keys, settings, clock }, { ...expectations, ...over });

  it("publishes a tenant's first key when its first token is signed, and verifies it for that tenant only", async () => {
    const token = await sign("t_a");
    expect(JSON.parse(Buffer.from(token.split(".")[0]!, "base64url").toString()).kid).toBe(tenantKid("kid-v", "t_a", 1));
    expect((await keys.jwks()).keys.map((k) => k.kid)).toContain("kid-v.t_a");
    expect(await check(token, { callerTenantId: "t_a" })).toMatchObject({ valid: true, header: { alg: "EdDSA", kid: "kid-v.t_a", typ: "JWT" } });
    expect((await check(token, { callerTenantId: "t_b" })).code).toBe("tenant_mismatch");
    // Tenant B's key, under B's kid, on claims of tenant A: B's key does not verify A's tokens.
    await sign("t_b");
    const byB = await sign("t_a", {}, deriveTenantSigner(vault, "t_b", 1));
    expect((await check(byB, { callerTenantId: "t_a" })).code).toBe("unknown_kid");
  });

  it("refuses headers it does not understand and claims it does not expect", async () => {
    const token = await sign("t_a");
    const [h, p, s] = token.split(".") as [string, string, string];
    const header = JSON.parse(Buffer.from(h, "base64url").toString());
    expect((await check(`${b64json({ ...header, crit: ["exp"] })}.${p}.${s}`)).code).toBe("malformed");
    expect((await check(`${b64json({ ...header, typ: "at+jwt" })}.${p}.${s}`)).code).toBe("malformed");
    expect((await check(`${b64json({ ...header, alg: "Ed25519" })}.${p}.${s}`)).code).toBe("alg_unsupported");
    expect((await check(`${h}.${b64json([1])}.${s}`)).code).toBe("malformed");
    expect((await check(`${h}.${p}.${s}=`)).code).toBe("malformed");
    expect((await check(await sign("t_a", { aud: "someone-else" }))).code).toBe("claims_invalid");
    expect((await check(await sign("t_a", { decision: "no" }))).code).toBe("claims_invalid");
    expect((await check(await sign("t_a", { exp: Math.floor(clock.nowMs() / 1000) - 1, iat: Math.floor(clock.nowMs() / 1000) }))).code).toBe("claims_invalid");
    expect((await check(await sign("t_a", { nbf: Math.floor(clock.nowMs() / 1000) + 31 }))).code).toBe("not_yet_valid");
    expect((await check(await sign("t_a", { nbf: Math.floor(clock.nowMs() / 1000) + 30 }))).valid).toBe(true);
  });

  it("keeps verifying the vault key's tokens, and a retired key until TTL + margin after its retirement", async () => {
    const legacy = await sign("t_a", {}, vault);
    expect((await check(legacy, { callerTenantId: "t_a" })).valid).toBe(true);
    const before = await sign("t_a");
    expect(await tenantKeys.rotate("t_a")).toEqual({ retired: "kid-v.t_a", current: "kid-v.t_a.2" });
    expect(tenantKeys.currentKid("t_a")).toBe("kid-v.t_a.2");
    expect((await check(before, { callerTenantId: "t_a" })).valid).toBe(true);
    expect(await tenantKeys.rotate("t_nobody")).toBeUndefined();
    const views = await tenantKeys.keySet("t_a");
    expect(views.map((v) => [v.kid, v.status])).toEqual([["kid-v.t_a.2", "active"], ["kid-v.t_a", "previous"], ["kid-v", "previous"]]);
    const start = clock.nowMs();
    clock.advance(361_000);
    try {
      expect((await check(before, { callerTenantId: "t_a", expirySkewSeconds: 3600 })).code).toBe("unknown_kid");
      expect((await keys.jwks()).keys.map((k) => k.kid)).not.toContain("kid-v.t_a");
      // A process that had not seen the rotation may not sign a new token with a key that is no longer published.
      await expect(tenantKeys.signerFor("kid-v.t_a", "t_a", new Date(clock.nowMs() + 300_000))).rejects.toThrow(/retired/);
    } finally {
      clock.set(start);
    }
  });
});

/** The control database with its queries counted, and the summary query's answer held back on demand. */
function instrumented(db: Sql) {
  const state = { queries: 0, hold: undefined as Promise<void> | undefined };
  const sql = new Proxy(db, {
    get(target, prop, receiver) {
      if (prop === "query") {
        return async (text: string, params?: unknown[]) => {
          state.queries++;
          const rows = await target.query(text, params);
          if (state.hold && text.startsWith("SELECT count(*)")) await state.hold;
          return rows;
        };
      }
      const value = Reflect.get(target, prop, receiver);
      return typeof value === "function" ? value.bind(target) : value;
    },
  }) as Sql;
  return { sql, state };
}

describe("KeyRegistry freshness and cost", () => {
  const newRegistry = async () => {
    const db = await PgliteDatabase.open("memory://");
    await migrate(db, "control");
    await db.query("INSERT INTO tenants (id, name, db_name) VALUES ('t_a', 't_a', 't_a')");
    const { sql, state } = instrumented(db);
    const keys = new KeyRegistry(sql, clock, 360);
    await keys.register(vault);
    return { db, keys, state };
  };

  it("random kids cost at most one query per second per process, however many arrive", async () => {
    const { db, keys, state } = await newRegistry();
    const before = state.queries;
    const kids = Array.from({ length: 200 }, (_, i) => `random-${i}`);
    expect(await Promise.all(kids.map((kid) => keys.lookup(kid)))).toEqual(kids.map(() => undefined));
    expect(state.queries - before).toBeLessThanOrEqual(2);
    // A kid committed since is found by the next unknown-kid check (a second later at most).
    const other = deriveTenantSigner(vault, "t_a", 1);
    await db.query(
      "INSERT INTO signing_keys (kid, algorithm, public_jwk, purpose, tenant_id, generation, base_kid, created_at) VALUES ($1, 'EdDSA', $2, 'token', 't_a', 1, 'kid-v', $3)",
      [other.kid, JSON.stringify(other.publicJwk), clock.now()],
    );
    expect((await keys.lookup(other.kid))?.kid).toBe(other.kid);
    // A kid the vault never issues (a NUL, too long) is not looked up at all.
    const n = state.queries;
    expect(await keys.lookup("kid\u0000")).toBeUndefined();
    expect(await keys.lookup("k".repeat(201))).toBeUndefined();
    expect(state.queries).toBe(n);
  });

  it("a JWKS request never joins a check that started before another process committed a kid", async () => {
    const { db, keys, state } = await newRegistry();
    let release!: () => void;
    state.hold = new Promise((resolve) => (release = resolve));
    const early = keys.jwks();
    // Let the first check run its query (it is held after it answered).
    await new Promise((resolve) => setTimeout(resolve, 50));
    // Another process publishes a tenant key and hands out a token with it.
    const other = deriveTenantSigner(vault, "t_a", 1);
    await db.query(
      "INSERT INTO signing_keys (kid, algorithm, public_jwk, purpose, tenant_id, generation, base_kid, created_at) VALUES ($1, 'EdDSA', $2, 'token', 't_a', 1, 'kid-v', $3)",
      [other.kid, JSON.stringify(other.publicJwk), clock.now()],
    );
    const late = keys.jwks();
    state.hold = undefined;
    release();
    await early;
    expect((await late).keys.map((k) => k.kid)).toContain(other.kid);
  });

  it("bounds iat and exp: a huge or fractional time is claims_invalid, never an exception", async () => {
    const { keys } = await newRegistry();
    const tenantKeys = new TenantTokenKeys(vault, keys, clock);
    const claims = newClaims(input("t_a"), settings, clock);
    const signer = (await tenantKeys.signerFor(tenantKeys.currentKid("t_a"), "t_a", new Date(claims.exp * 1000))) as LocalSigner;
    for (const over of [{ exp: -1e20 }, { iat: -1e20 }, { exp: 1e20 }, { exp: claims.exp + 0.5 }]) {
      const token = await signClaims(JSON.stringify({ ...claims, ...over }), signer);
      expect((await verifyToken(token, { keys, settings, clock }, expectations)).code).toBe("claims_invalid");
    }
  });
});
