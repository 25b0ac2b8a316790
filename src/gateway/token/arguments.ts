import type { ArgType, GatewayRoute } from "../../config/gateway-config.js";
import { findDuplicateKey } from "../../tokens/duplicate-keys.js";
import { findInexactNumber, isExactNumber } from "./json-numbers.js";
import { GatewayError } from "./problems.js";

/**
 * The tool arguments of one request, built as the routes file says: the JSON body's members (or the
 * whole body under one name), query parameters and path parameters, merged into one object. The
 * token's tool_args_hash is the RFC 8785 hash of exactly this object, so every rule here is part of
 * the binding: a name given by two sources is refused (a query parameter must never be able to stand
 * in for a body member the vault approved), and absent selected parameters are simply absent.
 */
export interface RequestParts {
  body: Buffer | undefined;
  contentType: string | undefined;
  query: Record<string, string | string[]>;
  params: Record<string, string>;
}

const MAX_JSON_DEPTH = 64;

export function extractArguments(spec: GatewayRoute["args"], parts: RequestParts): Record<string, unknown> {
  const args: Record<string, unknown> = {};
  const put = (name: string, value: unknown, source: string) => {
    if (Object.hasOwn(args, name)) throw new GatewayError("arguments_invalid", `argument ${JSON.stringify(name)} is given twice (again by the ${source})`);
    // Defined, not assigned: a member called "__proto__" must stay a member (and so in the hash),
    // not become the object's prototype and drop out of the arguments the binding covers.
    Object.defineProperty(args, name, { value, enumerable: true, writable: true, configurable: true });
  };
  if (spec.body !== false && spec.body !== "unbound") {
    const body = jsonBody(parts);
    if (spec.body === true) {
      if (body === null || typeof body !== "object" || Array.isArray(body)) throw new GatewayError("arguments_invalid", "the JSON body must be an object: its members are the tool's arguments");
      for (const [k, v] of Object.entries(body)) put(k, v, "body");
    } else {
      put(spec.body.into, body, "body");
    }
  }
  if (spec.params) select(spec.params, parts.params, "path", put);
  unboundQuery(spec.query, parts.query);
  if (spec.query) select(spec.query, parts.query, "query", put);
  return args;
}

/**
 * The query string goes upstream, so every parameter in it must be one the binding covers: an extra
 * `?amount=500` or `?_method=DELETE` next to an approved body is something the upstream may act on
 * and the vault never saw. Bracketed names (`a[]=`, `a[b]=`) are refused too unless the route names
 * them: query parsers disagree on what they mean (`a=5&a[]=500` is 5 to one, [500] to another).
 */
function unboundQuery(selection: GatewayRoute["args"]["query"], query: Record<string, string | string[]>) {
  for (const name of Object.keys(query)) {
    const named = selection !== undefined && selection !== "all" && (Array.isArray(selection) ? selection.includes(name) : Object.hasOwn(selection, name));
    if (named) continue;
    if (selection === "all" && !/[[\]]/.test(name)) continue;
    throw new GatewayError("arguments_invalid", `query parameter ${JSON.stringify(name)} is not one of this route's arguments; the upstream would see it unapproved`);
  }
}

function jsonBody(parts: RequestParts): unknown {
  if (!parts.body || parts.body.length === 0) throw new GatewayError("arguments_invalid", "this route takes its arguments from a JSON body, and the request has none");
  const [mediaType, ...params] = (parts.contentType ?? "").split(";");
  const type = mediaType!.trim().toLowerCase();
  if (type !== "application/json" && !type.endsWith("+json")) throw new GatewayError("unsupported_media_type", "this route takes a JSON body (Content-Type: application/json)");
  // The bytes are read as UTF-8 (RFC 8259); an upstream told another charset would read other text.
  const charset = params.map((p) => /^\s*charset\s*=\s*"?([^";\s]*)"?\s*$/i.exec(p)?.[1]?.toLowerCase()).find((c) => c !== undefined);
  if (charset !== undefined && charset !== "utf-8" && charset !== "utf8") throw new GatewayError("unsupported_media_type", "a JSON body must be UTF-8 (charset=utf-8 or no charset)");
  let value: unknown;
  let text: string;
  try {
    // Fatal: invalid bytes would all become U+FFFD for the hash while the upstream sees the bytes. A
    // byte order mark is kept, so JSON.parse refuses it as other parsers may not.
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(parts.body);
    value = JSON.parse(text);
  } catch {
    throw new GatewayError("invalid_json", "the body is not valid UTF-8 JSON");
  }
  // JSON.parse keeps the last of two equal names, other parsers the first: the upstream could act on
  // a value the binding never covered. Such a body has no single meaning, so it is refused.
  const repeated = findDuplicateKey(text);
  if (repeated !== null) throw new GatewayError("duplicate_json_key", `the body repeats the member name at ${repeated}`);
  if (depth(value) > MAX_JSON_DEPTH) throw new GatewayError("json_too_deep", `the body nests deeper than ${MAX_JSON_DEPTH} levels`);
  const inexact = findInexactNumber(text);
  if (inexact !== null) throw new GatewayError("arguments_invalid", `the number ${inexact.slice(0, 40)} cannot be held exactly (it would be hashed as another number); send it as a string`);
  if (!wellFormed(value)) throw new GatewayError("arguments_invalid", "the body has a string with a lone UTF-16 surrogate (I-JSON forbids it; parsers read it differently)");
  return value;
}

function depth(value: unknown, level = 0): number {
  if (value === null || typeof value !== "object" || level > MAX_JSON_DEPTH) return level;
  let max = level + 1;
  for (const v of Object.values(value)) max = Math.max(max, depth(v, level + 1));
  return max;
}

/** Every string, member names included, is well-formed Unicode (runs after the depth check). */
function wellFormed(value: unknown): boolean {
  if (typeof value === "string") return (value as string & { isWellFormed(): boolean }).isWellFormed();
  if (value === null || typeof value !== "object") return true;
  for (const [k, v] of Object.entries(value)) if (!(k as string & { isWellFormed(): boolean }).isWellFormed() || !wellFormed(v)) return false;
  return true;
}

function select(
  selection: "all" | string[] | Record<string, ArgType>,
  values: Record<string, string | string[]>,
  source: "path" | "query",
  put: (name: string, value: unknown, source: string) => void,
) {
  const typed: Record<string, ArgType | undefined> =
    selection === "all" ? Object.fromEntries(Object.keys(values).map((k) => [k, undefined])) : Array.isArray(selection) ? Object.fromEntries(selection.map((k) => [k, undefined])) : selection;
  for (const [name, type] of Object.entries(typed)) {
    if (!Object.hasOwn(values, name)) continue;
    const raw = values[name]!;
    put(name, Array.isArray(raw) ? raw.map((r) => convert(r, type, name, source)) : convert(raw, type, name, source), `${source} parameters`);
  }
}

function convert(raw: string, type: ArgType | undefined, name: string, source: string): string | number | boolean {
  if (type === undefined || type === "string") return raw;
  const fail = () => new GatewayError("arguments_invalid", `${source} parameter ${name} must be ${type === "integer" ? "an integer" : `a ${type}`}`);
  if (type === "boolean") {
    if (raw === "true") return true;
    if (raw === "false") return false;
    throw fail();
  }
  // Decimal notation only: "0x10", "1e3", " 5" and "" are refused rather than given a meaning.
  if (!/^-?(0|[1-9]\d*)(\.\d+)?$/.test(raw)) throw fail();
  // The upstream reads the text; the hash covers the double: they must be the same number.
  const n = Number(raw);
  if (!isExactNumber(raw) || (type === "integer" && !Number.isSafeInteger(n))) throw fail();
  return n;
}
