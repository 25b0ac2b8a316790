import type { ZodType } from "zod";
import { jsonSchemaOf, type JsonSchema } from "./json-schema.js";
import { errorCodesOf, problemResponses } from "./problems.js";
import type { RouteDoc } from "./route-doc.js";

/** Security scheme names in components.securitySchemes (document.ts). */
export const API_KEY_SCHEME = "apiKey";
export const SESSION_SCHEME = "consoleSession";

/** Path, query or header parameters from a zod object's properties. */
function parametersOf(schema: ZodType, where: "path" | "query"): unknown[] {
  const json = jsonSchemaOf(schema, "input");
  const properties = (json.properties ?? {}) as Record<string, JsonSchema>;
  const required = new Set((json.required ?? []) as string[]);
  return Object.entries(properties).map(([name, property]) => {
    const { description, ...rest } = property;
    return { name, in: where, required: where === "path" || required.has(name), ...(description ? { description } : {}), schema: rest };
  });
}

/**
 * OpenAPI 3.1 lets an apiKey requirement list roles: the scopes that may call. A console session
 * signs in a reviewer, so routes open to reviewers accept the session cookie too.
 */
function securityOf(auth: RouteDoc["auth"]): unknown[] {
  if (auth === "none") return [];
  const requirements: unknown[] = [{ [API_KEY_SCHEME]: [...auth] }];
  if (auth.includes("reviewer")) requirements.push({ [SESSION_SCHEME]: [] });
  return requirements;
}

const whoMayCall = (auth: RouteDoc["auth"]) =>
  auth === "none" ? "Public: no credentials." : `API key scopes: ${auth.join(", ")}${auth.includes("reviewer") ? "; or the reviewer console's session" : ""}.`;

/** `post /clearance-status/{request_id}` → `post_clearance_status_request_id` (stable, for deep links). */
const operationIdOf = (method: string, path: string) => `${method.toLowerCase()}${path === "/" ? "_root" : path.replace(/[^A-Za-z0-9]+/g, "_").replace(/_$/, "")}`;

/** The OpenAPI operation of one documented route. `path` is the OpenAPI form (`{param}`). */
export function operationOf(method: string, path: string, doc: RouteDoc): Record<string, unknown> {
  const parameters = [
    ...(doc.params ? parametersOf(doc.params, "path") : []),
    ...(doc.query ? parametersOf(doc.query, "query") : []),
    ...(doc.idempotencyKey
      ? [
          {
            name: "Idempotency-Key",
            in: "header",
            required: false,
            description: "1-255 visible ASCII characters. The same key with the same body answers the original result; with another body, 422.",
            schema: { type: "string", pattern: "^[\\x21-\\x7e]{1,255}$" },
          },
        ]
      : []),
  ];
  const successes: Record<string, unknown> = {};
  for (const [status, response] of Object.entries(doc.responses)) {
    const mediaType = response.mediaType ?? "application/json";
    const schema = response.schema ? jsonSchemaOf(response.schema, "output") : mediaType.startsWith("application/json") ? {} : { type: "string" };
    const content = { [mediaType]: { schema, ...(response.example !== undefined ? { example: response.example } : {}) } };
    successes[status] = { description: response.description, ...(Number(status) === 304 ? {} : { content }) };
  }
  const operation: Record<string, unknown> = {
    operationId: operationIdOf(method, path),
    summary: doc.summary,
    description: [doc.description, whoMayCall(doc.auth)].filter(Boolean).join("\n\n"),
    tags: [...doc.tags],
    security: securityOf(doc.auth),
  };
  if (parameters.length > 0) operation.parameters = parameters;
  if (doc.body) {
    const schema = jsonSchemaOf(doc.body, "input");
    const mediaTypes = doc.bodyMediaTypes ?? ["application/json"];
    operation.requestBody = {
      required: true,
      content: Object.fromEntries(
        mediaTypes.map((type) => [
          type,
          type.startsWith("application/json") || type.endsWith("+json")
            ? { schema, ...(doc.bodyExample !== undefined ? { example: doc.bodyExample } : {}) }
            : { schema: { type: "string" } },
        ]),
      ),
    };
  }
  operation.responses = { ...successes, ...problemResponses(errorCodesOf(doc), path) };
  return operation;
}
