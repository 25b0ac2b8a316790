import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { argsHash, canonicalJson } from "../../src/sdk/index.js";
import { canonicalJson as vaultCanonicalJson, toolArgsHash } from "../../src/tokens/canonical-json.js";

/**
 * The SDK's RFC 8785 canonicalization (WebCrypto, runtime-neutral) must agree with the vault's
 * (node:crypto) on every value, or a token's tool_args_hash would not match what the SDK computes.
 */
const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.constant(null),
    fc.boolean(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.integer(),
    fc.constantFrom(0, -0, 1e21, 1e-7, 333333333.33333329, 2 ** 53, -(2 ** 53) - 2, 5e-324, Number.MAX_VALUE),
    fc.string({ unit: "binary" }),
    fc.string({ unit: "grapheme" }),
    fc.array(tie("value"), { maxLength: 5 }),
    fc.dictionary(fc.string({ unit: "binary", maxLength: 6 }), tie("value"), { maxKeys: 6 }),
  ),
})).value;
const args = fc.dictionary(fc.string({ unit: "binary", maxLength: 8 }), json, { maxKeys: 8 });

describe("SDK canonical JSON and argsHash", () => {
  it("agree with the vault's canonicalJson and toolArgsHash on arbitrary JSON", async () => {
    await fc.assert(
      fc.asyncProperty(args, async (value) => {
        expect(canonicalJson(value)).toBe(vaultCanonicalJson(value));
        expect(await argsHash(value)).toBe(toolArgsHash(value));
      }),
      { numRuns: Number(process.env.FUZZ_RUNS ?? 500) },
    );
  });

  it("agree on member order, undefined members and arrays holding undefined, and never rewrite keys", async () => {
    const value = { b: [1, undefined, { d: 2, c: 1 }], a: "x", skip: undefined, amountCents: 100, "\u20ac": 1, "\r": 2 };
    expect(canonicalJson(value)).toBe(vaultCanonicalJson(value));
    expect(canonicalJson(value)).toBe('{"\\r":2,"a":"x","amountCents":100,"b":[1,null,{"c":1,"d":2}],"€":1}');
    expect(await argsHash({ a: 1, b: 2 })).toBe(await argsHash({ b: 2, a: 1 }));
    expect(await argsHash({ amountCents: 1 })).not.toBe(await argsHash({ amount_cents: 1 }));
    expect(await argsHash({})).toBe("44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a");
  });

  it("refuse values with no JSON form, like the vault", () => {
    for (const bad of [Number.NaN, Infinity, { a: -Infinity }, () => 1, Symbol("s"), 1n]) {
      expect(() => canonicalJson(bad)).toThrow(TypeError);
      expect(() => vaultCanonicalJson(bad)).toThrow(TypeError);
    }
  });
});
