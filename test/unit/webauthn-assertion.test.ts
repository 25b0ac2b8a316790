import { createHash } from "node:crypto";
import fc from "fast-check";
import { ed25519 } from "@noble/curves/ed25519.js";
import { p256 } from "@noble/curves/nist.js";
import { describe, expect, it } from "vitest";
import { decodeCborExact } from "../../src/ledger/core/cbor-decode.js";
import { isLedgerError } from "../../src/ledger/core/ledger-error.js";
import { pureLedgerCrypto, withLedgerCrypto } from "../../src/ledger/core/crypto.js";
import { checkAssertion, originOnRpId, parseAuthenticatorData, parseClientData, parseCoseKey, verifyAssertionSignature } from "../../src/ledger/core/webauthn-assertion.js";
import { cbor, SoftwareAuthenticator } from "../helpers/software-authenticator.js";

const ORIGIN = "https://vault.example.com";
const RP = "vault.example.com";
const challenge = createHash("sha256").update("the commitment").digest();

/** A genuine assertion from the software authenticator, as bytes. */
function genuine(alg: -7 | -8, o: Parameters<SoftwareAuthenticator["assert"]>[1] = {}) {
  const auth = new SoftwareAuthenticator(ORIGIN, { alg });
  auth.register({ challenge: "AA", rp: { id: RP }, user: { id: "dXNlcg" } });
  const a = auth.assert({ challenge: challenge.toString("base64url"), rpId: RP }, o);
  const key = [...auth.credentials.values()][0]!.publicKeyCose;
  const b = (s: string) => new Uint8Array(Buffer.from(s, "base64url"));
  return { publicKeyCose: new Uint8Array(key), authenticatorData: b(a.response.authenticatorData), clientDataJSON: b(a.response.clientDataJSON), signature: b(a.response.signature), challenge: new Uint8Array(challenge), rpId: RP };
}

describe("WebAuthn assertion checks (ledger/core/webauthn-assertion.ts)", () => {
  for (const alg of [-7, -8] as const) {
    it(`verifies a genuine ${alg === -7 ? "ES256" : "EdDSA"} assertion, with node:crypto and with plain JavaScript`, () => {
      const input = genuine(alg);
      expect(checkAssertion(input)).toEqual({ ok: true, problems: [], origin: ORIGIN, signCount: 1 });
      expect(withLedgerCrypto(pureLedgerCrypto, () => checkAssertion(input)).ok).toBe(true);
    });

    it(`refuses every altered part of an ${alg} assertion, naming each`, () => {
      const input = genuine(alg);
      const flip = (b: Uint8Array, at: number) => {
        const c = new Uint8Array(b);
        c[at] = c[at]! ^ 0x01;
        return c;
      };
      const problems = (over: Partial<typeof input>) => checkAssertion({ ...input, ...over }).problems.join(" | ");
      expect(problems({ signature: flip(input.signature, input.signature.length - 4) })).toMatch(/signature does not verify/);
      expect(problems({ authenticatorData: flip(input.authenticatorData, 36) })).toMatch(/signature does not verify/);
      expect(problems({ challenge: flip(input.challenge, 0) })).toMatch(/challenge is not the commitment/);
      expect(problems({ rpId: "evil.example" })).toMatch(/not for RP ID evil.example/);
      expect(problems({ publicKeyCose: genuine(alg).publicKeyCose })).toMatch(/signature does not verify/);
    });
  }

  it("requires UP and UV, type webauthn.get and an origin on the RP ID", () => {
    expect(checkAssertion(genuine(-7, { userVerified: false })).problems).toEqual(["the user-verified flag (UV) is not set"]);
    expect(checkAssertion(genuine(-7, { userPresent: false })).problems).toEqual(["the user-present flag (UP) is not set"]);
    expect(checkAssertion(genuine(-7, { type: "webauthn.create" })).problems.join()).toMatch(/not "webauthn.get"/);
    expect(checkAssertion(genuine(-7, { origin: "https://evil.example" })).problems.join()).toMatch(/origin/);
    // Made inside a frame another site embedded: refused (the console is never framed).
    const framed = genuine(-7);
    const client = JSON.parse(new TextDecoder().decode(framed.clientDataJSON));
    expect(checkAssertion({ ...framed, clientDataJSON: new TextEncoder().encode(JSON.stringify({ ...client, crossOrigin: true })) }).problems.join()).toMatch(/cross-origin frame/);
    expect(originOnRpId("https://a.vault.example.com", RP)).toBe(true);
    expect(originOnRpId("https://vault.example.com.evil", RP)).toBe(false);
    expect(originOnRpId("https://notvault.example.com", RP)).toBe(false);
    expect(originOnRpId("http://vault.example.com", RP)).toBe(false);
    expect(originOnRpId("http://localhost:8080", "localhost")).toBe(true);
    expect(originOnRpId("https://vault.example.com/path", RP)).toBe(false);
    expect(originOnRpId("not a url", RP)).toBe(false);
  });

  it("accepts a high-S ES256 signature (authenticators need not normalise S) and refuses a non-DER one", () => {
    const input = genuine(-7);
    const sig = p256.Signature.fromBytes(input.signature, "der");
    const high = new p256.Signature(sig.r, p256.Point.CURVE().n - sig.s).toBytes("der");
    const key = parseCoseKey(input.publicKeyCose);
    if (!key.ok) throw new Error(key.problem);
    expect(verifyAssertionSignature(key.value, input.authenticatorData, input.clientDataJSON, high)).toBe(true);
    expect(verifyAssertionSignature(key.value, input.authenticatorData, input.clientDataJSON, sig.toBytes("compact"))).toBe(false);
    expect(verifyAssertionSignature(key.value, input.authenticatorData, input.clientDataJSON, new Uint8Array(200))).toBe(false);
  });

  it("parses COSE keys strictly: ES256 on P-256 or EdDSA on Ed25519, nothing else", () => {
    const x = Buffer.alloc(32, 1);
    const ok = (m: Map<number, unknown>) => parseCoseKey(new Uint8Array(cbor(m)));
    // Real points: P-256's generator, and an Ed25519 public key.
    const g = p256.Point.BASE.toBytes(false);
    expect(ok(new Map<number, unknown>([[1, 2], [3, -7], [-1, 1], [-2, g.subarray(1, 33)], [-3, g.subarray(33)]])).ok).toBe(true);
    expect(ok(new Map<number, unknown>([[1, 1], [3, -8], [-1, 6], [-2, ed25519.Point.BASE.toBytes()]])).ok).toBe(true);
    const refused = [
      new Map<number, unknown>([[1, 3], [3, -257], [-1, x], [-2, x]]), // RS256
      new Map<number, unknown>([[1, 2], [3, -7], [-1, 2], [-2, x], [-3, x]]), // P-384 curve id
      new Map<number, unknown>([[1, 2], [3, -7], [-1, 1], [-2, x.subarray(1)], [-3, x]]),
      new Map<number, unknown>([[1, 1], [3, -8], [-1, 4], [-2, x]]), // X25519
      new Map<number, unknown>([[1, 2], [3, -7], [-1, 1], [-2, "text"], [-3, x]]),
      new Map<number, unknown>([[3, -7]]),
    ];
    for (const m of refused) expect(ok(m).ok).toBe(false);
    expect(parseCoseKey(new Uint8Array([0x80])).ok).toBe(false); // an array
    expect(parseCoseKey(new Uint8Array([...cbor(new Map([[1, 1]])), 0x00])).ok).toBe(false); // trailing byte
    expect(parseCoseKey(new Uint8Array(2000)).ok).toBe(false);
  });

  it("refuses keys that are no keys: off-curve P-256 points, small-order and non-canonical Ed25519 points, deep or over-long CBOR", () => {
    const problem = (m: Map<number, unknown>) => {
      const r = parseCoseKey(new Uint8Array(cbor(m)));
      return r.ok ? "accepted" : r.problem;
    };
    const g = p256.Point.BASE.toBytes(false);
    const [gx, gy] = [Buffer.from(g.subarray(1, 33)), Buffer.from(g.subarray(33))];
    const offY = Buffer.from(gy);
    offY[31] = offY[31]! ^ 0x01;
    expect(problem(new Map<number, unknown>([[1, 2], [3, -7], [-1, 1], [-2, gx], [-3, offY]]))).toMatch(/not a point on the P-256 curve/);
    expect(problem(new Map<number, unknown>([[1, 2], [3, -7], [-1, 1], [-2, Buffer.alloc(32)], [-3, Buffer.alloc(32)]]))).toMatch(/P-256/);
    // Every point of the 8-torsion (the neutral point among them) is refused.
    const eighth = ed25519.Point.fromBytes(Buffer.from("26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", "hex"));
    for (let k = 0n; k < 8n; k++) {
      const point = k === 0n ? ed25519.Point.ZERO : eighth.multiplyUnsafe(k);
      expect(point.isSmallOrder()).toBe(true);
      expect(problem(new Map<number, unknown>([[1, 1], [3, -8], [-1, 6], [-2, point.toBytes()]]))).toMatch(/small order/);
    }
    // y = p (not reduced) encodes the point y = 0 non-canonically.
    const p = Buffer.from("edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", "hex");
    expect(problem(new Map<number, unknown>([[1, 1], [3, -8], [-1, 6], [-2, p]]))).toMatch(/canonical/);
    // Hostile CBOR: nesting, a length far past the end, a map claiming 2^32 entries.
    expect(parseCoseKey(new Uint8Array(500).fill(0x81)).ok).toBe(false);
    expect(parseCoseKey(new Uint8Array([0xa1, 0x01, 0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff])).ok).toBe(false);
    expect(parseCoseKey(new Uint8Array([0xba, 0xff, 0xff, 0xff, 0xff, 0x01, 0x02])).ok).toBe(false);
  });

  it("a forged assertion under a small-order Ed25519 key fails, with node:crypto (which would accept its signature) and plain JavaScript", () => {
    const identity = new Uint8Array(32);
    identity[0] = 1;
    const publicKeyCose = new Uint8Array(cbor(new Map<number, unknown>([[1, 1], [3, -8], [-1, 6], [-2, identity]])));
    const authenticatorData = new Uint8Array([...createHash("sha256").update(RP).digest(), 0x05, 0, 0, 0, 1]);
    const clientDataJSON = new TextEncoder().encode(JSON.stringify({ type: "webauthn.get", challenge: challenge.toString("base64url"), origin: ORIGIN }));
    const signature = new Uint8Array(64);
    signature.set(identity); // R = the neutral point, S = 0
    const input = { publicKeyCose, authenticatorData, clientDataJSON, signature, challenge: new Uint8Array(challenge), rpId: RP };
    for (const result of [checkAssertion(input), withLedgerCrypto(pureLedgerCrypto, () => checkAssertion(input))]) {
      expect(result.ok).toBe(false);
      expect(result.problems.join()).toMatch(/small order/);
    }
  });

  it("reads authenticatorData and clientDataJSON defensively", () => {
    expect(parseAuthenticatorData(new Uint8Array(36))).toMatchObject({ ok: false });
    const data = new Uint8Array(37);
    data[32] = 0x05;
    data.set([0xff, 0xff, 0xff, 0xff], 33);
    expect(parseAuthenticatorData(data)).toMatchObject({ ok: true, value: { up: true, uv: true, signCount: 0xffffffff } });
    expect(parseClientData(new Uint8Array([0xff, 0xfe]))).toMatchObject({ ok: false });
    expect(parseClientData(new TextEncoder().encode("[]"))).toMatchObject({ ok: false });
    expect(parseClientData(new TextEncoder().encode('{"type":"webauthn.get","challenge":1,"origin":"x"}'))).toMatchObject({ ok: false });
    expect(parseClientData(new Uint8Array(9000))).toMatchObject({ ok: false });
  });

  it("never throws on hostile bytes", () => {
    const bytes = fc.uint8Array({ maxLength: 300 });
    fc.assert(
      fc.property(bytes, bytes, bytes, bytes, (key, auth, client, sig) => {
        const r = checkAssertion({ publicKeyCose: key, authenticatorData: auth, clientDataJSON: client, signature: sig, challenge, rpId: RP });
        expect(r.ok).toBe(false);
      }),
      { numRuns: 500 },
    );
    // A real key with hostile everything else, too.
    const { publicKeyCose } = genuine(-7);
    fc.assert(fc.property(bytes, bytes, bytes, (auth, client, sig) => void checkAssertion({ publicKeyCose, authenticatorData: auth, clientDataJSON: client, signature: sig, challenge, rpId: RP })), { numRuns: 300 });
  });
});

describe("the COSE CBOR reader (ledger/core/cbor-decode.ts)", () => {
  it("reads ints, bytes, text, arrays and maps, and refuses tags, floats, indefinite lengths, duplicate keys and over-long lengths", () => {
    expect(decodeCborExact(new Uint8Array(cbor(new Map<string | number, unknown>([[1, -7], ["a", "b"]]))))).toEqual(new Map<string | number, unknown>([[1, -7], ["a", "b"]]));
    for (const bad of [[0xc0, 0x00], [0xfb, 0, 0, 0, 0, 0, 0, 0, 0], [0x5f], [0xa2, 0x01, 0x01, 0x01, 0x02], [0x5a, 0xff, 0xff, 0xff, 0xff], [0x9b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], [0x1c]]) {
      expect(() => decodeCborExact(new Uint8Array(bad))).toThrow(expect.objectContaining({ code: "invalid_cbor" }));
    }
    const deep = new Uint8Array(40).fill(0x81);
    expect(() => decodeCborExact(deep)).toThrow(/deeper/);
  });

  it("throws only LedgerError invalid_cbor, whatever the bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (b) => {
        try {
          decodeCborExact(b);
        } catch (err) {
          expect(isLedgerError(err, "invalid_cbor")).toBe(true);
        }
      }),
      { numRuns: 2000 },
    );
  });
});
