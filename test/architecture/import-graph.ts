import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import ts from "typescript";

/**
 * The import graph of the TypeScript sources under src/, and the rules docs/architecture.md states
 * over it: no cycles, imports go down the layer list only, ledger/verify/ imports only ledger/core/.
 *
 * Imports are read from TypeScript's own syntax tree (the compiler is already a devDependency), not
 * with regular expressions, so `import(...)` in a comment or a string is not an import, and a type
 * position `typeof import("...")` is one. Type-only imports count like any other: a type that
 * climbs a layer is a dependency that climbs a layer.
 *
 * Paths are POSIX and relative to the repository root ("src/requests/decisions.ts"), so the same
 * functions run over the real tree and over in-memory sources in the scanner's own tests.
 */

export type ImportKind = "import" | "import type" | "export from" | "export type from" | "import()" | "type import()" | "import = require";

export interface ImportRef {
  specifier: string;
  kind: ImportKind;
  line: number;
}

export interface ImportEdge extends ImportRef {
  from: string;
  to: string;
}

/** Every module specifier a source file names, with how it names it. */
export function importsOf(fileName: string, source: string): ImportRef[] {
  const file = ts.createSourceFile(fileName, source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
  const found: ImportRef[] = [];
  const add = (spec: ts.Node | undefined, kind: ImportKind, at: ts.Node) => {
    if (!spec || !ts.isStringLiteralLike(spec)) return;
    found.push({ specifier: spec.text, kind, line: file.getLineAndCharacterOfPosition(at.getStart(file)).line + 1 });
  };
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node)) {
      add(node.moduleSpecifier, node.importClause?.isTypeOnly ? "import type" : "import", node);
    } else if (ts.isExportDeclaration(node)) {
      if (node.moduleSpecifier) add(node.moduleSpecifier, node.isTypeOnly ? "export type from" : "export from", node);
    } else if (ts.isImportEqualsDeclaration(node) && ts.isExternalModuleReference(node.moduleReference)) {
      add(node.moduleReference.expression, "import = require", node);
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      add(node.arguments[0], "import()", node);
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument)) {
      add(node.argument.literal, "type import()", node);
    }
    ts.forEachChild(node, visit);
  };
  visit(file);
  return found;
}

/**
 * The file a relative specifier names, among `files`; undefined when it names none (a package, or a
 * path that does not exist). NodeNext sources write "./x.js" for "./x.ts".
 */
export function resolveImport(from: string, specifier: string, files: ReadonlySet<string>): string | undefined {
  if (!specifier.startsWith("./") && !specifier.startsWith("../")) return undefined;
  const base = path.posix.normalize(path.posix.join(path.posix.dirname(from), specifier));
  const candidates = [base.replace(/\.js$/, ".ts"), base.replace(/\.mjs$/, ".mts"), base, `${base}.ts`, `${base}/index.ts`];
  return candidates.find((c) => files.has(c));
}

export interface ImportGraph {
  files: string[];
  edges: ImportEdge[];
  /** Relative specifiers that name no source file: each is a finding, since it cannot be placed in a layer. */
  unresolved: (ImportRef & { from: string })[];
}

/** The graph of `sources` (path -> text). Package imports ("zod", "node:fs") are not edges. */
export function buildGraph(sources: ReadonlyMap<string, string>): ImportGraph {
  const files = [...sources.keys()].sort();
  const known = new Set(files);
  const edges: ImportEdge[] = [];
  const unresolved: ImportGraph["unresolved"] = [];
  for (const from of files) {
    for (const ref of importsOf(from, sources.get(from) ?? "")) {
      const to = resolveImport(from, ref.specifier, known);
      if (to) edges.push({ from, to, ...ref });
      else if (ref.specifier.startsWith(".")) unresolved.push({ from, ...ref });
    }
  }
  return { files, edges, unresolved };
}

/** Every .ts file under `root`/src, keyed by its path from `root`; plus every top-level folder of src/ that holds files. */
export function readSourceTree(root: string): { sources: Map<string, string>; topFolders: string[] } {
  const sources = new Map<string, string>();
  const topFolders: string[] = [];
  const walk = (dir: string): boolean => {
    let holdsFiles = false;
    for (const name of readdirSync(path.join(root, dir)).sort()) {
      const rel = `${dir}/${name}`;
      if (statSync(path.join(root, rel)).isDirectory()) {
        const inner = walk(rel);
        holdsFiles ||= inner;
        if (dir === "src" && inner) topFolders.push(name);
      } else {
        holdsFiles = true;
        if (/\.(m|c)?ts$/.test(name)) sources.set(rel, readFileSync(path.join(root, rel), "utf8"));
      }
    }
    return holdsFiles;
  };
  if (existsSync(path.join(root, "src"))) walk("src");
  return { sources, topFolders };
}

/** Each import cycle once, as the files around it ("a.ts -> b.ts -> a.ts"), found per strongly connected component. */
export function findCycles(graph: Pick<ImportGraph, "files" | "edges">): string[][] {
  const next = new Map<string, string[]>();
  for (const e of graph.edges) next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
  const cycles: string[][] = [];
  for (const component of stronglyConnected(graph.files, next)) {
    const members = new Set(component);
    const start = [...component].sort()[0]!;
    const selfLoop = (next.get(start) ?? []).includes(start);
    if (component.length === 1 && !selfLoop) continue;
    cycles.push(shortestCycle(start, next, members));
  }
  return cycles;
}

/** Tarjan's algorithm, iterative so that a deep import chain cannot overflow the stack. */
function stronglyConnected(files: string[], next: ReadonlyMap<string, string[]>): string[][] {
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const out: string[][] = [];
  let counter = 0;
  for (const root of files) {
    if (index.has(root)) continue;
    const work: { node: string; i: number }[] = [{ node: root, i: 0 }];
    index.set(root, counter);
    low.set(root, counter++);
    stack.push(root);
    onStack.add(root);
    while (work.length > 0) {
      const frame = work[work.length - 1]!;
      const targets = next.get(frame.node) ?? [];
      if (frame.i < targets.length) {
        const to = targets[frame.i++]!;
        if (!index.has(to)) {
          index.set(to, counter);
          low.set(to, counter++);
          stack.push(to);
          onStack.add(to);
          work.push({ node: to, i: 0 });
        } else if (onStack.has(to)) {
          low.set(frame.node, Math.min(low.get(frame.node)!, index.get(to)!));
        }
        continue;
      }
      work.pop();
      const parent = work[work.length - 1];
      if (parent) low.set(parent.node, Math.min(low.get(parent.node)!, low.get(frame.node)!));
      if (low.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let member: string;
        do {
          member = stack.pop()!;
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        out.push(component);
      }
    }
  }
  return out;
}

/** The shortest path start -> ... -> start inside one component (breadth first), as a list ending where it began. */
function shortestCycle(start: string, next: ReadonlyMap<string, string[]>, members: ReadonlySet<string>): string[] {
  const cameFrom = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const node = queue.shift()!;
    for (const to of next.get(node) ?? []) {
      if (!members.has(to)) continue;
      if (to === start) {
        const path: string[] = [];
        for (let at = node; at !== start; at = cameFrom.get(at)!) path.unshift(at);
        return [start, ...path, start];
      }
      if (!cameFrom.has(to) && to !== start) {
        cameFrom.set(to, node);
        queue.push(to);
      }
    }
  }
  return [start, start];
}

export interface LayerRules {
  /** Lowest first. "shared" is the files directly in src/ named in `sharedFiles`; every other layer is a folder of src/. */
  layers: readonly string[];
  sharedFiles: readonly string[];
}

export type Placement = { layer: string; rank: number } | { problem: string };

/** The layer a source file belongs to, or why it belongs to none. */
export function layerOf(file: string, rules: LayerRules): Placement {
  const parts = file.split("/");
  if (parts[0] !== "src") return { problem: `${file} is outside src/` };
  if (parts.length === 2) {
    return rules.sharedFiles.includes(parts[1]!)
      ? { layer: "shared", rank: rules.layers.indexOf("shared") }
      : { problem: `${file} sits directly in src/ but is not one of the shared files (${rules.sharedFiles.join(", ")}): move it into a layer folder, or add it to the shared list in test/architecture/layers.test.ts and docs/architecture.md` };
  }
  const folder = parts[1]!;
  const rank = rules.layers.indexOf(folder);
  return rank >= 0 && folder !== "shared"
    ? { layer: folder, rank }
    : { problem: `src/${folder}/ is not a known layer (${rules.layers.join(", ")}): add it to the layer list in test/architecture/layers.test.ts and docs/architecture.md, or move its files into a layer` };
}

const describeEdge = (e: ImportEdge) => `${e.from}:${e.line} ${e.kind} "${e.specifier}" (-> ${e.to})`;

/** Imports from a lower layer to a higher one; an import whose ends cannot be placed is reported by placementProblems. */
export function climbs(graph: Pick<ImportGraph, "edges">, rules: LayerRules): string[] {
  const out: string[] = [];
  for (const e of graph.edges) {
    const from = layerOf(e.from, rules);
    const to = layerOf(e.to, rules);
    if ("problem" in from || "problem" in to) continue;
    if (to.rank > from.rank) out.push(`${describeEdge(e)}: ${from.layer} may not import ${to.layer}, a higher layer`);
  }
  return out;
}

/** Files (and top-level folders) that belong to no layer, so that a new one cannot slip past the rules. Once per folder. */
export function placementProblems(files: readonly string[], topFolders: readonly string[], rules: LayerRules): string[] {
  const problems = new Set<string>();
  for (const file of [...files, ...topFolders.map((f) => `src/${f}/`)]) {
    const placed = layerOf(file, rules);
    if ("problem" in placed) problems.add(placed.problem);
  }
  return [...problems];
}

/** Imports out of `folder` to anything outside it and `allowed` (src-relative folders with trailing "/"). */
export function importsLeaving(graph: Pick<ImportGraph, "edges">, folder: string, allowed: readonly string[]): string[] {
  return graph.edges
    .filter((e) => e.from.startsWith(folder) && ![folder, ...allowed].some((f) => e.to.startsWith(f)))
    .map((e) => `${describeEdge(e)}: ${folder} may import only ${allowed.join(", ")}`);
}

/** The cycle as one readable line, with the import that closes each step. */
export function describeCycle(cycle: readonly string[], graph: Pick<ImportGraph, "edges">): string {
  const steps = cycle.slice(1).map((to, i) => {
    const from = cycle[i]!;
    const edge = graph.edges.find((e) => e.from === from && e.to === to);
    return edge ? `${from}:${edge.line} ${edge.kind} "${edge.specifier}"` : from;
  });
  return `${steps.join(" -> ")} -> ${cycle[cycle.length - 1]}`;
}

/**
 * Files that files under `folder` reach through any chain of imports, outside `folder` and `allowed`:
 * what a standalone import of `folder` (the SDK importing ledger/verify/) would drag in besides them.
 */
export function reachedOutside(graph: Pick<ImportGraph, "files" | "edges">, folder: string, allowed: readonly string[]): string[] {
  const inside = (f: string) => [folder, ...allowed].some((p) => f.startsWith(p));
  const seen = new Map<string, string>();
  const queue = graph.files.filter((f) => f.startsWith(folder));
  for (const f of queue) seen.set(f, f);
  while (queue.length > 0) {
    const from = queue.shift()!;
    for (const e of graph.edges) {
      if (e.from !== from || seen.has(e.to)) continue;
      seen.set(e.to, from);
      queue.push(e.to);
    }
  }
  const chain = (f: string): string => (seen.get(f) === f ? f : `${chain(seen.get(f)!)} -> ${f}`);
  return [...seen.keys()].filter((f) => !inside(f)).sort().map((f) => `${folder} reaches ${f}: ${chain(f)}`);
}
