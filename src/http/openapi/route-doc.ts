import type { ZodType } from "zod";
import type { Scope } from "../../tenancy/api-keys.js";

/**
 * The OpenAPI description of one route, carried in the route's Fastify `config.openapi`. Handlers
 * keep parsing with the same zod schemas they name here, so the document cannot describe a body the
 * handler does not accept. src/http/openapi/ turns these into the OpenAPI 3.1 document.
 */
export interface RouteDoc {
  summary: string;
  description?: string;
  tags: readonly string[];
  /** Who may call it: "none" for public routes, else the API key scopes (the console session counts as reviewer). */
  auth: "none" | readonly Scope[];
  params?: ZodType;
  query?: ZodType;
  body?: ZodType;
  /** An example body; the OpenAPI test validates it against `body`. */
  bodyExample?: unknown;
  /** Media types the body may have; default application/json. */
  bodyMediaTypes?: readonly string[];
  /** Success answers by status; error answers (problem+json) are added from `errors`. */
  responses: Record<number, ResponseDoc>;
  /** Honours an Idempotency-Key header (adds the header parameter and 422 idempotency_key_reused). */
  idempotencyKey?: boolean;
  /** Error codes (src/errors.ts) this route can answer with, beyond the common ones. */
  errors?: readonly string[];
  /** Left out of the document (static assets): the coverage test accepts only these as undocumented. */
  hidden?: boolean;
}

export interface ResponseDoc {
  description: string;
  schema?: ZodType;
  /** An example answer; the OpenAPI test validates it against `schema`. */
  example?: unknown;
  /** Default application/json. */
  mediaType?: string;
}

declare module "fastify" {
  interface FastifyContextConfig {
    openapi?: RouteDoc;
  }
}

/** `config: documented({...})` on a route; spread it when the route has other config too. */
export function documented(doc: RouteDoc): { openapi: RouteDoc } {
  return { openapi: doc };
}
