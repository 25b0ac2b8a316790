/**
 * docs/api.md, generated from the OpenAPI document so the two cannot drift: the document's overview,
 * a contents table, then per tag each operation's auth, parameters, body fields, responses, error codes
 * and examples. Pure and deterministic (the document's order, no dates), so a test can compare the
 * checked-in file with a fresh rendering.
 */
import { API_KEY_SCHEME, SESSION_SCHEME } from "./operation.js";

type Json = Record<string, any>;

const METHODS = ["get", "put", "post", "delete", "patch"];
/** Examples longer than this are folded into a <details> block. */
const FOLD_LINES = 40;

interface Operation {
  method: string;
  path: string;
  op: Json;
}

function operationsOf(doc: Json): Operation[] {
  return Object.entries((doc.paths ?? {}) as Json).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((method) => ({ method, path, op: item[method] as Json })),
  );
}

/** A short, readable type for a JSON Schema. */
function typeOf(schema: Json | undefined, doc: Json): string {
  if (!schema || Object.keys(schema).length === 0) return "any";
  if (schema.$ref) return String(schema.$ref).split("/").pop()!;
  if (schema.const !== undefined) return JSON.stringify(schema.const);
  if (schema.enum) return schema.enum.length <= 8 ? schema.enum.map((v: unknown) => JSON.stringify(v)).join(" | ") : `${schema.type ?? "string"} (one of ${schema.enum.length})`;
  const union = schema.anyOf ?? schema.oneOf;
  if (union) return [...new Set((union as Json[]).map((s) => typeOf(s, doc)))].join(" | ");
  if (schema.allOf) return typeOf(schema.allOf[0], doc);
  if (Array.isArray(schema.type)) return schema.type.join(" | ");
  if (schema.type === "array") return `array of ${typeOf(schema.items, doc)}`;
  if (schema.type === "object" && !schema.properties) return "object";
  if (schema.type === "integer" || schema.type === "number") {
    const range = schema.minimum !== undefined && schema.maximum !== undefined ? ` ${schema.minimum}-${schema.maximum}` : "";
    return `${schema.type}${range}`;
  }
  return String(schema.type ?? "any");
}

const cell = (text: unknown) => String(text ?? "").replace(/\|/g, "\\|").replace(/\n+/g, " ");

function who(op: Json): string {
  const requirements = (op.security ?? []) as Json[];
  if (requirements.length === 0) return "anyone";
  const scopes = requirements.flatMap((r) => (r[API_KEY_SCHEME] as string[] | undefined) ?? []);
  const session = requirements.some((r) => r[SESSION_SCHEME] !== undefined);
  return [scopes.join(", "), session ? "console session" : ""].filter(Boolean).join("; ");
}

function codeBlock(value: unknown, mediaType: string): string {
  const text = typeof value === "string" && !mediaType.includes("json") ? value.replace(/\n$/, "") : JSON.stringify(value, null, 2);
  const lang = mediaType.includes("json") ? "json" : "text";
  const block = `\`\`\`${lang}\n${text}\n\`\`\``;
  return text.split("\n").length > FOLD_LINES ? `<details><summary>Show the example (${text.split("\n").length} lines)</summary>\n\n${block}\n\n</details>` : block;
}

function fieldsTable(schema: Json, doc: Json): string[] {
  const properties = (schema.properties ?? {}) as Json;
  const required = new Set((schema.required ?? []) as string[]);
  if (Object.keys(properties).length === 0) return [];
  return [
    "| Field | Type | Required | Default | Description |",
    "|---|---|---|---|---|",
    ...Object.entries(properties).map(
      ([name, property]) =>
        `| \`${name}\` | ${cell(typeOf(property, doc))} | ${required.has(name) ? "yes" : "no"} | ${property.default === undefined ? "" : `\`${cell(JSON.stringify(property.default))}\``} | ${cell(property.description)} |`,
    ),
  ];
}

function parametersSection(op: Json, doc: Json): string[] {
  const parameters = (op.parameters ?? []) as Json[];
  if (parameters.length === 0) return [];
  return [
    "**Parameters**",
    "",
    "| Name | In | Type | Required | Default | Description |",
    "|---|---|---|---|---|---|",
    ...parameters.map(
      (p) =>
        `| \`${p.name}\` | ${p.in} | ${cell(typeOf(p.schema, doc))} | ${p.required ? "yes" : "no"} | ${p.schema?.default === undefined ? "" : `\`${cell(JSON.stringify(p.schema.default))}\``} | ${cell(p.description)} |`,
    ),
    "",
  ];
}

function bodySection(op: Json, doc: Json): string[] {
  const content = op.requestBody?.content as Json | undefined;
  if (!content) return [];
  const types = Object.keys(content);
  const json = types.find((t) => t.includes("json"));
  const lines = [`**Body** (${types.map((t) => `\`${t}\``).join(", ")})`, ""];
  if (json) {
    const schema = content[json].schema as Json;
    const table = fieldsTable(schema, doc);
    lines.push(...(table.length > 0 ? table : [`Type: ${typeOf(schema, doc)}`]), "");
    if (schema.additionalProperties === false) lines.push("Unknown fields are refused (`400 validation_failed`).", "");
    if (content[json].example !== undefined) lines.push("Example:", "", codeBlock(content[json].example, json), "");
  }
  return lines;
}

function responsesSection(op: Json, doc: Json): string[] {
  const responses = Object.entries((op.responses ?? {}) as Json);
  const successes = responses.filter(([status]) => Number(status) < 400);
  const errors = responses.filter(([status]) => Number(status) >= 400);
  const lines = ["**Responses**", "", "| Status | Type | Description |", "|---|---|---|"];
  for (const [status, response] of successes) {
    const types = Object.entries((response.content ?? {}) as Json).map(([t, media]) => `\`${t}\`: ${cell(typeOf(media.schema, doc))}`);
    lines.push(`| ${status} | ${types.join("<br>")} | ${cell(response.description)} |`);
  }
  lines.push("");
  // Answers that share a schema (200 and 202 of a clearance) list its fields once.
  const tabled = new Map<string, string>();
  for (const [status, response] of successes) {
    for (const [type, media] of Object.entries((response.content ?? {}) as Json)) {
      const table = type.includes("json") && media.schema?.type === "object" ? fieldsTable(media.schema, doc) : [];
      const key = JSON.stringify(media.schema);
      if (table.length > 0 && tabled.has(key)) lines.push(`The ${status} answer has the fields of the ${tabled.get(key)} answer.`, "");
      else if (table.length > 0) lines.push(`Fields of the ${status} answer:`, "", ...table, "");
      tabled.set(key, tabled.get(key) ?? status);
      if (media.example !== undefined) lines.push(`Example ${status} answer:`, "", codeBlock(media.example, type), "");
    }
  }
  if (errors.length > 0) {
    lines.push("**Errors** (`application/problem+json`, see [Errors](#errors)):", "");
    for (const [status, response] of errors) {
      const codes = (response.content?.["application/problem+json"]?.schema?.allOf?.[1]?.properties?.code?.enum ?? []) as string[];
      lines.push(`- ${status}: ${codes.map((c) => `\`${c}\``).join(", ")}`);
    }
    lines.push("");
  }
  return lines;
}

/** An operation is listed under its first tag. */
const firstTag = (o: Operation) => ((o.op.tags ?? ["other"]) as string[])[0];

const anchorOf = ({ op, method, path }: Operation) => String(op.operationId ?? `${method}${path}`.replace(/[^A-Za-z0-9]+/g, "_"));

function operationSection(o: Operation, doc: Json): string[] {
  return [
    `<a id="${anchorOf(o)}"></a>`,
    `### \`${o.method.toUpperCase()} ${o.path}\``,
    "",
    `**${o.op.summary ?? ""}.** ${o.op.description ?? ""}`.trim(),
    "",
    ...parametersSection(o.op, doc),
    ...bodySection(o.op, doc),
    ...responsesSection(o.op, doc),
  ];
}

/** A contents entry: the heading's GitHub anchor (lower case, punctuation dropped, spaces to hyphens). */
function sectionLink(heading: string): string {
  const anchor = heading.toLowerCase().replace(/[^a-z0-9 _-]/g, "").replace(/ /g, "-");
  return `- [${heading}](#${anchor})`;
}

/** The markdown reference of an OpenAPI 3.1 document as served at /openapi.json. */
export function apiReferenceMarkdown(doc: Json): string {
  const operations = operationsOf(doc);
  const tags = ((doc.tags ?? []) as Json[]).map((t) => ({ name: String(t.name), description: t.description as string | undefined }));
  for (const o of operations) for (const tag of (o.op.tags ?? ["other"]) as string[]) if (!tags.some((t) => t.name === tag)) tags.push({ name: tag, description: undefined });
  const overview = String(doc.info?.description ?? "");
  // The endpoints go after the overview's opening paragraphs, before its first section (## Errors...).
  const split = overview.search(/^## /m);
  const [intro, sections] = split === -1 ? [overview, ""] : [overview.slice(0, split), overview.slice(split)];
  const lines = [
    "# API reference",
    "",
    "<!-- Generated from the vault's OpenAPI document by src/http/openapi/api-reference.ts (`npm run docs`); edit the routes' RouteDoc or src/http/openapi/overview.ts, not this file. -->",
    "",
    `The vault describes its API as an OpenAPI ${doc.openapi} document at \`GET /openapi.json\`, and serves a browsable reference of it at \`/docs\`. This page is generated from that document.`,
    "",
    intro.trim(),
    "",
    "## Contents",
    "",
    ...tags.filter((tag) => operations.some((o) => firstTag(o) === tag.name)).map((tag) => sectionLink(`Endpoints: ${tag.name}`)),
    ...[...sections.matchAll(/^## (.+)$/gm)].map((m) => sectionLink(m[1]!.trim())),
    "",
    "Every endpoint:",
    "",
    "| Method | Path | Who may call | Summary |",
    "|---|---|---|---|",
    ...tags.flatMap((tag) => operations.filter((o) => firstTag(o) === tag.name)).map((o) => `| ${o.method.toUpperCase()} | [\`${o.path}\`](#${anchorOf(o)}) | ${who(o.op)} | ${cell(o.op.summary)} |`),
    "",
  ];
  for (const tag of tags) {
    const inTag = operations.filter((o) => firstTag(o) === tag.name);
    if (inTag.length === 0) continue;
    lines.push(`## Endpoints: ${tag.name}`, "");
    if (tag.description) lines.push(tag.description, "");
    for (const o of inTag) lines.push(...operationSection(o, doc));
  }
  if (sections) lines.push(sections.trim(), "");
  return `${lines.join("\n").replace(/\n{3,}/g, "\n\n").trimEnd()}\n`;
}
