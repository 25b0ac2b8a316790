/**
 * docs/walkthrough.md as a test: its ```sh blocks are the commands, run in order in one shell, and the
 * ```json or ```text block right after one is the answer it must give. Values that change on every
 * run (ids, hashes, keys, tokens, times) are compared by kind, never skipped: a documented uuid needs
 * a uuid at that place, a documented `req_` id a `req_` id.
 */

export interface WalkthroughStep {
  /** 1-based, in document order. */
  index: number;
  /** The line of the ```sh fence, for failure messages. */
  line: number;
  script: string;
  expected?: { kind: "json" | "text"; body: string; line: number };
}

const FENCE = /^```([a-z]*)\s*$/;

/** The ```sh blocks of a markdown text, each with the output block that directly follows it (if any). */
export function parseWalkthrough(markdown: string): WalkthroughStep[] {
  const blocks: { lang: string; body: string; line: number }[] = [];
  // What lies between blocks: an output block belongs to a command only when nothing but blank lines separates them.
  const gaps: string[] = [];
  const lines = markdown.split("\n");
  let open: { lang: string; line: number; body: string[] } | undefined;
  let gap: string[] = [];
  lines.forEach((text, i) => {
    const fence = FENCE.exec(text);
    if (open) {
      if (text.startsWith("```")) {
        blocks.push({ lang: open.lang, body: open.body.join("\n"), line: open.line });
        open = undefined;
      } else open.body.push(text);
    } else if (fence) {
      gaps.push(gap.join("\n"));
      gap = [];
      open = { lang: fence[1]!, line: i + 1, body: [] };
    } else gap.push(text);
  });
  if (open) throw new Error(`docs/walkthrough.md: the block opened at line ${open.line} is never closed`);
  const steps: WalkthroughStep[] = [];
  blocks.forEach((block, i) => {
    if (block.lang !== "sh") return;
    const next = blocks[i + 1];
    const adjacent = next && (next.lang === "json" || next.lang === "text") && gaps[i + 1]!.trim() === "";
    steps.push({
      index: steps.length + 1,
      line: block.line,
      script: block.body,
      expected: adjacent ? { kind: next.lang as "json" | "text", body: next.body, line: next.line } : undefined,
    });
  });
  return steps;
}

/**
 * Volatile values, most specific first, each replaced by a placeholder naming its kind. A prefixed id
 * keeps its prefix, so `req_<uuid>` never stands for a `pv_<uuid>`.
 */
const VOLATILE: [RegExp, string][] = [
  [/eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/g, "<jwt>"],
  [/csk_[A-Za-z0-9_-]{20,}/g, "<api-key>"],
  [/\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z/g, "<time>"],
  [/\b([a-z]{1,4})_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g, "$1_<uuid>"],
  [/\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b/g, "<uuid>"],
  [/\b([a-z]{1,4})_[0-9a-f]{16,32}\b/g, "$1_<hex-id>"],
  [/\b[0-9a-f]{64}\b/g, "<hex64>"],
  // A C2SP key name's hash: <origin>+<8 hex>.
  [/\+[0-9a-f]{8}\b/g, "+<key-hash>"],
  [/[A-Za-z0-9+/_-]{40,}={0,2}/g, "<base64>"],
];

/** A text with every volatile value replaced by its kind's placeholder. */
export function normalizeVolatile(text: string): string {
  return VOLATILE.reduce((s, [pattern, placeholder]) => s.replace(pattern, placeholder), text);
}

/**
 * Where `actual` departs from the documented `expected`, or undefined when it matches. Objects: every
 * documented member must be present and match (undocumented members are allowed: an excerpt).
 * Arrays: the same length, element by element. Strings: equal once volatile values are replaced by
 * their kinds. Anything else: equal.
 */
export function jsonMismatch(expected: unknown, actual: unknown, at = "$"): string | undefined {
  if (typeof expected === "string") {
    if (typeof actual !== "string") return `${at}: documented a string, got ${JSON.stringify(actual)}`;
    const [e, a] = [normalizeVolatile(expected), normalizeVolatile(actual)];
    return e === a ? undefined : `${at}: documented ${JSON.stringify(expected)} (${e}), got ${JSON.stringify(actual)} (${a})`;
  }
  if (Array.isArray(expected)) {
    if (!Array.isArray(actual)) return `${at}: documented an array, got ${JSON.stringify(actual)}`;
    if (actual.length !== expected.length) return `${at}: documented ${expected.length} elements, got ${actual.length}: ${JSON.stringify(actual)}`;
    for (let i = 0; i < expected.length; i++) {
      const problem = jsonMismatch(expected[i], actual[i], `${at}[${i}]`);
      if (problem) return problem;
    }
    return undefined;
  }
  if (expected !== null && typeof expected === "object") {
    if (actual === null || typeof actual !== "object" || Array.isArray(actual)) return `${at}: documented an object, got ${JSON.stringify(actual)}`;
    for (const [key, value] of Object.entries(expected)) {
      if (!Object.hasOwn(actual, key)) return `${at}.${key}: documented, but missing from the answer`;
      const problem = jsonMismatch(value, (actual as Record<string, unknown>)[key], `${at}.${key}`);
      if (problem) return problem;
    }
    return undefined;
  }
  return Object.is(expected, actual) ? undefined : `${at}: documented ${JSON.stringify(expected)}, got ${JSON.stringify(actual)}`;
}

/**
 * Text output: every line equal once volatile values are replaced, and no more or fewer lines. A
 * documented line that is exactly `…` stands for any number of lines, so an excerpt says where it cuts.
 */
export function textMismatch(expected: string, actual: string): string | undefined {
  const want = expected.split("\n").map((l) => normalizeVolatile(l.trimEnd()));
  const got = actual.split("\n").map((l) => normalizeVolatile(l.trimEnd()));
  let g = 0;
  for (let w = 0; w < want.length; w++) {
    if (want[w] === "…") {
      const next = want[w + 1];
      if (next === undefined) return undefined;
      while (g < got.length && got[g] !== next) g++;
      if (g === got.length) return `documented line ${JSON.stringify(next)} (after …) is not in the answer`;
      continue;
    }
    if (got[g] !== want[w]) return `line ${w + 1}: documented ${JSON.stringify(want[w])}, got ${JSON.stringify(got[g] ?? "(end of output)")}`;
    g++;
  }
  return g === got.length ? undefined : `the answer goes on after the documented lines: ${JSON.stringify(got.slice(g).join("\n"))}`;
}

/** Compares one step's output with its documented block; JSON output may be one document or several (one per line). */
export function outputMismatch(expected: NonNullable<WalkthroughStep["expected"]>, output: string): string | undefined {
  if (expected.kind === "text") return textMismatch(expected.body.trim(), output.trim());
  let want: unknown;
  try {
    want = JSON.parse(expected.body);
  } catch (err) {
    return `the documented json block is not JSON (${(err as Error).message}); show an excerpt by leaving members out`;
  }
  let got: unknown;
  try {
    got = JSON.parse(output);
  } catch {
    return `the command did not print one JSON document: ${JSON.stringify(output.slice(0, 2000))}`;
  }
  return jsonMismatch(want, got);
}
