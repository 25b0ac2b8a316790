import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { toBase64, utf8 } from "../../src/protocols/encoding.js";
import { encodeEnvelope, signEnvelope } from "../../src/protocols/stepauth/envelope.js";
import type { PrivateKeyset } from "../../src/protocols/stepauth/keyset.js";
import { hubOf, newSp, post, registerSp, requestJson, rfc3339, signed, submit, type Hub, type TestSp } from "../helpers/stepauth-sp.js";
import { call, newDatabase, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

/**
 * Submit: the reference's processing order and every error code of its table, as problem+json that
 * also carries `error` and `message`; and hostile input never gets a 5xx.
 */
describe.each<Engine>(["pglite", "postgres"])("StepAuth submit on %s", (engine) => {
  let db: TestDatabase;
  let v: TestVault;
  let hub: Hub;
  let sp: TestSp;
  const app = () => v.vault.app;
  const send = (body: string | Buffer, headers?: Record<string, string>) => post(app(), `${hub.base}/authorization-requests`, body, headers);
  const expectError = (res: { statusCode: number; json(): any }, status: number, code: string) => {
    expect(res.statusCode).toBe(status);
    expect(res.json()).toMatchObject({ code, error: code, message: expect.any(String), status });
  };

  beforeAll(async () => {
    db = newDatabase(engine);
    v = await startTestVault(db, { env: { VAULT_CEL_TIMEOUT_MS: "2000" } });
    await call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name: "Ana", email: "ana@example.com", groups: ["finance"] } });
    sp = newSp();
    await registerSp(app(), v.adminKey, sp, "https://sp.example.com/stepauth/*");
    hub = await hubOf(app(), v.tenantId);
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("publishes the hub's metadata: entity, one hybrid keyset, host", async () => {
    // Without VAULT_PUBLIC_URL: the address the vault listens on, with the port it bound (never VAULT_PORT=0).
    const origin = new URL(v.url);
    expect(origin.port).not.toBe("0");
    expect(hub.entity).toBe(`${origin.host}/stepauth/${v.tenantId}`);
    const metadata = (await app().inject({ method: "GET", url: hub.base + "/metadata" })).json();
    expect(metadata.host).toBe(`${v.url}/stepauth/${v.tenantId}`);
    expect(hub.keysets).toHaveLength(1);
    expect(hub.keysets[0]!.keys.map((k) => k.alg)).toEqual(["ed25519", "ml-dsa-65"]);
    const unknownTenant = await app().inject({ method: "GET", url: "/stepauth/t_nope/v1/metadata" });
    expectError(unknownTenant, 404, "not_found");
  });

  it("accepts a valid request (202) and refuses its requestId again (409 duplicate_request), even the same bytes", async () => {
    const first = await submit(app(), hub, sp);
    expect(first.res.statusCode, first.res.body).toBe(202);
    const again = await send(signed(sp, first.bytes));
    expectError(again, 409, "duplicate_request");
    // Another sender may use the same requestId.
    const other = newSp();
    await registerSp(app(), v.adminKey, other);
    expect((await submit(app(), hub, other, { requestId: first.requestId })).res.statusCode).toBe(202);
  });

  it("follows the processing order: sender before signature, signature before fields", async () => {
    const stranger = newSp("stranger.example.com");
    // Unknown sender, bad signature, wrong recipient: unknown_sender.
    const unknown = requestJson(stranger, "another-hub", {});
    expectError(await send(signed(sp, unknown.bytes)), 401, "unknown_sender");
    // Registered sender, signed by someone else, wrong recipient: invalid_signature.
    const forged = requestJson(sp, "another-hub", {});
    expectError(await send(signed(stranger, forged.bytes)), 401, "invalid_signature");
    // Correctly signed, wrong recipient: wrong_recipient.
    expectError(await send(signed(sp, forged.bytes)), 403, "wrong_recipient");
  });

  it("answers every field rule with the reference's code", async () => {
    const deep = (n: number): Record<string, unknown> => (n === 0 ? { subject: "email:a@b.com" } : { subject: "email:a@b.com", operator: deep(n - 1) });
    const cases: [Record<string, unknown>, number, string][] = [
      [{ timestamp: rfc3339(Date.now() - 10 * 60_000), expiresAt: rfc3339(Date.now() + 60_000) }, 400, "timestamp_out_of_range"],
      [{ expiresAt: rfc3339(Date.now() - 1000) }, 400, "malformed_request"],
      [{ expiresAt: rfc3339(Date.now() + 8 * 86_400_000) }, 400, "malformed_request"],
      [{ principal: deep(6) }, 400, "operator_depth_exceeded"],
      [{ action: { category: "payments.refund" } }, 400, "unknown_category"],
      [{ callbackUrl: "ftp://sp.example.com/cb" }, 400, "invalid_callback_url"],
      [{ callbackUrl: "https://evil.example.com/stepauth/cb" }, 400, "invalid_callback_url"],
      [{ action: { approver: "email:nobody@example.com" } }, 400, "unknown_approver"],
      [{ action: { approver: "group:nobody" } }, 400, "unknown_approver"],
      [{ action: { approver: "policy:nope" } }, 400, "unknown_approver"],
      [{ principal: { subject: "group:finance" } }, 400, "malformed_request"],
      [{ action: { summary: undefined } }, 400, "malformed_request"],
      [{ action: { type: "x".repeat(300) } }, 400, "malformed_request"],
    ];
    for (const [over, status, code] of cases) {
      const res = (await submit(app(), hub, sp, over)).res;
      expect({ over: Object.keys(over), status: res.statusCode, code: res.json().error }).toEqual({ over: Object.keys(over), status, code });
    }
    expect((await submit(app(), hub, sp, { action: { approver: "email:ana@example.com" } })).res.statusCode).toBe(202);
    expect((await submit(app(), hub, sp, { callbackUrl: "https://sp.example.com/stepauth/cb-1" })).res.statusCode).toBe(202);
  });

  it("refuses an approver group beyond the review rules' 10 groups: approver_set_too_large", async () => {
    const groups = Array.from({ length: 10 }, (_, i) => ({ name: `g${i}`, approvals_required: 1 }));
    expect((await call(v.url, "PUT", "/review-settings", { key: v.adminKey, body: { minimum_confidence_bucket: "high", groups } })).status).toBe(200);
    try {
      expectError((await submit(app(), hub, sp, { action: { approver: "group:finance" } })).res, 400, "approver_set_too_large");
    } finally {
      await call(v.url, "PUT", "/review-settings", { key: v.adminKey, body: { minimum_confidence_bucket: "high" } });
    }
  });

  it("verifies a seed-era sender's single Ed25519 key, all-of", async () => {
    const seed = newSp("seed-era.example.com");
    const one: PrivateKeyset = { keysetId: "seed-key-1", keys: [seed.keyset.keys[0]!] };
    const spki = Buffer.concat([Buffer.from("302a300506032b6570032100", "hex"), Buffer.from(one.keys[0]!.publicKey)]).toString("base64");
    const reg = await app().inject({ method: "POST", url: "/stepauth/senders", headers: { "x-vault-api-key": v.adminKey }, payload: { entity: seed.entity, keysets: [{ keyId: "seed-key-1", publicKey: spki }] } });
    expect(reg.statusCode, reg.body).toBe(201);
    const req = requestJson(seed, hub.entity);
    expect((await send(encodeEnvelope(signEnvelope(req.bytes, one)))).statusCode).toBe(202);
    // The hybrid signature of the same key's owner names another keyset: refused.
    expectError(await send(signed(seed, requestJson(seed, hub.entity).bytes)), 401, "invalid_signature");
  });

  it("never answers hostile input with a 5xx", async () => {
    const good = requestJson(sp, hub.entity);
    const env = JSON.parse(signed(sp, good.bytes));
    const bodies: (string | Buffer)[] = [
      "",
      "null",
      "[]",
      "{",
      '{"payload":"eyJ","signature":{"keysetId":"x","signatures":[]}}',
      JSON.stringify({ ...env, payload: `${env.payload}=` }),
      JSON.stringify({ ...env, payload: env.payload.slice(0, -1) }),
      JSON.stringify({ ...env, payload: ` ${env.payload}` }),
      JSON.stringify({ ...env, signature: { ...env.signature, signatures: [...env.signature.signatures].reverse() } }),
      JSON.stringify({ ...env, signature: { ...env.signature, signatures: [env.signature.signatures[0]] } }),
      JSON.stringify({ ...env, signature: { ...env.signature, signatures: ["!!", "??"] } }),
      JSON.stringify({ ...env, signature: { keysetId: "ks_\u00e9\u0000", signatures: env.signature.signatures } }),
      '{"payload":"e30=","payload":"e30=","signature":{"keysetId":"x","signatures":[]}}',
      JSON.stringify({ payload: toBase64(utf8(JSON.stringify({ senderId: "sp\u00e9\ud83d\ude00", requestId: "r" }))), signature: env.signature }),
      JSON.stringify({ payload: toBase64(new Uint8Array([0xff, 0xfe, 0x00])), signature: env.signature }),
      Buffer.from([0xc3, 0x28, 0x7b]),
      "x".repeat(1024 * 1024 + 10),
    ];
    for (const body of bodies) {
      const res = await send(body);
      expect(res.statusCode, `${String(body).slice(0, 80)} -> ${res.body.slice(0, 200)}`).toBeLessThan(500);
      expect(res.statusCode, String(body).slice(0, 120)).toBeGreaterThanOrEqual(400);
      expect(res.json().error, res.body.slice(0, 200)).toEqual(expect.any(String));
    }
    const noType = await app().inject({ method: "POST", url: `${hub.base}/authorization-requests`, payload: signed(sp, requestJson(sp, hub.entity).bytes) });
    expect(noType.statusCode).toBe(202);
    const textType = await send(signed(sp, requestJson(sp, hub.entity).bytes), { "content-type": "text/plain" });
    expect(textType.statusCode).toBe(202);
  });
});

describe("StepAuth load shedding", () => {
  let db: TestDatabase;
  let v: TestVault;
  beforeAll(async () => {
    db = newDatabase("pglite");
    v = await startTestVault(db, { env: { VAULT_RATE_LIMIT_RPS: "1", VAULT_RATE_LIMIT_BURST: "2" } });
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("answers a sender over its rate 503 with Retry-After, never 429 (the StepAuth SDKs retry only 5xx)", async () => {
    const sp = newSp();
    await registerSp(v.vault.app, v.adminKey, sp);
    const hub = await hubOf(v.vault.app, v.tenantId);
    const statuses: number[] = [];
    let shed;
    for (let i = 0; i < 4; i++) {
      const { res } = await submit(v.vault.app, hub, sp);
      statuses.push(res.statusCode);
      if (res.statusCode === 503) shed = res;
    }
    expect(statuses.slice(0, 2)).toEqual([202, 202]);
    expect(statuses).toContain(503);
    expect(statuses).not.toContain(429);
    expect(shed!.headers["retry-after"]).toMatch(/^\d+$/);
    expect(shed!.json()).toMatchObject({ code: "overloaded", error: "overloaded" });
  });
});
