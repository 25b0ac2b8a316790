import { fromUtf8Strict } from "../encoding.js";
import { stringEnd } from "../json-string-end.js";

/**
 * JSON for signed protocol messages: well-formed UTF-8, one JSON text, and no object that names a
 * member twice. JSON.parse keeps the last of two equal names while Go's decoder and others differ,
 * so a hub and an SP could read different values out of one signed payload; a lone UTF-16
 * surrogate escape ("\ud800") has no UTF-8 form, and U+0000 ("\u0000") cannot be held by
 * PostgreSQL's text and cuts C strings short, so no two systems store either alike. Such texts are
 * refused rather than interpreted.
 */
export function parseStrictJson(input: string | Uint8Array): { ok: true; value: unknown } | { ok: false } {
  const text = typeof input === "string" ? input : fromUtf8Strict(input);
  if (text === null) return { ok: false };
  let value: unknown;
  try {
    value = JSON.parse(text); // V8's parser is iterative: deep nesting cannot overflow the stack
  } catch {
    return { ok: false };
  }
  return namesAreUniqueAndWellFormed(text) ? { ok: true, value } : { ok: false };
}

/** What no string of a message may hold: a lone surrogate, or NUL. Both can only arrive escaped. */
const UNSTORABLE = /[\p{Surrogate}\u0000]/u;

/**
 * One pass over text JSON.parse accepted: a Set of names per open object, strings skipped whole.
 * Iterative and linear, so hostile nesting or size cannot blow the stack or go quadratic.
 */
function namesAreUniqueAndWellFormed(text: string): boolean {
  const frames: { names: Set<string> | null; expectName: boolean }[] = [];
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      const end = stringEnd(text, i);
      const raw = text.slice(i + 1, end);
      // Escapes are rare; decoding the quoted slice gives exactly what JSON.parse produced.
      const decoded = raw.includes("\\") ? (JSON.parse(text.slice(i, end + 1)) as string) : raw;
      if (UNSTORABLE.test(decoded)) return false;
      const top = frames[frames.length - 1];
      if (top?.names && top.expectName) {
        if (top.names.has(decoded)) return false;
        top.names.add(decoded);
        top.expectName = false;
      }
      i = end;
    } else if (c === 0x7b /* { */) frames.push({ names: new Set(), expectName: true });
    else if (c === 0x5b /* [ */) frames.push({ names: null, expectName: false });
    else if (c === 0x7d /* } */ || c === 0x5d /* ] */) frames.pop();
    else if (c === 0x2c /* , */) {
      const top = frames[frames.length - 1];
      if (top?.names) top.expectName = true;
    }
  }
  return true;
}

/** A plain JSON object (not an array, not null), as a record to read members from. */
export function asObject(value: unknown): Record<string, unknown> | null {
  return value !== null && typeof value === "object" && !Array.isArray(value) ? (value as Record<string, unknown>) : null;
}
