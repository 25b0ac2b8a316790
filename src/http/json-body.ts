import type { FastifyInstance } from "fastify";
import { AppError } from "../errors.js";
import { findDuplicateKey } from "../tokens/duplicate-keys.js";

export const MAX_JSON_DEPTH = 64;

// A lone UTF-16 surrogate ("\ud800" in JSON) has no UTF-8 form: the database would store U+FFFD
// and the ledger's CBOR could not encode it, so the hash would not commit to what was asked.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Iterative walk (recursion over hostile input is exactly what must not overflow the stack) that
 * finds nesting deeper than `max`, numbers JSON.parse turned into Infinity (e.g. 1e400), which
 * have no canonical JSON form and so could not be hashed, and strings or keys with lone surrogates.
 */
export function jsonProblem(value: unknown, max: number): "too_deep" | "non_finite_number" | "lone_surrogate" | null {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v === "number" && !Number.isFinite(v)) return "non_finite_number";
    if (typeof v === "string" && LONE_SURROGATE.test(v)) return "lone_surrogate";
    if (v === null || typeof v !== "object") continue;
    if (depth > max) return "too_deep";
    if (!Array.isArray(v) && Object.keys(v).some((k) => LONE_SURROGATE.test(k))) return "lone_surrogate";
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === "number" || typeof child === "string" || (child !== null && typeof child === "object")) stack.push([child, depth + 1]);
    }
  }
  return null;
}

export function duplicateKeyError(pointer: string): AppError {
  // The detail quotes at most 200 characters of a pointer a client chose; `pointer` carries all of it.
  const shown = pointer.length > 200 ? `${pointer.slice(0, 200)}…` : pointer;
  return new AppError("duplicate_json_key", `JSON member name repeated at ${shown}; every name in an object must be unique (RFC 7493 §2.3)`, { pointer });
}

/**
 * Fastify's JSON parser (prototype-poisoning safe) plus a nesting limit, so that nothing later
 * (canonical JSON, CEL conversion, key rewriting) can be driven into deep recursion by a body, and a
 * refusal of repeated member names, so that what is hashed and signed is what every parser reads.
 */
export function registerJsonParser(app: FastifyInstance): void {
  const base = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  // Every endpoint takes JSON; other bodies get 415 rather than a confusing validation error.
  app.removeContentTypeParser("text/plain");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    // The SDK sends Content-Type: application/json on bodiless requests (GET, DELETE); an unknown
    // route stays a 404 rather than a JSON error.
    if (body === "" && (request.is404 || request.method === "GET" || request.method === "DELETE")) return done(null, undefined);
    base(request, body as string, (err, parsed) => {
      if (err) return done(err, undefined);
      const problem = jsonProblem(parsed, MAX_JSON_DEPTH);
      if (problem === "too_deep") return done(new AppError("json_too_deep", `JSON nesting deeper than ${MAX_JSON_DEPTH} levels`), undefined);
      if (problem === "lone_surrogate") {
        return done(new AppError("invalid_json", "JSON text contains an unpaired UTF-16 surrogate escape, which has no UTF-8 form"), undefined);
      }
      if (problem) return done(new AppError("invalid_json", "JSON number out of the IEEE-754 double range"), undefined);
      // RFC 8785 / I-JSON (RFC 7493 §2.3): with a repeated name the canonical form the token and the
      // ledger bind to is undefined (this parser keeps the last value, others keep the first).
      const pointer = findDuplicateKey(body as string);
      if (pointer !== null) return done(duplicateKeyError(pointer), undefined);
      done(null, parsed);
    });
  });
}
