import type { FastifyInstance } from "fastify";
import { AppError } from "../errors.js";

export const MAX_JSON_DEPTH = 64;

/**
 * Iterative walk (recursion over hostile input is exactly what must not overflow the stack) that
 * finds nesting deeper than `max`, and numbers JSON.parse turned into Infinity (e.g. 1e400), which
 * have no canonical JSON form and so could not be hashed.
 */
export function jsonProblem(value: unknown, max: number): "too_deep" | "non_finite_number" | null {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (typeof v === "number" && !Number.isFinite(v)) return "non_finite_number";
    if (v === null || typeof v !== "object") continue;
    if (depth > max) return "too_deep";
    for (const child of Array.isArray(v) ? v : Object.values(v)) {
      if (typeof child === "number" || (child !== null && typeof child === "object")) stack.push([child, depth + 1]);
    }
  }
  return null;
}

/**
 * Fastify's JSON parser (prototype-poisoning safe) plus a nesting limit, so that nothing later
 * (canonical JSON, CEL conversion, key rewriting) can be driven into deep recursion by a body.
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
      if (problem) return done(new AppError("invalid_json", "JSON number out of the IEEE-754 double range"), undefined);
      done(null, parsed);
    });
  });
}
