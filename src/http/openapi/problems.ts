import { errorCatalog, type ErrorCode } from "../../errors.js";
import { allScopes } from "../../tenancy/api-keys.js";
import type { JsonSchema } from "./json-schema.js";

/** src/http/problem.ts's RFC 9457 body; `code` is the closed list of src/errors.ts. */
export const problemDetailsSchema: JsonSchema = {
  type: "object",
  description: "RFC 9457 problem details with a stable machine `code`; `detail` is for people.",
  required: ["type", "title", "status", "detail", "code"],
  properties: {
    type: { type: "string", description: "`urn:countersign:error:<code>`" },
    title: { type: "string" },
    status: { type: "integer", minimum: 400, maximum: 599 },
    detail: { type: "string" },
    code: { type: "string", enum: Object.keys(errorCatalog).sort() },
    instance: { type: "string", description: "The request path (absent when Node's HTTP parser refused the request)." },
    errors: {
      type: "array",
      description: "validation_failed: one entry per problem, unknown fields first.",
      items: { type: "object", required: ["path", "message"], properties: { path: { type: "string" }, message: { type: "string" } } },
    },
    pointer: { type: "string", description: "duplicate_json_key: RFC 6901 JSON pointer of the repeated member." },
    error: {
      type: "string",
      description:
        "StepAuth routes (/stepauth/{tenant}/v1/...): the same as `code`, where the StepAuth SDKs read it. Sigilum codes (uppercase) and every problem of the /v1/ agent-identity routes: the same as `detail`, as Sigilum's bodies carry it.",
    },
    message: { type: "string", description: "StepAuth routes only: the same as `detail`, where the StepAuth SDKs read it." },
  },
};

/** Errors of every route with a JSON body: the body parser's, before authentication. */
const BODY_ERRORS: ErrorCode[] = ["invalid_json", "json_too_deep", "duplicate_json_key", "validation_failed", "payload_too_large", "unsupported_media_type"];
/** Errors of every route behind authenticate() (src/http/auth.ts). */
const AUTH_ERRORS: ErrorCode[] = ["unauthorized", "rate_limited", "tenant_secrets_unavailable"];

/** The error codes one operation can answer with: its own, plus those its body, inputs and auth imply. */
export function errorCodesOf(doc: { auth: "none" | readonly string[]; body?: unknown; params?: unknown; query?: unknown; errors?: readonly string[]; idempotencyKey?: boolean }): ErrorCode[] {
  const codes = new Set<ErrorCode>();
  if (doc.body) BODY_ERRORS.forEach((c) => codes.add(c));
  if (doc.params || doc.query) codes.add("validation_failed");
  if (doc.auth !== "none") AUTH_ERRORS.forEach((c) => codes.add(c));
  // A key of any scope passes a route open to every scope (service keys are refused on every route not open to them).
  if (doc.auth !== "none" && allScopes.some((scope) => !doc.auth.includes(scope))) codes.add("insufficient_scope");
  if (doc.idempotencyKey) ["bad_request", "idempotency_key_reused"].forEach((c) => codes.add(c as ErrorCode));
  for (const code of doc.errors ?? []) {
    if (!(code in errorCatalog)) throw new Error(`OpenAPI: unknown error code "${code}" (not in src/errors.ts)`);
    codes.add(code as ErrorCode);
  }
  return [...codes].sort((a, b) => errorCatalog[a].status - errorCatalog[b].status || a.localeCompare(b));
}

/** The problem+json responses, one per status, each with an example per code. */
export function problemResponses(codes: ErrorCode[], path: string): Record<string, unknown> {
  const byStatus = new Map<number, ErrorCode[]>();
  for (const code of codes) byStatus.set(errorCatalog[code].status, [...(byStatus.get(errorCatalog[code].status) ?? []), code]);
  const responses: Record<string, unknown> = {};
  for (const [status, group] of byStatus) {
    responses[String(status)] = {
      description: group.map((c) => `\`${c}\`: ${errorCatalog[c].title}`).join("; "),
      content: {
        "application/problem+json": {
          schema: { allOf: [{ $ref: "#/components/schemas/ProblemDetails" }, { properties: { code: { enum: group } } }] },
          examples: Object.fromEntries(group.map((code) => [code, { summary: errorCatalog[code].title, value: problemExample(code, path) }])),
        },
      },
    };
  }
  return responses;
}

function problemExample(code: ErrorCode, path: string) {
  const { status, title } = errorCatalog[code];
  return { type: `urn:countersign:error:${code}`, title, status, detail: title, code, instance: path };
}
