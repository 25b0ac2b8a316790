import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { fromBase64Strict, fromBase64UrlStrict, fromUtf8Strict, sha256, toBase64, toBase64Url, toHex, utf8 } from "../../src/protocols/encoding.js";

/** src/protocols/encoding.ts against Node's Buffer, and its refusal of every non-canonical spelling. */
describe("protocol encodings", () => {
  it("round-trip and agree with Buffer for any bytes", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), (bytes) => {
        const b = Buffer.from(bytes);
        expect(toBase64(bytes)).toBe(b.toString("base64"));
        expect(toBase64Url(bytes)).toBe(b.toString("base64url"));
        expect(fromBase64Strict(b.toString("base64"))).toEqual(bytes);
        expect(fromBase64UrlStrict(b.toString("base64url"))).toEqual(bytes);
        expect(toHex(bytes)).toBe(b.toString("hex"));
      }),
      { numRuns: 500 },
    );
  });

  it("refuse every spelling but the canonical one, and non-strings", () => {
    for (const bad of ["A", "AA", "AAA", "AB==", "AAB=", "A===", "AA=A", "AA==\n", " AAA", "AA-_", "AAAA====", "é===", "AA\u0000="]) {
      expect(fromBase64Strict(bad), JSON.stringify(bad)).toBeNull();
    }
    for (const bad of ["A", "AB", "AAB", "AA==", "AA+/", "AAAAA"]) expect(fromBase64UrlStrict(bad), bad).toBeNull();
    expect(fromBase64Strict("")).toEqual(new Uint8Array(0));
    expect(fromBase64Strict(5 as unknown as string)).toBeNull();
    expect(fromBase64Strict("AA==")).toEqual(new Uint8Array([0]));
  });

  it("decode a megabyte quickly (every signed payload passes through it)", () => {
    const big = new Uint8Array(1024 * 1024).map((_, i) => i * 7);
    const text = toBase64(big);
    const started = performance.now();
    const decoded = fromBase64Strict(text)!;
    const took = performance.now() - started;
    expect(Buffer.from(decoded).equals(Buffer.from(big))).toBe(true);
    expect(took).toBeLessThan(500); // a table lookup per character; indexOf took ~60 ms even on a quiet machine
  });

  it("decode UTF-8 strictly and hash", () => {
    expect(fromUtf8Strict(utf8("ümlaut 😀"))).toBe("ümlaut 😀");
    for (const bad of [[0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xe2, 0x82]]) expect(fromUtf8Strict(new Uint8Array(bad))).toBeNull();
    expect(toHex(sha256(utf8("abc")))).toBe("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  });
});
