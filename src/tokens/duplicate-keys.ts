import { stringEnd } from "../protocols/json-string-end.js";

/**
 * Finds the first object member name that repeats within one JSON object, at any depth, and returns
 * its RFC 6901 JSON pointer (or null when every object's names are distinct).
 *
 * Why: JSON.parse keeps the last of two equal names, other parsers keep the first. RFC 8785 (the
 * canonical form `tool_args_hash` and the ledger commit to) and I-JSON (RFC 7493 §2.3: names MUST be
 * unique) leave such a text without a meaning, so the vault could approve `{"amount":5000,"amount":5}`
 * as 5 while a protected service executes 5000. Names are compared after JSON unescaping: "a" and
 * "\u0061" are the same name.
 *
 * It lives beside canonical-json.ts (the form it protects) so that every layer that parses JSON it
 * will hash or sign can use it: the judge client, the LLM answer check. The HTTP body parser finds
 * repeated names in its single pre-parse scan (json-scan.ts, same rule, same pointers) and uses this
 * only as its fallback.
 *
 * Run it only on text JSON.parse accepted: it relies on the text being well-formed and does not
 * validate it. It is iterative (hostile nesting cannot overflow the stack) and O(n): one pass, strings
 * skipped with indexOf, one Set of names per open object.
 */
export function findDuplicateKey(text: string): string | null {
  // One frame per open container. `names` is null for arrays; `segment` is the member name or index
  // currently being read in that container, for the pointer.
  const frames: { names: Set<string> | null; segment: string | number; expectName: boolean }[] = [];
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const end = stringEnd(text, i);
      const top = frames[frames.length - 1];
      if (top?.names && top.expectName) {
        const raw = text.slice(i + 1, end);
        // Escapes are rare in names; JSON.parse of the quoted slice decodes them exactly as the body was decoded.
        const name = raw.includes("\\") ? (JSON.parse(text.slice(i, end + 1)) as string) : raw;
        if (top.names.has(name)) return pointerOf(frames, name);
        top.names.add(name);
        top.segment = name;
        top.expectName = false;
      }
      i = end + 1;
      continue;
    }
    if (c === 0x7b /* { */) frames.push({ names: new Set(), segment: "", expectName: true });
    else if (c === 0x5b /* [ */) frames.push({ names: null, segment: 0, expectName: false });
    else if (c === 0x7d /* } */ || c === 0x5d /* ] */) frames.pop();
    else if (c === 0x2c /* , */) {
      const top = frames[frames.length - 1]!;
      if (top.names) top.expectName = true;
      else top.segment = (top.segment as number) + 1;
    }
    i++;
  }
  return null;
}

/** RFC 6901 §3: "~" is written "~0" and "/" is written "~1". */
export function escapePointerToken(token: string): string {
  return token.replaceAll("~", "~0").replaceAll("/", "~1");
}

function pointerOf(frames: { segment: string | number }[], name: string): string {
  // Every frame but the last is a container on the way down; its current segment leads to the next.
  const path = frames.slice(0, -1).map((f) => escapePointerToken(String(f.segment)));
  return `/${[...path, escapePointerToken(name)].join("/")}`;
}
