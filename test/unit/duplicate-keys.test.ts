import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { escapePointerToken, findDuplicateKey } from "../../src/tokens/duplicate-keys.js";

describe("findDuplicateKey", () => {
  it.each([
    ['{"a":1,"b":2}', null],
    ['{"a":{"a":{"a":1}},"b":[{"a":1},{"a":2}]}', null],
    ["[1,2,3]", null],
    ['"just a string with \\"a\\":1,\\"a\\":2"', null],
    ["{}", null],
    ['{"a":"x","b":{"c":"\\\\","d":"\\\\\\""}}', null],
    ['{"a":1,"a":2}', "/a"],
    ['{"tool_args":{"amount":5000,"amount":5}}', "/tool_args/amount"],
    ['{"x":[{"k":1},{"k":1,"k":2}]}', "/x/1/k"],
    ['{"x":[[0,{"m":1}],[1,[{"q":1,"r":2,"q":3}]]]}', "/x/1/1/0/q"],
    // The same name after unescaping: "a" and "\u0061", "é" and "\u00e9", "/" and "\/".
    ['{"a":1,"\\u0061":2}', "/a"],
    ['{"\\u00e9":1,"é":2}', "/é"],
    ['{"n":{"a/b":1,"a\\/b":2}}', "/n/a~1b"],
    ['{"m~":{"":1,"":2}}', "/m~0/"],
    // A value equal to a name is not a name; escaped quotes and backslashes do not end a string early.
    ['{"a":"a","b":"a"}', null],
    ['{"a\\"":1,"a":2,"a\\\\":3}', null],
    ['{"a\\\\":1,"a\\\\":2}', "/a\\"],
    [' { "a" : 1 , "a" : 2 } ', "/a"],
  ])("%s -> %s", (text, pointer) => {
    JSON.parse(text); // the scanner runs only on text JSON.parse accepted
    expect(findDuplicateKey(text)).toBe(pointer);
  });

  it("escapes pointer tokens as RFC 6901 §3 says (~ first, then /)", () => {
    expect(escapePointerToken("~1/")).toBe("~01~1");
  });

  it("walks 100,000 levels of nesting without recursion", () => {
    const deep = '{"a":'.repeat(100_000) + '{"z":1,"z":2}' + "}".repeat(100_000);
    expect(findDuplicateKey(deep)).toBe(`${"/a".repeat(100_000)}/z`);
  });

  it("a long run of backslashes before quotes stays linear (4 MB in well under a second)", () => {
    const text = `{"a":"${"\\\\".repeat(1_000_000)}\\"${"\\\\".repeat(1_000_000)}","a":1}`;
    const t0 = performance.now();
    expect(findDuplicateKey(text)).toBe("/a");
    // Quadratic rescanning of the runs would take minutes; linear takes milliseconds.
    expect(performance.now() - t0).toBeLessThan(2000);
  });

  // Property: any JSON value JSON.stringify writes has distinct names; adding a repeated member at a
  // random object finds exactly that object's pointer.
  it("finds nothing in JSON.stringify output, and finds an injected duplicate at its pointer", () => {
    const key = fc.oneof(fc.string(), fc.constantFrom("a", "~", "/", "\\", '"', "é", "\u2028"));
    const value = fc.letrec((tie) => ({
      node: fc.oneof({ depthSize: "small" }, fc.jsonValue({ maxDepth: 1 }), fc.array(tie("node"), { maxLength: 4 }), fc.dictionary(key, tie("node"), { maxKeys: 4 })),
    })).node;
    fc.assert(
      fc.property(value, (v) => {
        const text = JSON.stringify(v);
        expect(findDuplicateKey(text)).toBeNull();
        const target = firstObject(v, "");
        if (!target || Object.keys(target.obj).length === 0) return;
        const name = Object.keys(target.obj)[0]!;
        // Re-serialise with the first member written twice (the repeat written with \u escapes).
        const repeated = JSON.stringify(injectMarker(v, target.obj)).replace('"__dup_marker__":0', `${escapedName(name)}:null`);
        expect(findDuplicateKey(repeated)).toBe(`${target.pointer}/${escapePointerToken(name)}`);
      }),
      { numRuns: 300 },
    );
  });
});

type Obj = Record<string, unknown>;

/** The first object in document order (depth first), with its pointer. */
function firstObject(v: unknown, pointer: string): { obj: Obj; pointer: string } | undefined {
  if (v === null || typeof v !== "object") return undefined;
  if (!Array.isArray(v)) return { obj: v as Obj, pointer };
  for (let i = 0; i < v.length; i++) {
    const found = firstObject(v[i], `${pointer}/${i}`);
    if (found) return found;
  }
  return undefined;
}

function injectMarker(v: unknown, target: Obj): unknown {
  if (v === target) return { ...target, __dup_marker__: 0 };
  if (Array.isArray(v)) return v.map((x) => injectMarker(x, target));
  return v;
}

function escapedName(name: string): string {
  return `"${name.split("").map((ch) => `\\u${ch.charCodeAt(0).toString(16).padStart(4, "0")}`).join("")}"`;
}
