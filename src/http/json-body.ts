import type { FastifyInstance } from "fastify";
import { AppError } from "../errors.js";

export const MAX_JSON_DEPTH = 64;

/** Iterative depth check: recursion over hostile input is exactly what must not overflow the stack. */
export function jsonDepthExceeds(value: unknown, max: number): boolean {
  const stack: [unknown, number][] = [[value, 1]];
  while (stack.length > 0) {
    const [v, depth] = stack.pop()!;
    if (v === null || typeof v !== "object") continue;
    if (depth > max) return true;
    for (const child of Array.isArray(v) ? v : Object.values(v)) if (child !== null && typeof child === "object") stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * Fastify's JSON parser (prototype-poisoning safe) plus a nesting limit, so that nothing later
 * (canonical JSON, CEL conversion, key rewriting) can be driven into deep recursion by a body.
 */
export function registerJsonParser(app: FastifyInstance): void {
  const base = app.getDefaultJsonParser("error", "error");
  app.removeContentTypeParser("application/json");
  app.addContentTypeParser("application/json", { parseAs: "string" }, (request, body, done) => {
    base(request, body as string, (err, parsed) => {
      if (err) return done(err, undefined);
      if (jsonDepthExceeds(parsed, MAX_JSON_DEPTH)) return done(new AppError("json_too_deep", `JSON nesting deeper than ${MAX_JSON_DEPTH} levels`), undefined);
      done(null, parsed);
    });
  });
}
