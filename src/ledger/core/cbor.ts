/**
 * Deterministic CBOR for the Ledgix ledger profile (wire protocol §4.1), which the SDK rebuilds
 * and compares byte for byte. Encode-only: the vault never has to read CBOR back.
 *
 * Hand-written on purpose, not a library (cbor, cbor-x, cborg): the profile is NOT RFC 8949
 * "preferred serialisation". Floats are always 64-bit (§4.1), map keys sort by UTF-16 length and
 * then UTF-16 code unit (the SDK's comparator, which differs from RFC 8949 §4.2.1 bytewise order
 * for non-ASCII keys), and whether a number is an integer or a float64 depends on *where* it is
 * (rule (a)/(b)), not on its value. A generic encoder would need a custom map sorter, forced
 * float64 and a positional number hook; these ~150 lines are easier to audit than that setup.
 *
 * Input is treated as hostile (ARCHITECTURE rule 7): nesting is bounded (cycles hit the bound too),
 * anything outside the profile is refused with a typed error rather than coerced into bytes the
 * SDK would encode differently.
 */
import { concatBytes, utf8 } from "./bytes.js";
import { LedgerError } from "./ledger-error.js";

/**
 * Marks a JSON-derived subtree (`tool_args`, `citations`, `evidence_chunks`): every number inside
 * is encoded as float64, integers included (§4.1 rule (a)). Outside such a subtree rule (b) holds.
 */
export class JsonSubtree {
  constructor(readonly value: unknown) {}
}

/**
 * Containers (maps and arrays) deeper than this are refused. The HTTP layer accepts JSON bodies
 * at most 64 levels deep (src/http/json-body.ts), so every tool_args it admitted, wrapped in the
 * event map, stays far below this; the bound exists to stop hostile or cyclic input recursing.
 */
export const MAX_CBOR_DEPTH = 128;

const MAJOR_UNSIGNED = 0;
const MAJOR_NEGATIVE = 1;
const MAJOR_BYTES = 2;
const MAJOR_TEXT = 3;
const MAJOR_ARRAY = 4;
const MAJOR_MAP = 5;

// In Unicode mode a paired surrogate is one code point, so this matches lone surrogates only.
const LONE_SURROGATE = /[\uD800-\uDFFF]/u;

/** Encodes `value` under the §4.1 profile. Top-level numbers follow rule (b). */
export function encodeCbor(value: unknown, maxDepth: number = MAX_CBOR_DEPTH): Uint8Array {
  const out: Uint8Array[] = [];
  encodeValue(out, value, false, 0, maxDepth);
  return concatBytes(out);
}

/**
 * §4.1 map key order: shorter key first (length in UTF-16 code units), then by code unit. This is
 * exactly the SDK's comparator; for ASCII keys it equals RFC 8949 §4.2.1 bytewise order.
 */
export function compareMapKeys(a: string, b: string): number {
  if (a.length !== b.length) return a.length - b.length;
  return a < b ? -1 : a > b ? 1 : 0;
}

function encodeValue(out: Uint8Array[], value: unknown, jsonMode: boolean, depth: number, maxDepth: number): void {
  switch (typeof value) {
    case "boolean":
      out.push(Uint8Array.of(value ? 0xf5 : 0xf4));
      return;
    case "number":
      encodeNumber(out, value, jsonMode);
      return;
    case "string":
      encodeText(out, value);
      return;
    case "object":
      break;
    default:
      // undefined, bigint, symbol, function: none has a JSON form the SDK could parse back.
      throw new LedgerError("unsupported_type", `cannot encode a value of type ${typeof value}`);
  }
  if (value === null) {
    out.push(Uint8Array.of(0xf6));
    return;
  }
  if (value instanceof JsonSubtree) {
    encodeValue(out, value.value, true, depth, maxDepth);
    return;
  }
  if (value instanceof Uint8Array) {
    // Byte strings are outside JSON: inside a JSON subtree they would mean the vault hashed
    // something the SDK can never see, so they are refused there.
    if (jsonMode) throw new LedgerError("unsupported_type", "byte string inside a JSON-derived subtree");
    out.push(head(MAJOR_BYTES, value.length), value);
    return;
  }
  if (depth + 1 > maxDepth) throw new LedgerError("too_deep", `nesting deeper than ${maxDepth} levels`);
  if (Array.isArray(value)) {
    out.push(head(MAJOR_ARRAY, value.length));
    // Index loop, not for-of: holes in sparse arrays surface as undefined and are refused.
    for (let i = 0; i < value.length; i++) encodeValue(out, value[i], jsonMode, depth + 1, maxDepth);
    return;
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    // Date, Map, Set, class instances: JSON.stringify would flatten them into something else.
    throw new LedgerError("unsupported_type", `cannot encode an instance of ${describe(value)}`);
  }
  if (Object.getOwnPropertySymbols(value).length > 0) {
    throw new LedgerError("unsupported_type", "object with symbol keys");
  }
  const record = value as Record<string, unknown>;
  const keys = Object.keys(record).sort(compareMapKeys);
  out.push(head(MAJOR_MAP, keys.length));
  for (const key of keys) {
    encodeText(out, key);
    encodeValue(out, record[key], jsonMode, depth + 1, maxDepth);
  }
}

function encodeNumber(out: Uint8Array[], n: number, jsonMode: boolean): void {
  if (!Number.isFinite(n)) throw new LedgerError("non_finite_number", `${n} has no JSON or profile encoding`);
  if (!jsonMode && Number.isSafeInteger(n)) {
    // Rule (b): safe integers are CBOR integers (-0 included: it is a safe integer and encodes 00).
    out.push(n >= 0 ? head(MAJOR_UNSIGNED, n) : head(MAJOR_NEGATIVE, -n - 1));
    return;
  }
  // Rule (a), or a non-integer under rule (b). Inside JSON subtrees -0 becomes +0: the server
  // serialises with JSON.stringify, which writes -0 as "0", and the SDK hashes what it parses
  // back (§4.1, last bullet).
  const f = new Uint8Array(9);
  f[0] = 0xfb;
  new DataView(f.buffer).setFloat64(1, jsonMode && n === 0 ? 0 : n, false);
  out.push(f);
}

function encodeText(out: Uint8Array[], text: string): void {
  // A lone surrogate has no UTF-8 form; TextEncoder (the SDK) and Buffer would both turn it into
  // U+FFFD, so two different stored strings would share one hash. Refused instead.
  if (LONE_SURROGATE.test(text)) throw new LedgerError("lone_surrogate", "string contains a lone UTF-16 surrogate");
  const bytes = utf8(text);
  out.push(head(MAJOR_TEXT, bytes.length), bytes);
}

/** §4.1 argument header, shortest form, big-endian. `n` is a non-negative safe integer. */
function head(major: number, n: number): Uint8Array {
  const m = major << 5;
  if (n < 24) return Uint8Array.of(m | n);
  if (n <= 0xff) return Uint8Array.of(m | 24, n);
  const b = new Uint8Array(n <= 0xffff ? 3 : n <= 0xffffffff ? 5 : 9);
  const view = new DataView(b.buffer);
  if (n <= 0xffff) {
    b[0] = m | 25;
    view.setUint16(1, n, false);
  } else if (n <= 0xffffffff) {
    b[0] = m | 26;
    view.setUint32(1, n, false);
  } else {
    b[0] = m | 27;
    view.setBigUint64(1, BigInt(n), false);
  }
  return b;
}

function describe(value: object): string {
  const ctor = (value as { constructor?: { name?: unknown } }).constructor;
  return typeof ctor?.name === "string" && ctor.name !== "" ? ctor.name : "a non-plain object";
}
