/**
 * The fuzz suite's own pieces: the raw JSON renderer writes what JSON.stringify cannot, the
 * repeated-key detector sees what the vault must refuse, and the response check fails on what the
 * properties exist to catch. Without these a broken harness would pass every property vacuously.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { percentEncode } from "../helpers/fuzz-endpoints.js";
import { mutationArb, render, repeatedKey, toRaw, type RawNode } from "../helpers/fuzz-raw-json.js";
import { expectWellFormed } from "../helpers/fuzz-vault.js";

describe("fuzz harness", () => {
  it("renders repeated keys, raw number tokens and raw escapes exactly", () => {
    const tree: RawNode = {
      kind: "object",
      entries: [
        [{ text: "amount" }, { kind: "token", text: "5000" }],
        [{ text: "amount" }, { kind: "token", text: "1e309" }],
        [{ escaped: "\\ud800" }, { kind: "string", value: { text: "a\u0000b" } }],
      ],
    };
    expect(render(tree)).toBe('{"amount":5000,"amount":1e309,"\\ud800":"a\\u0000b"}');
    expect(repeatedKey(tree)).toBe("amount");
    expect(render(toRaw({ a: [1, { b: null }], c: "x" }))).toBe(JSON.stringify({ a: [1, { b: null }], c: "x" }));
  });

  it("finds a repeated key at any depth, after unescaping, and only then", () => {
    const nested: RawNode = toRaw({ a: { b: [{ c: 1 }] } });
    expect(repeatedKey(nested)).toBeUndefined();
    const inner = ((nested as any).entries[0][1].entries[0][1].items[0]) as Extract<RawNode, { kind: "object" }>;
    inner.entries.push([{ escaped: "\\u0063" }, toRaw(2)]);
    expect(repeatedKey(nested)).toBe("c");
  });

  it("renders 10,000-level nesting without recursion", () => {
    let node: RawNode = toRaw(1);
    for (let i = 0; i < 10_000; i++) node = { kind: "array", items: [node] };
    expect(render(node).length).toBe(20_001);
  });

  it("three stacked mutations stay bounded (no shared nodes multiplying)", () => {
    fc.assert(
      fc.property(fc.array(mutationArb, { minLength: 3, maxLength: 3 }), (mutations) => {
        const text = render(mutations.reduce((t, m) => m.apply(t), toRaw({ tool_name: "t", tool_args: { a: [1, 2] } })));
        // 300k characters × 4 bytes, 60k-item arrays and 20k-key objects, three times: a few MB at most.
        expect(text.length).toBeLessThan(8_000_000);
      }),
      { numRuns: 25, seed: 11 },
    );
  });

  it("percent-encodes lone surrogates instead of throwing", () => {
    expect(percentEncode("a\ud800/b")).toBe("a%EF%BF%BD%2Fb");
    expect(percentEncode("a&b=c#d", true)).toBe("a&b=c%23d");
  });

  it("the response check refuses a 5xx, a non-catalogue code and a status mismatch", () => {
    const problem = (status: number, code: string) => ({
      status,
      contentType: "application/problem+json",
      text: JSON.stringify({ status, code, title: "Request validation failed" }),
    });
    expect(() => expectWellFormed(problem(400, "validation_failed"))).not.toThrow();
    expect(() => expectWellFormed(problem(500, "internal_error"))).toThrow();
    expect(() => expectWellFormed(problem(400, "made_up_code"))).toThrow();
    expect(() => expectWellFormed(problem(422, "validation_failed"))).toThrow();
    expect(() => expectWellFormed({ status: 400, contentType: "application/json", text: "{}" })).toThrow();
  });
});
