/**
 * The SDK will import src/ledger/verify/ on its own, so everything the verifier reaches, transitively,
 * must stay inside src/ledger/core/ and src/ledger/verify/ and use no package but node built-ins, zod
 * and the noble libraries. test/architecture checks verify/'s direct imports; this follows the chain,
 * so a core file the verifier uses cannot pull in the store, the config or the request lifecycle.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { importsOf, readSourceTree, resolveImport } from "../architecture/import-graph.js";
import { isLedgerError, LEDGER_ERROR_CODES, LedgerError } from "../../src/ledger/core/ledger-error.js";

const ROOT = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));
const INSIDE = ["src/ledger/core/", "src/ledger/verify/"];
const PACKAGES = [/^node:/, /^zod(\/|$)/, /^@noble\//];

/** Every file reachable from `start` and every import that leaves the allowed set, as "file:line specifier". */
function reach(sources: ReadonlyMap<string, string>, start: readonly string[]): { files: Set<string>; leaving: string[] } {
  const known = new Set(sources.keys());
  const files = new Set<string>();
  const leaving: string[] = [];
  const queue = [...start];
  while (queue.length > 0) {
    const file = queue.pop()!;
    if (files.has(file)) continue;
    files.add(file);
    for (const ref of importsOf(file, sources.get(file) ?? "")) {
      const to = resolveImport(file, ref.specifier, known);
      const where = `${file}:${ref.line} ${ref.specifier}`;
      if (to === undefined) {
        if (!PACKAGES.some((p) => p.test(ref.specifier))) leaving.push(where);
      } else if (!INSIDE.some((dir) => to.startsWith(dir))) {
        leaving.push(where);
      } else {
        queue.push(to);
      }
    }
  }
  return { files, leaving };
}

describe("the offline verifier is standalone", () => {
  const { sources } = readSourceTree(ROOT);
  const verify = [...sources.keys()].filter((f) => f.startsWith("src/ledger/verify/"));

  it("reaches only src/ledger/core/ and src/ledger/verify/, and only node:, zod and @noble/ packages", () => {
    expect(verify).toContain("src/ledger/verify/bundle-verifier.ts");
    const { files, leaving } = reach(sources, verify);
    expect(leaving).toEqual([]);
    // The walk did follow the chain into core/ (an empty walk would pass the line above for nothing).
    expect(files).toContain("src/ledger/core/ledger-error.ts");
    expect(files).toContain("src/ledger/core/signed-note.ts");
  });

  it("reports an import that leaves, however deep", () => {
    const fake = new Map([
      ["src/ledger/verify/v.ts", 'import "../core/a.js"; import { z } from "zod";'],
      ["src/ledger/core/a.ts", 'import "./b.js"; import "node:crypto";'],
      ["src/ledger/core/b.ts", 'import "../store/s.js"; import "left-pad";'],
      ["src/ledger/store/s.ts", ""],
    ]);
    expect(reach(fake, ["src/ledger/verify/v.ts"]).leaving.sort()).toEqual([
      "src/ledger/core/b.ts:1 ../store/s.js",
      "src/ledger/core/b.ts:1 left-pad",
    ]);
  });
});

describe("one error type with a closed code list", () => {
  const { sources } = readSourceTree(ROOT);

  it("is the only error class the verifier reaches", () => {
    const { files } = reach(sources, [...sources.keys()].filter((f) => f.startsWith("src/ledger/verify/")));
    const classes = [...files].flatMap((f) => [...(sources.get(f) ?? "").matchAll(/class (\w+) extends (\w*Error)\b/g)].map((m) => `${f}: ${m[1]}`));
    expect(classes).toEqual(["src/ledger/core/ledger-error.ts: LedgerError"]);
  });

  it("documents every code, and carries code, message and cause", () => {
    for (const [code, meaning] of Object.entries(LEDGER_ERROR_CODES)) expect(meaning.length, code).toBeGreaterThan(10);
    const cause = new Error("inner");
    const err = new LedgerError("bad_proof", "bad_proof: two hashes short", { cause });
    expect(err).toBeInstanceOf(Error);
    expect([err.name, err.code, err.message, err.cause]).toEqual(["LedgerError", "bad_proof", "bad_proof: two hashes short", cause]);
    expect(isLedgerError(err)).toBe(true);
    expect(isLedgerError(err, "bad_proof", "root_mismatch")).toBe(true);
    expect(isLedgerError(err, "bad_jwk")).toBe(false);
    expect(isLedgerError(Object.assign(new Error("x"), { code: "bad_proof" }), "bad_proof")).toBe(false);
  });
});
