import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { argsBudgetViolation } from "../../src/requests/request-schema.js";
import { jsonProblem } from "../../src/http/json-body.js";
import { findDuplicateKey } from "../../src/tokens/duplicate-keys.js";
import { scanJson } from "../../src/tokens/json-scan.js";

/** What the checks on a parsed value say about a text: the reference the single scan must match. */
function reference(text: string, maxDepth: number): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch {
    return "syntax";
  }
  const problem = jsonProblem(parsed, maxDepth);
  if (problem) return problem;
  return findDuplicateKey(text) === null ? null : "duplicate_key";
}

const kinds = (text: string, maxDepth = 64) => scanJson(text, { maxDepth })?.kind ?? null;

describe("scanJson agrees with JSON.parse and the checks on its result", () => {
  it.each([
    ["{}", null],
    ["  [1, -0, 0.5e-3, 1E+2, true, false, null, \"\\u00e9\\n\"]  ", null],
    ["\ufeff{}", null],
    ["", "syntax"],
    [" ", "syntax"],
    ["{", "syntax"],
    ['{"a":1,}', "syntax"],
    ["[1,]", "syntax"],
    ["[01]", "syntax"],
    ["[1.]", "syntax"],
    ["[.5]", "syntax"],
    ["[-]", "syntax"],
    ["[1e]", "syntax"],
    ["[+1]", "syntax"],
    ["[NaN]", "syntax"],
    ['["\\x"]', "syntax"],
    ['["\\u12G4"]', "syntax"],
    ['["a\tb"]', "syntax"],
    ["{} {}", "syntax"],
    ["[1] x", "syntax"],
    ["[tru]", "syntax"],
    ["{'a':1}", "syntax"],
    ['{"a" 1}', "syntax"],
    ["[\u00a01]", "syntax"],
    ["[1e400]", "non_finite_number"],
    ["[-1e309]", "non_finite_number"],
    [`[${"9".repeat(400)}]`, "non_finite_number"],
    [`[${"9".repeat(300)}]`, null],
    ["[1e-400]", null],
    ['["\\ud800"]', "lone_surrogate"],
    ['["\\udc00\\ud800"]', "lone_surrogate"],
    ['["\\ud83d\\ude00"]', null],
    ['{"\\ud800x":1}', "lone_surrogate"],
    ['["\ud83d\ude00"]', null],
    ['["\ud800"]', "lone_surrogate"],
    ['["\\ud83d\ude00"]', null],
    ['{"a":1,"a":2}', "duplicate_key"],
    ['{"a":1,"\\u0061":2}', "duplicate_key"],
    ["[".repeat(64) + "]".repeat(64), null],
    ["[".repeat(65) + "]".repeat(65), "too_deep"],
  ])("%j -> %s", (text, kind) => {
    expect(kinds(text)).toBe(kind);
    expect(reference(text, 64)).toBe(kind);
  });

  it("walks 100,000 levels of nesting without recursion", () => {
    expect(scanJson("[".repeat(100_000) + "]".repeat(100_000))).toBeNull();
    expect(scanJson("[".repeat(100_000) + "]".repeat(100_000), { maxDepth: 64 })).toMatchObject({ kind: "too_deep", at: 64 });
  });

  it("names a repeated member by its JSON pointer", () => {
    expect(scanJson('{"x":[[0,{"m":1}],[1,[{"q":1,"r":2,"q":3}]]]}')).toEqual({ kind: "duplicate_key", pointer: "/x/1/1/0/q" });
    expect(scanJson('{"m~":{"a/b":1,"a\\/b":2}}')).toEqual({ kind: "duplicate_key", pointer: "/m~0/a~1b" });
  });

  // Property: valid JSON from fast-check, and the same texts cut short or with one piece changed or
  // inserted (mostly invalid, sometimes valid in another way): the scan and the reference agree.
  it("gives the reference's verdict on generated texts and their mutations", () => {
    const key = fc.oneof(fc.string(), fc.constantFrom("a", "a", "\\", '"', "é", "\ud800"));
    const value = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: "small" },
        fc.jsonValue({ maxDepth: 1 }),
        fc.constantFrom(1e308, -0, 5e-324, "\ud800", "\udc00x", "😀"),
        fc.array(tie("node"), { maxLength: 4 }),
        fc.dictionary(key, tie("node"), { maxKeys: 4 }),
      ),
    })).node;
    const junk = fc.constantFrom("", " ", "\\", '"', ",", ":", "[", "]", "{", "}", "e", "-", "0", "9", ".", "1e400", '"a":1,', "\u0001", "\\u", "\\ud800", "true", "n");
    fc.assert(
      fc.property(value, fc.nat(), junk, fc.integer({ min: 0, max: 3 }), (v, at, insert, mode) => {
        let text = JSON.stringify(v);
        const p = text.length === 0 ? 0 : at % (text.length + 1);
        if (mode === 1) text = text.slice(0, p);
        else if (mode === 2) text = text.slice(0, p) + insert + text.slice(p + 1);
        else if (mode === 3) text = text.slice(0, p) + insert + text.slice(p);
        // Refused by both or by neither; a syntax error only where JSON.parse finds one. With several
        // problems the scan names the first in reading order, the reference its own first.
        const scanned = kinds(text, 3);
        const expected = reference(text, 3);
        expect(scanned === null, text).toBe(expected === null);
        if (scanned === "syntax") expect(expected, text).toBe("syntax");
      }),
      { numRuns: 3000 },
    );
  });
});

describe("scanJson member budget", () => {
  const budget = { members: ["tool_args", "context"], maxNodes: 100, maxArrayLength: 10 };
  const list = (n: number) => Array.from({ length: n }, (_, i) => `u${i}@example.com`);

  it("refuses an array over the limit by its pointer, counting the rest of it for the message", () => {
    expect(scanJson(JSON.stringify({ tool_args: { to: list(11) }, context: {} }), { budget })).toEqual({
      kind: "array_too_long",
      pointer: "/tool_args/to",
      items: 11,
      maxArrayLength: 10,
    });
    expect(scanJson(JSON.stringify({ context: { "a/b": [[1, 2, 3, 4, 5, 6, 7, 8, "]", [9], { x: "," }, 10]] } }), { budget })).toMatchObject({
      pointer: "/context/a~1b/0",
      items: 12,
    });
    // Cut short after the limit: the count is unknown, the refusal is not.
    expect(scanJson(JSON.stringify({ tool_args: { to: list(50) } }).slice(0, 300), { budget })).toMatchObject({ kind: "array_too_long", items: null });
  });

  it("counts only the named top-level members, together", () => {
    const half = Object.fromEntries(Array.from({ length: 49 }, (_, i) => [`k${i}`, i]));
    expect(scanJson(JSON.stringify({ tool_args: half, context: half, other: list(500) }), { budget })).toBeNull();
    expect(scanJson(JSON.stringify({ tool_args: { ...half, one: 1 }, context: half }), { budget })).toEqual({ kind: "too_many_values", maxNodes: 100 });
    expect(scanJson(JSON.stringify({ x: { tool_args: list(50) } }), { budget })).toBeNull();
    expect(scanJson(JSON.stringify([{ tool_args: list(50) }]), { budget })).toBeNull();
  });

  it("refuses the issue's 45,000-address list after reading about 1,000 of them", () => {
    const to = list(45_000);
    const body = JSON.stringify({ tool_name: "send_email", tool_args: { to }, context: {} });
    const defaults = { ...budget, maxNodes: 10_000, maxArrayLength: 1_000 };
    expect(scanJson(body, { budget: defaults })).toMatchObject({ kind: "array_too_long", pointer: "/tool_args/to", items: 45_000 });
    // The text after the 1,001st item is not read for problems: a syntax error there does not change the answer.
    const broken = body.replace('"u44999@example.com"', "u44999");
    expect(scanJson(broken, { budget: defaults })).toMatchObject({ kind: "array_too_long" });
  });

  // Property: with both members present, the scan refuses exactly what argsBudgetViolation refuses.
  it("refuses exactly what argsBudgetViolation refuses on the parsed body", () => {
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: "small" }, fc.jsonValue({ maxDepth: 0 }), fc.array(tie("node"), { maxLength: 14 }), fc.dictionary(fc.string(), tie("node"), { maxKeys: 8 })),
    })).node;
    const small = { members: ["tool_args", "context"], maxNodes: 40, maxArrayLength: 6 };
    fc.assert(
      fc.property(fc.dictionary(fc.string(), value, { maxKeys: 6 }), fc.dictionary(fc.string(), value, { maxKeys: 6 }), (tool_args, context) => {
        const scanned = scanJson(JSON.stringify({ tool_name: "t", tool_args, context }), { budget: small });
        expect(scanned !== null).toBe(argsBudgetViolation({ tool_args, context }, small) !== null);
      }),
      { numRuns: 1000 },
    );
  });
});
