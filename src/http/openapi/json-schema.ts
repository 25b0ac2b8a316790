import { z, type ZodType } from "zod";

export type JsonSchema = Record<string, unknown>;

/**
 * A route's zod schema as JSON Schema 2020-12 (OpenAPI 3.1's dialect). `input` describes what a client
 * may send (defaults make a field optional, transforms show their input type); `output` what the vault
 * sends. Refinements and custom checks have no JSON Schema form: they become `{}` ("any") rather than
 * failing the document, and the handler still enforces them.
 */
export function jsonSchemaOf(schema: ZodType, io: "input" | "output"): JsonSchema {
  const json = z.toJSONSchema(schema, { target: "draft-2020-12", io, unrepresentable: "any" }) as JsonSchema;
  delete json.$schema;
  return json;
}
