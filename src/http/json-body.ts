import type { FastifyInstance } from "fastify";
import { AppError } from "../errors.js";
import { findDuplicateKey } from "../tokens/duplicate-keys.js";
import { scanJson, type JsonBudgetProblem, type JsonMemberBudget, type JsonScanProblem } from "../tokens/json-scan.js";

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

declare module "fastify" {
  interface FastifyContextConfig {
    /**
     * A size budget on some top-level members of this route's JSON body, enforced while the text is
     * scanned, before it is parsed; `error` turns a crossed limit into the route's own refusal.
     */
    jsonMemberBudget?: JsonMemberBudget & { error: (problem: JsonBudgetProblem) => AppError };
  }
}

/**
 * Fastify's JSON parser (prototype-poisoning safe), preceded by one scan of the raw text (json-scan.ts)
 * that finds the first problem in reading order: nesting deeper than MAX_JSON_DEPTH (so that
 * nothing later, such as canonical JSON, CEL conversion or key rewriting, can be driven into deep
 * recursion), repeated member names (so that what is hashed and signed is what every parser reads),
 * numbers beyond the double range and unpaired surrogates (no canonical or UTF-8 form), and the
 * route's member budget if it has one. Scanning first is what makes an oversized body cheap: it is
 * refused after the text up to the crossed limit, never parsed.
 *
 * Order of answers (deterministic):
 *  1. the route's budget crossed, the text well-formed up to there: 413, without reading further;
 *  2. a syntax error anywhere: 400 invalid_json, JSON.parse's verdict and message (as before the scan);
 *  3. the scan's first problem in reading order: json_too_deep, duplicate_json_key, or invalid_json
 *     for a number beyond the double range or an unpaired surrogate.
 * Should JSON.parse accept a text the scan called malformed, the checks run on the parsed value
 * instead (jsonProblem, findDuplicateKey; a route's budget is also checked by its handler): a
 * scanner mistake can cost time, never a check.
 */
export function registerJsonParser(app: FastifyInstance): void {
  const base = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  // Every endpoint takes JSON; other bodies get 415 rather than a confusing validation error.
  app.removeContentTypeParser("text/plain");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    const text = body as string;
    // The SDK sends Content-Type: application/json on bodiless requests (GET, DELETE); an unknown
    // route stays a 404 rather than a JSON error.
    if (text === "" && (request.is404 || request.method === "GET" || request.method === "DELETE")) return done(null, undefined);
    const budget = request.is404 ? undefined : request.routeOptions.config.jsonMemberBudget;
    const problem = scanJson(text, { maxDepth: MAX_JSON_DEPTH, budget });
    // Over the budget: refused without reading on (the text up to here was well-formed).
    if (problem?.kind === "too_many_values" || problem?.kind === "array_too_long") return done(budget!.error(problem), undefined);
    base(request, text, (err, parsed) => {
      // A syntax error anywhere is JSON.parse's verdict, and comes before the scan's other problems.
      if (err) return done(err, undefined);
      if (problem === null) return done(null, parsed);
      if (problem.kind !== "syntax") return done(scanError(problem), undefined);
      // The scan saw a syntax error JSON.parse did not: check the parsed value the slower way.
      const found = jsonProblem(parsed, MAX_JSON_DEPTH);
      if (found) return done(scanError({ kind: found, at: 0 }), undefined);
      const pointer = findDuplicateKey(text);
      if (pointer !== null) return done(duplicateKeyError(pointer), undefined);
      done(null, parsed);
    });
  });
}

function scanError(problem: Exclude<JsonScanProblem, { kind: "syntax" } | JsonBudgetProblem>): AppError {
  switch (problem.kind) {
    case "too_deep":
      return new AppError("json_too_deep", `JSON nesting deeper than ${MAX_JSON_DEPTH} levels`);
    case "lone_surrogate":
      return new AppError("invalid_json", "JSON text contains an unpaired UTF-16 surrogate escape, which has no UTF-8 form");
    case "non_finite_number":
      return new AppError("invalid_json", "JSON number out of the IEEE-754 double range");
    case "duplicate_key":
      // RFC 8785 / I-JSON (RFC 7493 §2.3): with a repeated name the canonical form the token and the
      // ledger bind to is undefined (this parser keeps the last value, others keep the first).
      return duplicateKeyError(problem.pointer);
  }
}
