import { describe, expect, it } from "vitest";
import { canonicalJson, ledgixSnakeKeys, toolArgsHash } from "../../src/tokens/canonical-json.js";

describe("RFC 8785 canonical JSON", () => {
  it("sorts members by UTF-16 code units and serialises numbers as ECMAScript does (RFC 8785 §3.2.2-3.2.3)", () => {
    // Numbers and strings from the RFC's own examples.
    expect(canonicalJson({ numbers: [333333333.33333329, 1e30, 4.5, 2e-3, 0.000000000000000000000000001], literals: [null, true, false] })).toBe(
      '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27]}',
    );
    expect(canonicalJson({ "\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew", "1": "One", "\ud83d\ude00": "Emoji", "\u0080": "Control", "\u00f6": "Latin" })).toBe(
      '{"\\r":"Carriage Return","1":"One","\u0080":"Control","ö":"Latin","€":"Euro Sign","😀":"Emoji","\ufb33":"Hebrew"}',
    );
    expect(canonicalJson({ b: [1, { d: 2, c: 1 }], a: "x" })).toBe('{"a":"x","b":[1,{"c":1,"d":2}]}');
  });

  it("rejects values with no JSON form instead of hashing something else", () => {
    expect(() => canonicalJson(Number.NaN)).toThrow();
    expect(() => canonicalJson({ a: Infinity })).toThrow();
  });

  it("hashes arguments independently of member order", () => {
    expect(toolArgsHash({ a: 1, b: 2 })).toBe(toolArgsHash({ b: 2, a: 1 }));
    expect(toolArgsHash({ a: 1 })).toMatch(/^[0-9a-f]{64}$/);
    expect(toolArgsHash({ a: 1 })).not.toBe(toolArgsHash({ a: 2 }));
  });

  it("rewrites keys the way the Ledgix SDK does before sending", () => {
    expect(ledgixSnakeKeys({ amountCents: 100, nested: { innerKey: [{ deepKey: 1 }, [{ keepMe: 1 }]] }, list: ["aB"] })).toEqual({
      amount_cents: 100,
      nested: { inner_key: [{ deep_key: 1 }, [{ keepMe: 1 }]] },
      list: ["aB"],
    });
  });
});
