import { execFile } from "node:child_process";
import { createHash, generateKeyPairSync, sign, verify } from "node:crypto";
import { fileURLToPath } from "node:url";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ledgerCrypto, nodeLedgerCrypto, pureLedgerCrypto, sha256, withLedgerCrypto } from "../../src/ledger/core/crypto.js";
import { ed25519VerifyPure, sha256Pure } from "../../src/ledger/core/noble-crypto.js";
import { fromBase64, fromHex, toBase64, toBase64Url, toHex } from "../../src/ledger/core/bytes.js";

/**
 * The ledger core's primitives without node:crypto (what the SDK runs in an edge runtime) must give
 * exactly what node:crypto gives (what the vault runs): same digests, same verdict on every signature.
 */
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const runs = Number(process.env.FUZZ_RUNS ?? 200);

describe("ledger crypto: plain JavaScript against node:crypto", () => {
  it("uses node:crypto in Node (the vault's hot path keeps native hashing)", () => {
    expect(ledgerCrypto().name).toBe("node");
    expect(nodeLedgerCrypto()?.name).toBe("node");
    expect(withLedgerCrypto(pureLedgerCrypto, () => ledgerCrypto().name)).toBe("pure");
    expect(ledgerCrypto().name).toBe("node");
  });

  it("falls back to plain JavaScript without process.getBuiltinModule, and the vault's node-crypto.ts installs node:crypto", async () => {
    const root = fileURLToPath(new URL("../..", import.meta.url));
    const script = [
      "delete process.getBuiltinModule;",
      'const core = await import("./src/ledger/core/crypto.ts");',
      "const before = core.ledgerCrypto().name;",
      'await import("./src/ledger/core/node-crypto.ts");',
      "console.log(before, core.ledgerCrypto().name);",
    ].join("\n");
    const out = await new Promise<string>((resolve, reject) =>
      execFile(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { cwd: root }, (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout))),
    );
    expect(out.trim()).toBe("pure node");
  });

  it("SHA-256 agrees on every length around the block boundaries and on random split inputs", () => {
    for (let n = 0; n <= 300; n++) {
      const data = Uint8Array.from({ length: n }, (_, i) => (i * 31 + n) & 0xff);
      expect(hex(sha256Pure(data))).toBe(createHash("sha256").update(data).digest("hex"));
    }
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 4 }), (parts) => {
        const whole = Buffer.concat(parts);
        expect(hex(sha256Pure(...parts))).toBe(createHash("sha256").update(whole).digest("hex"));
        expect(hex(withLedgerCrypto(pureLedgerCrypto, () => sha256(...parts)))).toBe(hex(sha256(...parts)));
      }),
      { numRuns: runs },
    );
  });

  it("Ed25519 verifies RFC 8032 test vector 1 and refuses it with any bit flipped", () => {
    const pub = fromHex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a");
    const sig = fromHex("e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b");
    expect(ed25519VerifyPure(pub, new Uint8Array(0), sig)).toBe(true);
    for (let bit = 0; bit < 512; bit += 7) {
      const bad = Uint8Array.from(sig);
      bad[bit >> 3]! ^= 1 << (bit & 7);
      expect(ed25519VerifyPure(pub, new Uint8Array(0), bad)).toBe(false);
    }
  });

  it("Ed25519 gives node:crypto's verdict on genuine, altered and random signatures and keys", () => {
    const keys = Array.from({ length: 4 }, () => generateKeyPairSync("ed25519"));
    fc.assert(
      fc.property(fc.nat(3), fc.uint8Array({ maxLength: 300 }), fc.nat(511), fc.nat(2), (k, message, bit, mode) => {
        const { publicKey, privateKey } = keys[k]!;
        const raw = Buffer.from(publicKey.export({ format: "jwk" }).x!, "base64url");
        const signature = new Uint8Array(sign(null, message, privateKey));
        if (mode === 1) signature[bit >> 3]! ^= 1 << (bit & 7);
        const key = mode === 2 ? Uint8Array.from(raw).map((b, i) => (i === (bit & 31) ? b ^ 1 : b)) : raw;
        const expected = verify(null, message, { key: { kty: "OKP", crv: "Ed25519", x: Buffer.from(key).toString("base64url") }, format: "jwk" }, signature);
        expect(ed25519VerifyPure(key, message, signature)).toBe(expected);
        expect(nodeLedgerCrypto()!.ed25519Verify(key, message, signature)).toBe(expected);
        if (mode === 0) expect(expected).toBe(true);
      }),
      { numRuns: Math.min(runs, 150) },
    );
    // Wrong lengths and an S at or above the group order are refused, never thrown.
    expect(ed25519VerifyPure(new Uint8Array(31), new Uint8Array(0), new Uint8Array(64))).toBe(false);
    expect(ed25519VerifyPure(new Uint8Array(32), new Uint8Array(0), new Uint8Array(63))).toBe(false);
    expect(ed25519VerifyPure(new Uint8Array(32).fill(0xff), new Uint8Array(0), new Uint8Array(64).fill(0xff))).toBe(false);
  });

  it("byte helpers match Buffer's hex and base64", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 100 }), (bytes) => {
        const b = Buffer.from(bytes);
        expect(toHex(bytes)).toBe(b.toString("hex"));
        expect(fromHex(b.toString("hex"))).toEqual(new Uint8Array(bytes));
        expect(toBase64(bytes)).toBe(b.toString("base64"));
        expect(toBase64Url(bytes)).toBe(b.toString("base64url"));
        expect(fromBase64(b.toString("base64"))).toEqual(new Uint8Array(bytes));
        expect(fromBase64(b.toString("base64url"))).toEqual(new Uint8Array(bytes));
      }),
      { numRuns: runs },
    );
    expect(fromBase64("a")).toBeNull();
    expect(fromBase64("ab$c")).toBeNull();
  });
});
