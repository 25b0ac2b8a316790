import { createPublicKey, verify } from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";
import { describe, expect, it } from "vitest";
import { ed25519Implementation, ed25519Verify, isSmallOrderKey } from "../../src/protocols/ed25519.js";

describe("src/protocols/ed25519.ts", () => {
  it("uses node:crypto under Node (the vault's hot path)", () => {
    expect(ed25519Implementation).toBe("node");
  });

  it("agrees with strict @noble/curves on valid, tampered and malformed signatures", () => {
    for (let i = 0; i < 50; i++) {
      const seed = crypto.getRandomValues(new Uint8Array(32));
      const pub = ed25519.getPublicKey(seed);
      const msg = crypto.getRandomValues(new Uint8Array(i * 7));
      const sig = ed25519.sign(msg, seed);
      expect(ed25519Verify(sig, msg, pub)).toBe(true);
      const bad = sig.slice();
      bad[i % 64]! ^= 1;
      expect(ed25519Verify(bad, msg, pub)).toBe(ed25519.verify(bad, msg, pub, { zip215: false }));
      expect(ed25519Verify(bad, msg, pub)).toBe(false);
    }
    // Non-canonical S (S + L): strict RFC 8032 refuses it.
    const seed = new Uint8Array(32).fill(7);
    const msg = new Uint8Array([1, 2, 3]);
    const sig = ed25519.sign(msg, seed);
    const L = (1n << 252n) + 27742317777372353535851937790883648493n;
    let s = 0n;
    for (let i = 31; i >= 0; i--) s = (s << 8n) | BigInt(sig[32 + i]!);
    const s2 = s + L;
    const forged = sig.slice();
    for (let i = 0; i < 32; i++) forged[32 + i] = Number((s2 >> BigInt(8 * i)) & 0xffn);
    expect(ed25519Verify(forged, msg, ed25519.getPublicKey(seed))).toBe(false);
    // Wrong lengths and junk keys: false, never a throw.
    expect(ed25519Verify(sig.slice(0, 63), msg, ed25519.getPublicKey(seed))).toBe(false);
    expect(ed25519Verify(sig, msg, new Uint8Array(31))).toBe(false);
    expect(ed25519Verify(sig, msg, new Uint8Array(32).fill(255))).toBe(false);
  });

  it("refuses every small-order key, with which R = identity, S = 0 would verify any message", () => {
    const Point = ed25519.Point;
    // The torsion subgroup: the multiples of a point of order 8 (all 8 small-order points).
    const order8 = Point.fromBytes(Uint8Array.from(Buffer.from("c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", "hex")));
    expect(order8.isSmallOrder()).toBe(true);
    const torsion = Array.from({ length: 8 }, (_, i) => (i === 0 ? Point.ZERO : order8.multiply(BigInt(i))));
    const anyMessage = new Uint8Array(64);
    anyMessage.set(Point.ZERO.toBytes(), 0); // R = identity, S = 0
    for (const t of torsion) {
      const key = t.toBytes();
      expect(isSmallOrderKey(key)).toBe(true);
      expect(ed25519Verify(anyMessage, new Uint8Array([1, 2, 3]), key)).toBe(false);
      const signFlipped = key.slice();
      signFlipped[31]! ^= 0x80;
      expect(isSmallOrderKey(signFlipped)).toBe(true);
    }
    // Without the check, node:crypto (OpenSSL) accepts the forgery for the identity key: the reason it exists.
    const identity = createPublicKey({ key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(Point.ZERO.toBytes()).toString("base64url") }, format: "jwk" });
    expect(verify(null, new Uint8Array([9]), identity, anyMessage)).toBe(true);
    // Non-canonical encodings of 0 and 1 (y = p, p + 1).
    for (const first of [0xed, 0xee]) expect(isSmallOrderKey(Uint8Array.from([first, ...new Array(30).fill(0xff), 0x7f]))).toBe(true);
    // Ordinary keys are not refused.
    for (let i = 0; i < 20; i++) expect(isSmallOrderKey(ed25519.getPublicKey(crypto.getRandomValues(new Uint8Array(32))))).toBe(false);
  });
});
