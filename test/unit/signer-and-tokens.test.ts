import { generateKeyPairSync } from "node:crypto";
import { SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { ManualClock } from "../../src/clock.js";
import { PgliteDatabase } from "../../src/db/pglite-database.js";
import { migrate } from "../../src/db/migrate.js";
import { AppError } from "../../src/errors.js";
import { newClaims, signClaims, verifyClearanceToken } from "../../src/tokens/a-jwt.js";
import { KeyConflictError, KeyRegistry } from "../../src/tokens/key-registry.js";
import { LocalSigner, parseEd25519PrivateKey, SignerKeyError } from "../../src/tokens/signer.js";

// RFC 8032 §7.1 TEST 1.
const SEED_HEX = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
const PUBLIC_HEX = "d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a";

describe("Ed25519 key loading", () => {
  it("reads a 32-byte seed, the 64-byte Go form and PEM to the same key (RFC 8032 TEST 1)", async () => {
    const seed = Buffer.from(SEED_HEX, "hex");
    const fromSeed = new LocalSigner("k", parseEd25519PrivateKey(seed.toString("base64"), "test"));
    expect(Buffer.from(fromSeed.publicJwk.x, "base64url").toString("hex")).toBe(PUBLIC_HEX);
    const goForm = Buffer.concat([seed, Buffer.from(PUBLIC_HEX, "hex")]).toString("base64");
    expect(new LocalSigner("k", parseEd25519PrivateKey(goForm, "test")).publicJwk.x).toBe(fromSeed.publicJwk.x);
    // RFC 8032 TEST 1 signature of the empty message.
    // The thread-pool signature and the synchronous one are the same bytes.
    expect(Buffer.from(await fromSeed.sign(new Uint8Array()))).toEqual(Buffer.from(fromSeed.signSync(new Uint8Array())));
    expect(Buffer.from(await fromSeed.sign(new Uint8Array())).toString("hex")).toBe(
      "e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b",
    );
  });

  it("refuses a 64-byte key whose halves disagree, RSA keys and garbage, naming the source", () => {
    const bad = Buffer.concat([Buffer.from(SEED_HEX, "hex"), Buffer.alloc(32)]).toString("base64");
    expect(() => parseEd25519PrivateKey(bad, "VAULT_PRIVATE_KEY_BASE64")).toThrow(/VAULT_PRIVATE_KEY_BASE64/);
    const rsa = generateKeyPairSync("rsa", { modulusLength: 1024 }).privateKey.export({ format: "pem", type: "pkcs8" }).toString();
    expect(() => parseEd25519PrivateKey(rsa, "VAULT_PRIVATE_KEY_FILE")).toThrow(SignerKeyError);
    expect(() => parseEd25519PrivateKey("bm90IGEga2V5", "X")).toThrow(SignerKeyError);
  });
});

describe("A-JWT signing and verification", () => {
  const clock = new ManualClock(Date.UTC(2026, 10, 23, 12));
  const settings = { issuer: "alcv-vault", audience: "ledgix-sdk", ttlSeconds: 300 };
  const signer = new LocalSigner("kid-1", parseEd25519PrivateKey(Buffer.from(SEED_HEX, "hex").toString("base64"), "t"));
  let keys: KeyRegistry;
  const input = { tool: "t", toolArgsHash: "00", agentId: "a", sessionId: "", policyId: "p", requestId: "req_1", tenantId: "t_1" };

  beforeAll(async () => {
    const db = await PgliteDatabase.open("memory://");
    await migrate(db, "control");
    keys = new KeyRegistry(db, clock);
    await keys.register(signer);
    const other = new LocalSigner("kid-1", generateKeyPairSync("ed25519").privateKey);
    await expect(keys.register(other)).rejects.toThrow(KeyConflictError);
  });

  it("re-derives the identical token from stored claims, and verifies it", async () => {
    const claimsJson = JSON.stringify(newClaims(input, settings, clock));
    const token = await signClaims(claimsJson, signer);
    expect(await signClaims(claimsJson, signer)).toBe(token);
    const claims = await verifyClearanceToken(token, keys, settings, clock);
    expect(claims).toMatchObject({ sub: "clearance", tool: "t", request_id: "req_1", exp: claims.iat + 300 });
  });

  it("rejects expiry with zero tolerance, a wrong audience, alg none, HS256 and a forged signature", async () => {
    const token = await signClaims(JSON.stringify(newClaims(input, settings, clock)), signer);
    const later = new ManualClock(clock.nowMs() + 300_000);
    await expect(verifyClearanceToken(token, keys, settings, later)).rejects.toMatchObject({ code: "token_expired" });
    await expect(verifyClearanceToken(token, keys, { ...settings, audience: "other" }, clock)).rejects.toMatchObject({ code: "token_invalid" });

    const [, payload] = token.split(".");
    const none = `${Buffer.from(JSON.stringify({ alg: "none", kid: "kid-1" })).toString("base64url")}.${payload}.`;
    await expect(verifyClearanceToken(none, keys, settings, clock)).rejects.toBeInstanceOf(AppError);
    const hs = await new SignJWT({ jti: "x", tool: "t", tool_args_hash: "0", request_id: "r", tenant_id: "t" })
      .setProtectedHeader({ alg: "HS256", kid: "kid-1" })
      .setIssuer("alcv-vault").setAudience("ledgix-sdk").setSubject("clearance").setExpirationTime("5m")
      .sign(new TextEncoder().encode("k".repeat(32)));
    await expect(verifyClearanceToken(hs, keys, settings, clock)).rejects.toMatchObject({ code: "token_invalid" });
    const forged = `${token.slice(0, token.lastIndexOf("."))}.${Buffer.alloc(64).toString("base64url")}`;
    await expect(verifyClearanceToken(forged, keys, settings, clock)).rejects.toMatchObject({ code: "token_invalid" });
  });
});
