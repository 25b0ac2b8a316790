import { escapePointerToken } from "./duplicate-keys.js";

/**
 * One pass over a JSON text, before anything parses it, that stops at the first problem in reading
 * order: a syntax error, nesting deeper than a limit, a repeated member name, a number JSON.parse
 * would turn into Infinity (1e400), a string with an unpaired UTF-16 surrogate, or a size budget on
 * some top-level members crossed.
 *
 * Why before parsing: a body over a size budget is refused at the crossed limit, unparsed. A
 * 45,000-address list (~1 MB) over a 1,000-item array budget is refused after ~1,000 items (and a
 * count of the rest, for the message), where JSON.parse plus walks of the result cost ~8 ms of the
 * event loop per body, which ten clients turned into ~180 ms of /healthz latency (issue 11 item 5).
 * It also replaces those walks for every body: one pass finds all the problems they found.
 *
 * The grammar is RFC 8259's, which is what JSON.parse accepts (plus a leading BOM, which Fastify's
 * parser strips). The caller still parses a text this accepts, and still lets JSON.parse decide a
 * text this calls a syntax error (it only produces the message): a mismatch can cost a check, never
 * skip one. Iterative (hostile nesting cannot overflow the stack) and O(n): every character is read
 * once, plain string runs are skipped by a sticky regex, one Set of names per open object.
 */
export type JsonScanProblem =
  | { kind: "syntax"; at: number }
  | { kind: "too_deep"; at: number }
  | { kind: "non_finite_number"; at: number }
  | { kind: "lone_surrogate"; at: number }
  | { kind: "duplicate_key"; pointer: string }
  | { kind: "too_many_values"; maxNodes: number }
  /** `items`: the array's length when the rest of it could be counted, else null ("more than max"). */
  | { kind: "array_too_long"; pointer: string; items: number | null; maxArrayLength: number };

export type JsonBudgetProblem = Extract<JsonScanProblem, { kind: "too_many_values" | "array_too_long" }>;

/** Values of these top-level members (of a root object) are counted together against the limits. */
export interface JsonMemberBudget {
  members: readonly string[];
  maxNodes: number;
  maxArrayLength: number;
}

export interface JsonScanOptions {
  /** Containers nested deeper than this are a problem (the root container is depth 1). */
  maxDepth?: number;
  /** Report non-finite numbers and lone surrogates (default true). */
  checkValues?: boolean;
  budget?: JsonMemberBudget;
}

interface Frame {
  names: Set<string> | null; // null for an array
  segment: string | number; // member name or index being read, for pointers
  items: number; // array items started so far
  budgeted: boolean; // inside a budgeted member
}

// States: what the next token may be.
const VALUE = 0; // a value
const VALUE_OR_CLOSE = 1; // a value or "]" (just after "[")
const NAME_OR_CLOSE = 2; // a member name or "}" (just after "{")
const NAME = 3; // a member name (after "," in an object)
const COLON = 4;
const AFTER_VALUE = 5; // "," or a closing bracket, or the end of the text at the root

/** A run of string characters that need no attention: not a quote, backslash, control or surrogate. */
const PLAIN = /[^"\\\u0000-\u001f\ud800-\udfff]*/y;

const isDigit = (c: number) => c >= 0x30 && c <= 0x39;
const isHex = (c: number) => isDigit(c) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66);

export function scanJson(text: string, opts: JsonScanOptions = {}): JsonScanProblem | null {
  const maxDepth = opts.maxDepth ?? Infinity;
  const checkValues = opts.checkValues ?? true;
  const budget = opts.budget;
  const frames: Frame[] = [];
  const n = text.length;
  let nodes = 0;
  let budgetedMemberNext = false; // the root object's current member is a budgeted one
  let state = VALUE;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0;

  // String reading sets these: where it ended (index of the closing quote) and whether it had a lone surrogate.
  let stringEnd = -1;
  let stringLone = false;
  /** Reads the string opening at `start`; false on a syntax error. */
  const readString = (start: number): boolean => {
    let j = start + 1;
    let prevHigh = false; // the previous decoded code unit was a high surrogate
    stringLone = false;
    for (;;) {
      PLAIN.lastIndex = j;
      PLAIN.test(text);
      if (PLAIN.lastIndex > j) {
        if (prevHigh) stringLone = true;
        prevHigh = false;
        j = PLAIN.lastIndex;
      }
      if (j >= n) return false;
      const c = text.charCodeAt(j);
      let unit = -1; // a code unit to check for pairing, or -1 for a plain one
      if (c === 0x22) {
        if (prevHigh) stringLone = true;
        stringEnd = j;
        return true;
      } else if (c === 0x5c) {
        const e = text.charCodeAt(j + 1);
        if (e === 0x75 /* u */) {
          for (let k = j + 2; k < j + 6; k++) if (!isHex(text.charCodeAt(k))) return false;
          unit = Number.parseInt(text.slice(j + 2, j + 6), 16);
          j += 6;
        } else if (e === 0x22 || e === 0x5c || e === 0x2f || e === 0x62 || e === 0x66 || e === 0x6e || e === 0x72 || e === 0x74) {
          j += 2;
        } else return false;
      } else if (c < 0x20) {
        return false;
      } else {
        unit = c; // a raw surrogate (PLAIN stops at nothing else)
        j++;
      }
      if (unit >= 0xd800 && unit <= 0xdbff) {
        if (prevHigh) stringLone = true;
        prevHigh = true;
      } else if (unit >= 0xdc00 && unit <= 0xdfff) {
        if (!prevHigh) stringLone = true;
        prevHigh = false;
      } else {
        if (prevHigh) stringLone = true;
        prevHigh = false;
      }
    }
  };

  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) {
      i++;
      continue;
    }
    const top = frames[frames.length - 1];

    if (state === VALUE || state === VALUE_OR_CLOSE) {
      if (c === 0x5d /* ] */ && state === VALUE_OR_CLOSE) {
        frames.pop();
        state = AFTER_VALUE;
        i++;
        continue;
      }
      // A value starts here: count it (array item, then budgeted value) before reading it.
      let budgeted = false;
      if (top) {
        if (top.names === null) {
          top.segment = top.items++;
          if (top.budgeted && budget && top.items > budget.maxArrayLength) {
            return { kind: "array_too_long", pointer: pointerOf(frames.slice(0, -1)), items: countRestOfArray(text, i, top.items - 1), maxArrayLength: budget.maxArrayLength };
          }
        }
        budgeted = top.budgeted || (frames.length === 1 && budgetedMemberNext);
        if (budgeted && budget && ++nodes > budget.maxNodes) return { kind: "too_many_values", maxNodes: budget.maxNodes };
      }
      if (c === 0x7b /* { */ || c === 0x5b /* [ */) {
        if (frames.length + 1 > maxDepth) return { kind: "too_deep", at: i };
        const isObject = c === 0x7b;
        frames.push({ names: isObject ? new Set() : null, segment: isObject ? "" : 0, items: 0, budgeted });
        state = isObject ? NAME_OR_CLOSE : VALUE_OR_CLOSE;
        i++;
        continue;
      }
      if (c === 0x22) {
        if (!readString(i)) return { kind: "syntax", at: i };
        if (checkValues && stringLone) return { kind: "lone_surrogate", at: i };
        i = stringEnd + 1;
      } else if (c === 0x2d /* - */ || isDigit(c)) {
        const start = i;
        if (c === 0x2d) i++;
        if (text.charCodeAt(i) === 0x30) i++;
        else if (isDigit(text.charCodeAt(i))) while (isDigit(text.charCodeAt(i))) i++;
        else return { kind: "syntax", at: i };
        let plainInteger = true;
        if (text.charCodeAt(i) === 0x2e /* . */) {
          i++;
          if (!isDigit(text.charCodeAt(i))) return { kind: "syntax", at: i };
          while (isDigit(text.charCodeAt(i))) i++;
        }
        const e = text.charCodeAt(i);
        if (e === 0x65 || e === 0x45) {
          plainInteger = false;
          i++;
          const sign = text.charCodeAt(i);
          if (sign === 0x2b || sign === 0x2d) i++;
          if (!isDigit(text.charCodeAt(i))) return { kind: "syntax", at: i };
          while (isDigit(text.charCodeAt(i))) i++;
        }
        // Only an exponent or more than 300 digits can reach past Number.MAX_VALUE (~1.8e308).
        if (checkValues && (!plainInteger || i - start > 300) && !Number.isFinite(Number(text.slice(start, i)))) return { kind: "non_finite_number", at: start };
      } else if (c === 0x74 && text.startsWith("true", i)) i += 4;
      else if (c === 0x66 && text.startsWith("false", i)) i += 5;
      else if (c === 0x6e && text.startsWith("null", i)) i += 4;
      else return { kind: "syntax", at: i };
      state = AFTER_VALUE;
      continue;
    }

    if (state === NAME_OR_CLOSE || state === NAME) {
      if (c === 0x7d /* } */ && state === NAME_OR_CLOSE) {
        frames.pop();
        state = AFTER_VALUE;
        i++;
        continue;
      }
      if (c !== 0x22 || !readString(i)) return { kind: "syntax", at: i };
      if (checkValues && stringLone) return { kind: "lone_surrogate", at: i };
      const raw = text.slice(i + 1, stringEnd);
      // Escapes are rare in names; JSON.parse of the (now known well-formed) quoted slice decodes them exactly.
      const name = raw.includes("\\") ? (JSON.parse(text.slice(i, stringEnd + 1)) as string) : raw;
      const names = top!.names!;
      if (names.has(name)) return { kind: "duplicate_key", pointer: `${pointerOf(frames.slice(0, -1))}/${escapePointerToken(name)}` };
      names.add(name);
      top!.segment = name;
      if (frames.length === 1) budgetedMemberNext = budget !== undefined && budget.members.includes(name);
      i = stringEnd + 1;
      state = COLON;
      continue;
    }

    if (state === COLON) {
      if (c !== 0x3a) return { kind: "syntax", at: i };
      state = VALUE;
      i++;
      continue;
    }

    // AFTER_VALUE
    if (!top) return { kind: "syntax", at: i }; // text after the root value
    if (c === 0x2c /* , */) state = top.names ? NAME : VALUE;
    else if (c === 0x7d && top.names) {
      frames.pop();
    } else if (c === 0x5d && !top.names) {
      frames.pop();
    } else return { kind: "syntax", at: i };
    i++;
  }
  return state === AFTER_VALUE && frames.length === 0 ? null : { kind: "syntax", at: n };
}

/** RFC 6901 pointer of the container the last of `path` leads to ("" is the root). */
function pointerOf(path: Frame[]): string {
  return path.map((f) => `/${escapePointerToken(String(f.segment))}`).join("");
}

/**
 * Items of the array whose item number `seen + 1` starts at `from`, counting on to its closing
 * bracket: only for the message ("has 45000 items"), so it skips rather than checks (strings by
 * indexOf, brackets by depth). Null when the text ends first. Linear, like stringEnd (src/protocols/json-string-end.ts).
 */
function countRestOfArray(text: string, from: number, seen: number): number | null {
  let items = seen + 1;
  let depth = 0;
  const n = text.length;
  for (let i = from; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x22) {
      let q = text.indexOf('"', i + 1);
      for (;;) {
        if (q < 0) return null;
        let backslashes = 0;
        for (let k = q - 1; text.charCodeAt(k) === 0x5c; k--) backslashes++;
        if (backslashes % 2 === 0) break;
        q = text.indexOf('"', q + 1);
      }
      i = q;
    } else if (c === 0x5b || c === 0x7b) depth++;
    else if (c === 0x5d || c === 0x7d) {
      if (depth === 0) return items;
      depth--;
    } else if (c === 0x2c && depth === 0) items++;
  }
  return null;
}
