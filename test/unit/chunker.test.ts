import { describe, expect, it } from "vitest";
import { chunkMarkdown, chunkPlainText, defaultChunkOptions, type ChunkOptions, type TextChunk } from "../../src/policies/chunker.js";

/** Deterministic pseudo-random words, so a failing case can be reproduced exactly. */
function wordsFrom(seed: number, count: number): string[] {
  let s = seed;
  const next = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  return Array.from({ length: count }, (_, i) => `${"abcdefghijklmnopqrst".slice(0, 1 + Math.floor(next() * 14))}${i}`);
}

/** Length of the longest prefix of `next` that is also a suffix of `prev`. */
function overlapLength(prev: string, next: string): number {
  for (let k = Math.min(prev.length, next.length); k > 0; k--) {
    if (prev.endsWith(next.slice(0, k))) return k;
  }
  return 0;
}

describe("chunkMarkdown", () => {
  it("cuts at headings and names each chunk by the title and the headings above it", () => {
    const md = [
      "Preamble before any heading.",
      "# Refunds",
      "Refunds are issued to the original card.",
      "## Limits",
      "Up to $100 without review.",
      "### Exceptions",
      "Damaged goods are always refunded.",
      "## Timing",
      "Within five business days.",
      "# Travel",
      "Book economy class.",
    ].join("\n\n");
    expect(chunkMarkdown(md, "Handbook")).toEqual([
      { heading: "Handbook", text: "Preamble before any heading." },
      { heading: "Handbook › Refunds", text: "Refunds are issued to the original card." },
      { heading: "Handbook › Refunds › Limits", text: "Up to $100 without review." },
      { heading: "Handbook › Refunds › Limits › Exceptions", text: "Damaged goods are always refunded." },
      // A sibling heading replaces the deeper path instead of nesting under it.
      { heading: "Handbook › Refunds › Timing", text: "Within five business days." },
      { heading: "Handbook › Travel", text: "Book economy class." },
    ]);
  });

  it("keeps a fenced code block with '#' lines in one chunk of its section", () => {
    const md = "# Scripts\n\nRun this before a wipe:\n\n```sh\n# back up the disk first\nrsync -a / /backup\n## not a heading either\n```\n\nThen confirm.";
    const chunks = chunkMarkdown(md, "Ops");
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.heading).toBe("Ops › Scripts");
    expect(chunks[0]!.text).toContain("# back up the disk first\nrsync -a / /backup\n## not a heading either");
    expect(chunks[0]!.text.endsWith("Then confirm.")).toBe(true);
    expect(chunks.some((c) => c.heading.includes("back up"))).toBe(false);
  });

  it("never exceeds maxChars (plus the joiner) and loses no word, on long mixed input", () => {
    const options: ChunkOptions[] = [
      { maxChars: 200, overlapChars: 50 },
      { maxChars: 500, overlapChars: 0 },
      // Overlap larger than the new text per chunk; windows stay wider than twice the longest word,
      // so splitLong always finds a space to cut at.
      { maxChars: 150, overlapChars: 100 },
      defaultChunkOptions,
    ];
    for (const [seed, opts] of options.entries()) {
      const words = wordsFrom(seed + 1, 3000);
      // Paragraphs of very different lengths, some far longer than a chunk, and a few headings.
      const blocks: string[] = [];
      for (let i = 0, n = 0; i < words.length; n++) {
        const len = [3, 40, 400, 12, 150][n % 5]!;
        const para = words.slice(i, i + len).join(" ");
        blocks.push(n % 7 === 6 ? `## Section ${n}\n\n${para}` : n % 5 === 3 ? `- ${para}` : para);
        i += len;
      }
      const chunks = chunkMarkdown(blocks.join("\n\n"), "Doc", opts);
      expect(chunks.length).toBeGreaterThan(5);
      for (const c of chunks) {
        expect(c.text.length, `chunk of ${c.heading} with ${JSON.stringify(opts)}`).toBeLessThanOrEqual(opts.maxChars);
        expect(c.text.trim()).not.toBe("");
      }
      const all = new Set(chunks.flatMap((c) => c.text.split(/\s+/)));
      expect(words.filter((w) => !all.has(w))).toEqual([]);
    }
  });

  it("repeats the word-aligned end of a chunk at the start of the next chunk of the same section", () => {
    const opts = { maxChars: 300, overlapChars: 60 };
    const words = wordsFrom(42, 400);
    const paragraphs = [words.slice(0, 150), words.slice(150, 160), words.slice(160, 400)].map((w) => w.join(" "));
    const chunks = chunkMarkdown(`# Long\n\n${paragraphs.join("\n\n")}`, "T", opts);
    expect(chunks.length).toBeGreaterThan(4);
    for (let n = 0; n + 1 < chunks.length; n++) {
      const prev = chunks[n]!.text;
      const next = chunks[n + 1]!.text;
      const k = overlapLength(prev, next);
      expect(k, `chunks ${n} and ${n + 1}`).toBeGreaterThan(0);
      expect(k).toBeLessThanOrEqual(opts.overlapChars);
      // Word-aligned: the carried text starts right after whitespace in the previous chunk.
      expect(prev.charAt(prev.length - k - 1)).toMatch(/\s/);
      expect(words).toContain(next.split(/\s+/)[0]);
    }
  });

  it("does not carry text across a heading", () => {
    const opts = { maxChars: 200, overlapChars: 80 };
    const words = wordsFrom(9, 200);
    const md = `# A\n\n${words.slice(0, 100).join(" ")}\n\n# B\n\n${words.slice(100).join(" ")}`;
    const chunks = chunkMarkdown(md, "T", opts);
    const lastOfA = chunks.filter((c) => c.heading === "T › A").at(-1)!;
    const firstOfB = chunks.find((c) => c.heading === "T › B")!;
    expect(firstOfB.text.startsWith(words[100]!)).toBe(true);
    expect(lastOfA.text.endsWith(words[99]!)).toBe(true);
  });

  it("has no chunks for empty input or for headings without text", () => {
    expect(chunkMarkdown("", "T")).toEqual([]);
    expect(chunkMarkdown("  \n\n \n", "T")).toEqual([]);
    expect(chunkMarkdown("# Only\n\n## Headings", "T")).toEqual([]);
  });
});

describe("chunkPlainText", () => {
  // Small enough that two paragraphs never share a chunk, so each chunk shows one split.
  const opts = { maxChars: 60, overlapChars: 0 };

  it("splits on blank lines (also whitespace-only ones), not on single newlines", () => {
    const text = "First paragraph, line one\nstill the first paragraph.\n\nSecond paragraph, a little longer.\n \t\nThird one, also long enough.";
    const chunks: TextChunk[] = chunkPlainText(text, "Memo", opts);
    expect(chunks).toEqual([
      { heading: "Memo", text: "First paragraph, line one\nstill the first paragraph." },
      { heading: "Memo", text: "Second paragraph, a little longer." },
      { heading: "Memo", text: "Third one, also long enough." },
    ]);
  });

  it("packs short paragraphs together when they fit and treats '#' as text", () => {
    const chunks = chunkPlainText("# not a heading\n\nshort two", "Memo", defaultChunkOptions);
    expect(chunks).toEqual([{ heading: "Memo", text: "# not a heading\n\nshort two" }]);
  });

  it("has no chunks for empty or blank input", () => {
    expect(chunkPlainText("", "Memo")).toEqual([]);
    expect(chunkPlainText(" \n\n\t\n ", "Memo")).toEqual([]);
  });
});
