import { marked, type Token } from "marked";

/** A piece of policy text small enough to embed and to quote as evidence. */
export interface TextChunk {
  /** Where the text sits: document title and the markdown headings above it ("Refunds › Limits"). */
  heading: string;
  text: string;
}

export interface ChunkOptions {
  maxChars: number;
  /** How much of a chunk's end is repeated at the start of the next chunk of the same section. */
  overlapChars: number;
}

export const defaultChunkOptions: ChunkOptions = { maxChars: 1200, overlapChars: 200 };

const MAX_HEADING_PART = 200;
const MAX_HEADING = 500;
const cap = (s: string, n: number) => (s.length > n ? `${s.slice(0, n - 1)}…` : s);

/**
 * Markdown is cut at headings first (a chunk never spans two sections), then at block boundaries
 * (paragraphs, lists, code, tables), packing blocks up to maxChars. The markdown lexer is used so
 * that a "#" inside a code fence is not taken for a heading.
 */
export function chunkMarkdown(markdown: string, title: string, options = defaultChunkOptions): TextChunk[] {
  const sections: { heading: string; blocks: string[] }[] = [{ heading: title, blocks: [] }];
  const path: string[] = [];
  for (const token of marked.lexer(markdown) as Token[]) {
    if (token.type === "heading") {
      path.length = Math.max(0, token.depth - 1);
      // A paragraph underlined by --- is a (setext) heading too: headings are capped, so such a
      // paragraph cannot ride along with every chunk of its section.
      path[token.depth - 1] = cap(token.text.trim().replace(/\s+/g, " "), MAX_HEADING_PART);
      sections.push({ heading: cap([title, ...path.filter(Boolean)].filter(Boolean).join(" › "), MAX_HEADING), blocks: [] });
    } else if (token.type !== "space" && token.raw.trim() !== "") {
      sections.at(-1)!.blocks.push(token.raw.trim());
    }
  }
  return sections.flatMap((s) => pack(s.blocks, s.heading, options));
}

/** Plain text is cut at blank lines (paragraphs), then packed like markdown blocks. */
export function chunkPlainText(text: string, title: string, options = defaultChunkOptions): TextChunk[] {
  const paragraphs = text.split(/\n[ \t]*\n/).map((p) => p.trim()).filter(Boolean);
  return pack(paragraphs, title, options);
}

function pack(blocks: string[], heading: string, { maxChars, overlapChars }: ChunkOptions): TextChunk[] {
  const width = Math.max(1, maxChars - overlapChars - 2);
  const pieces = blocks.flatMap((b) => (b.length > width ? splitLong(b, width) : [b]));
  const chunks: TextChunk[] = [];
  let current: string[] = [];
  let length = 0;
  for (const piece of pieces) {
    if (current.length > 0 && length + piece.length > maxChars) {
      const text = current.join("\n\n");
      chunks.push({ heading, text });
      const tail = tailOf(text, overlapChars);
      current = tail ? [tail] : [];
      // + 2 for the blank line that will join the tail to the next block.
      length = tail ? tail.length + 2 : 0;
    }
    current.push(piece);
    length += piece.length + 2;
  }
  if (current.length > 0) chunks.push({ heading, text: current.join("\n\n") });
  return chunks;
}

/**
 * A block longer than a chunk, cut at whitespace into windows short enough that the overlap
 * pack() carries in front of each still fits in maxChars.
 */
function splitLong(text: string, width: number): string[] {
  const out: string[] = [];
  let start = 0;
  while (start < text.length) {
    let end = Math.min(text.length, start + width);
    if (end < text.length) {
      const cut = lastWhitespace(text, start, end);
      if (cut > start) end = cut;
    }
    out.push(text.slice(start, end).trim());
    start = end;
  }
  return out.filter(Boolean);
}

/** Index of the last whitespace in text[from, to], or -1: where a long block may be cut without splitting a word. */
function lastWhitespace(text: string, from: number, to: number): number {
  for (let i = to; i > from; i--) if (/\s/.test(text[i] ?? "")) return i;
  return -1;
}

/** The last `n` characters of a chunk, starting at a word, carried into the next chunk. */
function tailOf(text: string, n: number): string {
  if (n <= 0 || text.length <= n) return n <= 0 ? "" : text;
  const match = /\s/.exec(text.slice(text.length - n));
  return match ? text.slice(text.length - n + match.index + 1).trimStart() : "";
}
