/**
 * Bodies generated from the endpoints' own zod schemas: z.toJSONSchema (input side) turned into a
 * fast-check arbitrary. Using the live schemas means a schema change (a new field, a stricter
 * object) changes what is generated without editing the fuzz suite.
 *
 * Sizes are capped well below the schemas' limits (arrays of at most 3, strings of at most 24
 * characters): the base body is the well-formed starting point; the huge values come from the
 * mutations in fuzz-raw-json.ts.
 */
import fc from "fast-check";
import { z } from "zod";

type JsonSchema = {
  type?: string;
  anyOf?: JsonSchema[];
  enum?: unknown[];
  const?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: JsonSchema | boolean;
  propertyNames?: JsonSchema;
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  minimum?: number;
  maximum?: number;
  default?: unknown;
};

const MAX_ITEMS = 3;
const MAX_CHARS = 24;

/** A JSON schema of the shapes zod emits, as an arbitrary of values that mostly satisfy it. */
export function arbitraryOf(schema: JsonSchema, hints: Record<string, fc.Arbitrary<unknown>> = {}, field = ""): fc.Arbitrary<unknown> {
  if (hints[field]) return hints[field]!;
  if (schema.anyOf) return fc.oneof(...schema.anyOf.map((s) => arbitraryOf(s, hints, field)));
  if (schema.enum) return fc.constantFrom(...schema.enum);
  if (schema.const !== undefined) return fc.constant(schema.const);
  switch (schema.type) {
    case "object":
      return objectOf(schema, hints, field);
    case "array":
      return fc.array(arbitraryOf(schema.items ?? {}, hints, `${field}[]`), {
        minLength: schema.minItems ?? 0,
        maxLength: Math.max(schema.minItems ?? 0, Math.min(schema.maxItems ?? MAX_ITEMS, MAX_ITEMS)),
      });
    case "string":
      return stringOf(schema);
    case "integer":
      return fc.integer({ min: schema.minimum ?? -1_000_000, max: schema.maximum ?? 1_000_000 });
    case "number":
      return fc.double({ min: schema.minimum ?? -1e6, max: schema.maximum ?? 1e6, noNaN: true, noDefaultInfinity: true });
    case "boolean":
      return fc.boolean();
    case "null":
      return fc.constant(null);
    default:
      // z.unknown(): any small JSON value.
      return fc.jsonValue({ maxDepth: 2 });
  }
}

function stringOf(schema: JsonSchema): fc.Arbitrary<string> {
  const min = schema.minLength ?? 0;
  const max = Math.max(min, Math.min(schema.maxLength ?? MAX_CHARS, MAX_CHARS));
  if (schema.format === "email") {
    // fast-check's addresses use RFC 5322 characters zod's stricter pattern refuses; plain ones get through.
    const plain = fc.tuple(fc.stringMatching(/^[a-z0-9][a-z0-9.+_-]{0,15}$/), fc.constantFrom("example.com", "example.org", "corp.example")).map(([l, d]) => `${l}@${d}`);
    return fc.oneof(plain, fc.emailAddress()).filter((e) => e.length <= (schema.maxLength ?? 254));
  }
  if (schema.pattern) return fc.stringMatching(new RegExp(schema.pattern)).filter((s) => s.length <= (schema.maxLength ?? 10_000));
  return fc.string({ minLength: min, maxLength: max, unit: "grapheme" });
}

function objectOf(schema: JsonSchema, hints: Record<string, fc.Arbitrary<unknown>>, field: string): fc.Arbitrary<Record<string, unknown>> {
  const required = new Set(schema.required ?? []);
  const props = Object.entries(schema.properties ?? {});
  const prefix = field ? `${field}.` : "";
  if (props.length === 0 && schema.additionalProperties !== false) {
    // A record (tool_args, context, per-policy routes): keys from propertyNames, values from additionalProperties.
    const value = typeof schema.additionalProperties === "object" ? arbitraryOf(schema.additionalProperties, hints, `${prefix}*`) : fc.jsonValue({ maxDepth: 2 });
    const key = schema.propertyNames ? (stringOf(schema.propertyNames) as fc.Arbitrary<string>) : fc.string({ maxLength: 12 });
    return fc.dictionary(key, value, { maxKeys: MAX_ITEMS });
  }
  const record: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [name, sub] of props) record[name] = arbitraryOf(sub, hints, `${prefix}${name}`);
  return fc.record(record, { requiredKeys: props.map(([n]) => n).filter((n) => required.has(n)) });
}

/** The arbitrary of a zod schema's input. `hints` replace the generator of a field path (e.g. "conditions[].when"). */
export function bodiesOf(schema: z.ZodType, hints: Record<string, fc.Arbitrary<unknown>> = {}): fc.Arbitrary<unknown> {
  return arbitraryOf(z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as JsonSchema, hints);
}
