import { existsSync, readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

/**
 * The documentation as a reader meets it: every page of docs/ opens with a contents list that names
 * each of its sections, and every relative link (README and docs) reaches a file, and a heading when
 * it names one.
 */

const ROOT = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));
const pages = readdirSync(path.join(ROOT, "docs"))
  .filter((f) => f.endsWith(".md"))
  .map((f) => `docs/${f}`);
const linked = ["README.md", "CHANGELOG.md", "deployments/README.md", ...pages];

/** Markdown outside fenced code blocks, where headings and links mean something. */
function prose(markdown: string): string[] {
  let fenced = false;
  return markdown.split("\n").filter((line) => {
    if (line.startsWith("```")) {
      fenced = !fenced;
      return false;
    }
    return !fenced;
  });
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as hyphens; repeats get -1, -2. */
function anchorsOf(markdown: string): Set<string> {
  const anchors = new Set<string>();
  const seen = new Map<string, number>();
  for (const line of prose(markdown)) {
    // An explicit anchor (<a id="...">) names a place that is not a heading.
    for (const explicit of line.matchAll(/<a id="([^"]+)"><\/a>/g)) anchors.add(explicit[1]!);
    const m = /^#{1,6} (.+?)\s*#*\s*$/.exec(line);
    if (!m) continue;
    const base = m[1]!
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, "")
      .replace(/\s/g, "-");
    const n = seen.get(base) ?? 0;
    seen.set(base, n + 1);
    anchors.add(n === 0 ? base : `${base}-${n}`);
  }
  return anchors;
}

function sectionsOf(markdown: string): string[] {
  return prose(markdown)
    .map((l) => /^## (.+)$/.exec(l)?.[1]?.trim())
    .filter((h): h is string => h !== undefined && h !== "Contents");
}

/** The links of the list under "## Contents". */
function contentsOf(markdown: string): string[] | undefined {
  const lines = prose(markdown);
  const start = lines.indexOf("## Contents");
  if (start < 0) return undefined;
  const links: string[] = [];
  for (const line of lines.slice(start + 1)) {
    if (line.startsWith("#")) break;
    const m = /^\s*- \[.*\]\(#([^)]+)\)/.exec(line);
    if (m) links.push(m[1]!);
  }
  return links;
}

describe("the documentation pages", () => {
  it.each(pages)("%s has a contents list naming each of its sections", (page) => {
    const text = readFileSync(path.join(ROOT, page), "utf8");
    const contents = contentsOf(text);
    expect(contents, `${page} has no "## Contents" list`).toBeDefined();
    const anchors = anchorsOf(text);
    const sectionAnchors = sectionsOf(text).map((h) => [...anchorsOf(`## ${h}`)][0]!);
    expect(sectionAnchors.filter((a) => !contents!.includes(a)), `${page}: sections missing from its contents list`).toEqual([]);
    expect(contents!.filter((a) => !anchors.has(a)), `${page}: contents entries that name no heading`).toEqual([]);
  });

  it.each(linked)("%s has no broken relative link or anchor", (file) => {
    const text = readFileSync(path.join(ROOT, file), "utf8");
    const broken: string[] = [];
    for (const line of prose(text)) {
      for (const m of line.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1]!;
        if (/^[a-z][a-z0-9+.-]*:/i.test(target)) continue;
        const [file_, anchor] = target.split("#") as [string, string | undefined];
        const resolved = file_ === "" ? path.join(ROOT, file) : path.resolve(path.dirname(path.join(ROOT, file)), file_);
        if (!existsSync(resolved)) {
          broken.push(`${target}: no such file`);
          continue;
        }
        if (anchor !== undefined && resolved.endsWith(".md") && !anchorsOf(readFileSync(resolved, "utf8")).has(anchor)) {
          broken.push(`${target}: no heading with that anchor in ${path.relative(ROOT, resolved)}`);
        }
      }
    }
    expect(broken).toEqual([]);
  });
});
