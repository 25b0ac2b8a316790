import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import ts from "typescript";
import {
  buildGraph,
  climbs,
  describeCycle,
  findCycles,
  importsLeaving,
  importsOf,
  layerOf,
  placementProblems,
  reachedOutside,
  readSourceTree,
  resolveImport,
  type LayerRules,
} from "./import-graph.js";

/**
 * The dependency rules of docs/architecture.md, checked over every import of every source file:
 * no import cycles, imports go down the layer list only, and src/ledger/verify/ (which the SDK
 * imports on its own) imports only src/ledger/core/. Change the lists here and in the doc together.
 */
const RULES: LayerRules = {
  layers: ["config", "shared", "protocols", "db", "http-client", "tenancy", "tokens", "ledger", "witness", "policies", "judge", "grants", "requests", "passkeys", "reviews", "outbox", "stepauth", "agents", "http", "sdk", "gateway", "main"],
  sharedFiles: ["clock.ts", "errors.ts", "log.ts", "metrics.ts", "ttl-cache.ts", "private-files.ts", "sealed-box.ts", "version.ts"],
};
const VERIFY = "src/ledger/verify/";
const VERIFY_MAY_IMPORT = ["src/ledger/core/"];

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

const graphOf = (files: Record<string, string>) => buildGraph(new Map(Object.entries(files)));
const cyclesOf = (files: Record<string, string>) => {
  const graph = graphOf(files);
  return findCycles(graph).map((c) => describeCycle(c, graph));
};

describe("the import scanner (synthetic sources)", () => {
  it("reads every form of import, with its kind and line, and nothing in comments or strings", () => {
    const source = [
      'import { a } from "./a.js";',
      'import type { B } from "./b.js";',
      'export { c } from "./c.js";',
      'export type { D } from "./d.js";',
      'export * from "./e.js";',
      'const f = await import("./f.js");',
      'let g: typeof import("./g.js");',
      'type H = import("./h.js").H;',
      'import "./side-effect.js";',
      '// import { x } from "./commented.js"; import("./commented2.js")',
      'const s = "import(\'./in-a-string.js\')";',
      "/* export * from './block-comment.js' */",
      'import fs from "node:fs";',
    ].join("\n");
    expect(importsOf("src/x.ts", source)).toEqual([
      { specifier: "./a.js", kind: "import", line: 1 },
      { specifier: "./b.js", kind: "import type", line: 2 },
      { specifier: "./c.js", kind: "export from", line: 3 },
      { specifier: "./d.js", kind: "export type from", line: 4 },
      { specifier: "./e.js", kind: "export from", line: 5 },
      { specifier: "./f.js", kind: "import()", line: 6 },
      { specifier: "./g.js", kind: "type import()", line: 7 },
      { specifier: "./h.js", kind: "type import()", line: 8 },
      { specifier: "./side-effect.js", kind: "import", line: 9 },
      { specifier: "node:fs", kind: "import", line: 13 },
    ]);
  });

  it("resolves NodeNext specifiers to source files, and leaves packages and missing files alone", () => {
    const files = new Set(["src/a/b.ts", "src/a/dir/index.ts", "src/c.ts"]);
    expect(resolveImport("src/a/x.ts", "./b.js", files)).toBe("src/a/b.ts");
    expect(resolveImport("src/a/x.ts", "../c.js", files)).toBe("src/c.ts");
    expect(resolveImport("src/a/x.ts", "./dir/index.js", files)).toBe("src/a/dir/index.ts");
    expect(resolveImport("src/a/x.ts", "./dir", files)).toBe("src/a/dir/index.ts");
    expect(resolveImport("src/a/x.ts", "zod", files)).toBeUndefined();
    expect(resolveImport("src/a/x.ts", "./gone.js", files)).toBeUndefined();
    expect(graphOf({ "src/a.ts": 'import "./gone.js"; import "zod";' }).unresolved).toEqual([{ from: "src/a.ts", specifier: "./gone.js", kind: "import", line: 1 }]);
  });

  it("finds a cycle and names its files and imports", () => {
    const cycles = cyclesOf({
      "src/requests/store.ts": 'import { write } from "../ledger/writer.js";',
      "src/ledger/writer.ts": 'import { event } from "./core/event.js";',
      "src/ledger/core/event.ts": 'import type { Row } from "../../requests/store.js";',
      "src/ledger/core/other.ts": 'import { event } from "./event.js";',
    });
    expect(cycles).toEqual([
      'src/ledger/core/event.ts:1 import type "../../requests/store.js" -> src/requests/store.ts:1 import "../ledger/writer.js" -> src/ledger/writer.ts:1 import "./core/event.js" -> src/ledger/core/event.ts',
    ]);
  });

  it("finds cycles closed by a dynamic import, a type position import and a file importing itself", () => {
    expect(cyclesOf({ "src/a.ts": 'const b = () => import("./b.js");', "src/b.ts": 'import "./a.js";' })).toHaveLength(1);
    expect(cyclesOf({ "src/a.ts": 'let b: typeof import("./b.js");', "src/b.ts": 'export * from "./a.js";' })).toHaveLength(1);
    expect(cyclesOf({ "src/a.ts": 'import "./a.js";' })).toEqual(['src/a.ts:1 import "./a.js" -> src/a.ts']);
  });

  it("reports each cycle once, and no cycle in a diamond", () => {
    expect(cyclesOf({ "src/a.ts": 'import "./b.js"; import "./c.js";', "src/b.ts": 'import "./d.js";', "src/c.ts": 'import "./d.js";', "src/d.ts": "" })).toEqual([]);
    const twoLoops = { "src/a.ts": 'import "./b.js"; import "./c.js";', "src/b.ts": 'import "./a.js";', "src/c.ts": 'import "./a.js";', "src/x.ts": 'import "./y.js";', "src/y.ts": 'import "./x.js";' };
    expect(cyclesOf(twoLoops)).toHaveLength(2);
  });

  it("finds a climb, also through a type-only or dynamic import, and lets a layer import itself and lower layers", () => {
    const graph = graphOf({
      "src/requests/a.ts": 'import type { Vote } from "../reviews/votes.js";\nimport { x } from "./b.js";\nimport { clock } from "../clock.js";\nimport { cfg } from "../config/config.js";',
      "src/requests/b.ts": 'export const x = () => import("../http/server.js");',
      "src/reviews/votes.ts": 'import { x } from "../requests/b.js";',
      "src/http/server.ts": "",
      "src/clock.ts": "",
      "src/config/config.ts": 'import { clock } from "../clock.js";',
    });
    expect(climbs(graph, RULES)).toEqual([
      'src/config/config.ts:1 import "../clock.js" (-> src/clock.ts): config may not import shared, a higher layer',
      'src/requests/a.ts:1 import type "../reviews/votes.js" (-> src/reviews/votes.ts): requests may not import reviews, a higher layer',
      'src/requests/b.ts:1 import() "../http/server.js" (-> src/http/server.ts): requests may not import http, a higher layer',
    ]);
  });

  it("places files in layers, and refuses unlisted files in src/ and unlisted folders", () => {
    expect(layerOf("src/http/routes/reviews.ts", RULES)).toEqual({ layer: "http", rank: RULES.layers.indexOf("http") });
    expect(layerOf("src/errors.ts", RULES)).toEqual({ layer: "shared", rank: 1 });
    const problems = placementProblems(["src/context.ts", "src/mirror/cosign.ts", "src/mirror/serve.ts", "src/shared/x.ts", "src/main/cli.ts"], ["secrets", "main"], RULES);
    expect(problems).toHaveLength(4);
    expect(problems[0]).toMatch(/^src\/context\.ts sits directly in src\/ but is not one of the shared files/);
    expect(problems[1]).toMatch(/^src\/mirror\/ is not a known layer/);
    expect(problems[2]).toMatch(/^src\/shared\/ is not a known layer/);
    expect(problems[3]).toMatch(/^src\/secrets\/ is not a known layer/);
  });

  it("lets ledger/verify/ import only ledger/core/ (and itself)", () => {
    const graph = graphOf({
      "src/ledger/verify/bundle.ts": 'import "./checks.js"; import "../core/merkle.js"; import "../store/tiles.js"; import "../../errors.js";',
      "src/ledger/verify/checks.ts": 'import type { Leaf } from "../core/merkle.js";',
      "src/ledger/core/merkle.ts": "",
      "src/ledger/store/tiles.ts": 'import "../verify/bundle.js";',
      "src/errors.ts": "",
    });
    expect(importsLeaving(graph, VERIFY, VERIFY_MAY_IMPORT)).toEqual([
      'src/ledger/verify/bundle.ts:1 import "../store/tiles.js" (-> src/ledger/store/tiles.ts): src/ledger/verify/ may import only src/ledger/core/',
      'src/ledger/verify/bundle.ts:1 import "../../errors.js" (-> src/errors.ts): src/ledger/verify/ may import only src/ledger/core/',
    ]);
  });

  it("finds what ledger/verify/ reaches through core/, with the chain of files", () => {
    const graph = graphOf({
      "src/ledger/verify/bundle.ts": 'import "../core/event.js";',
      "src/ledger/core/event.ts": 'import "../core/cbor.js"; import type { Row } from "../store/rows.js";',
      "src/ledger/core/cbor.ts": "",
      "src/ledger/store/rows.ts": 'import "../../db/sql.js";',
      "src/db/sql.ts": "",
    });
    expect(importsLeaving(graph, VERIFY, VERIFY_MAY_IMPORT)).toEqual([]);
    expect(reachedOutside(graph, VERIFY, VERIFY_MAY_IMPORT)).toEqual([
      "src/ledger/verify/ reaches src/db/sql.ts: src/ledger/verify/bundle.ts -> src/ledger/core/event.ts -> src/ledger/store/rows.ts -> src/db/sql.ts",
      "src/ledger/verify/ reaches src/ledger/store/rows.ts: src/ledger/verify/bundle.ts -> src/ledger/core/event.ts -> src/ledger/store/rows.ts",
    ]);
  });

  describe("reads a directory tree", () => {
    const dir = mkdtempSync(path.join(tmpdir(), "layers-"));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it("finds .ts files at any depth and the top-level folders that hold files", () => {
      mkdirSync(path.join(dir, "src/a/deep"), { recursive: true });
      mkdirSync(path.join(dir, "src/empty"), { recursive: true });
      mkdirSync(path.join(dir, "src/assets"), { recursive: true });
      writeFileSync(path.join(dir, "src/a/deep/x.ts"), 'import "../../b.js";');
      writeFileSync(path.join(dir, "src/b.ts"), 'import "./a/deep/x.js";');
      writeFileSync(path.join(dir, "src/assets/logo.svg"), "<svg/>");
      const { sources, topFolders } = readSourceTree(dir);
      expect([...sources.keys()].sort()).toEqual(["src/a/deep/x.ts", "src/b.ts"]);
      expect(topFolders).toEqual(["a", "assets"]);
      expect(findCycles(buildGraph(sources))).toEqual([["src/a/deep/x.ts", "src/b.ts", "src/a/deep/x.ts"]]);
    });
  });
});

describe("the layers of src/ (docs/architecture.md)", () => {
  const { sources, topFolders } = readSourceTree(ROOT);
  const graph = buildGraph(sources);

  it("reads the real tree (so that the checks below cannot pass on nothing)", () => {
    expect(graph.files.length).toBeGreaterThan(100);
    expect(graph.edges.length).toBeGreaterThan(300);
    expect(graph.edges.some((e) => e.from.startsWith("src/main/") && e.to.startsWith("src/http/"))).toBe(true);
  });

  it("has no relative import that names no source file", () => {
    expect(graph.unresolved.map((u) => `${u.from}:${u.line} ${u.kind} "${u.specifier}" names no .ts file under src/`)).toEqual([]);
  });

  it("has every file in a known layer", () => {
    expect(placementProblems(graph.files, topFolders, RULES)).toEqual([]);
  });

  it("has no import cycle", () => {
    expect(findCycles(graph).map((c) => describeCycle(c, graph))).toEqual([]);
  });

  it("imports only from the same or a lower layer", () => {
    expect(climbs(graph, RULES)).toEqual([]);
  });

  it("keeps ledger/verify/ standalone: it imports only ledger/core/", () => {
    expect(importsLeaving(graph, VERIFY, VERIFY_MAY_IMPORT)).toEqual([]);
    // And through core/: the SDK gets everything the verifier reaches.
    expect(reachedOutside(graph, VERIFY, VERIFY_MAY_IMPORT)).toEqual([]);
  });

  it("keeps protocols/ standalone: the seed protocols' wire code imports only itself (the SDK uses it too)", () => {
    expect(graph.files.some((f) => f.startsWith("src/protocols/"))).toBe(true);
    expect(importsLeaving(graph, "src/protocols/", [])).toEqual([]);
  });

  it("states the same layer order in docs/architecture.md", () => {
    const doc = readFileSync(path.join(ROOT, "docs/architecture.md"), "utf8");
    expect(doc).toContain(RULES.layers.join(" → "));
    for (const file of RULES.sharedFiles) expect(doc).toContain(file);
  });
});

/**
 * countersign/sdk runs in Node and in edge runtimes (fetch and WebCrypto only). So src/sdk/ imports
 * only itself and the ledger's pure verifier (src/ledger/verify/, src/ledger/core/), and nothing it
 * reaches, however deep, imports a node: module or a package other than jose, zod, @noble and @bufbuild/cel
 * (all run on WebCrypto / plain JS; evaluateRouting runs CEL), or uses Node's Buffer or process globals (the ledger core finds node:crypto
 * through globalThis, src/ledger/core/crypto.ts, and falls back to plain JavaScript).
 */
describe("the SDK's runtime-neutral path (src/sdk/)", () => {
  const SDK = "src/sdk/";
  const SDK_MAY_IMPORT = ["src/ledger/verify/", "src/ledger/core/", "src/protocols/"];
  const SDK_PACKAGES = ["jose", "zod", "@noble/hashes", "@noble/curves", "@noble/post-quantum", "@bufbuild/cel"];
  const { sources } = readSourceTree(ROOT);
  const graph = buildGraph(sources);
  const reached = (() => {
    const seen = new Set(graph.files.filter((f) => f.startsWith(SDK)));
    for (const queue = [...seen]; queue.length > 0; ) {
      const from = queue.pop()!;
      for (const e of graph.edges) if (e.from === from && !seen.has(e.to)) queue.push(e.to), seen.add(e.to);
    }
    return [...seen].sort();
  })();
  /** Free uses of a Node-only global (not `x.Buffer` or `{ Buffer: 1 }`), as "file:line name". */
  const nodeGlobals = (file: string, source: string): string[] => {
    const sf = ts.createSourceFile(file, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
    const found: string[] = [];
    const visit = (node: ts.Node): void => {
      if (ts.isIdentifier(node) && (node.text === "Buffer" || node.text === "process" || node.text === "require")) {
        const parent = node.parent;
        const isMemberName = (ts.isPropertyAccessExpression(parent) && parent.name === node) || (ts.isPropertySignature(parent) && parent.name === node) || (ts.isPropertyAssignment(parent) && parent.name === node);
        if (!isMemberName) found.push(`${file}:${sf.getLineAndCharacterOfPosition(node.getStart(sf)).line + 1} ${node.text}`);
      }
      ts.forEachChild(node, visit);
    };
    visit(sf);
    return found;
  };

  it("reads the SDK and follows it into the ledger verifier (so the checks below cannot pass on nothing)", () => {
    expect(reached).toContain("src/sdk/index.ts");
    expect(reached).toContain("src/ledger/verify/bundle-verifier.ts");
    expect(reached).toContain("src/ledger/core/merkle.ts");
  });

  it("imports only src/sdk/, src/ledger/verify/, src/ledger/core/ and src/protocols/, directly and through them", () => {
    expect(importsLeaving(graph, SDK, SDK_MAY_IMPORT)).toEqual([]);
    expect(reachedOutside(graph, SDK, SDK_MAY_IMPORT)).toEqual([]);
  });

  it("reaches no node: module and no package but jose, zod, @noble and @bufbuild/cel", () => {
    const packages = reached.flatMap((f) =>
      importsOf(f, sources.get(f)!)
        .filter((i) => !i.specifier.startsWith("."))
        .filter((i) => !SDK_PACKAGES.some((p) => i.specifier === p || i.specifier.startsWith(`${p}/`)))
        .map((i) => `${f}:${i.line} ${i.kind} "${i.specifier}"`),
    );
    expect(packages).toEqual([]);
  });

  it("uses no Node-only global (Buffer, process, require) in any file it reaches", () => {
    expect(reached.flatMap((f) => nodeGlobals(f, sources.get(f)!))).toEqual([]);
    // The scanner does find one (so the line above cannot pass on nothing).
    expect(nodeGlobals("x.ts", 'const b = Buffer.from("a"); const o = { Buffer: 1 }; x.process;')).toEqual(["x.ts:1 Buffer"]);
  });
});
