import { createTwoFilesPatch } from "diff";
import YAML from "yaml";
import type { StoredContent } from "./policy-status.js";

export type PolicyFormat = "yaml" | "json";
export const policyFormats = ["yaml", "json"] as const;

const CONDITION_ORDER = ["id", "when", "decision", "reason"];
const DOCUMENT_ORDER = ["document_id", "title", "media_type", "content_hash"];
const POLICY_ORDER = ["policy_id", "retired", "description", "tools", "rules", "conditions", "default_decision", "documents"];

/** Members in a fixed order (known ones first, any others sorted after), absent ones left out. */
function ordered(value: Record<string, unknown>, order: string[]): Record<string, unknown> {
  const known = order.filter((k) => value[k] !== undefined);
  const rest = Object.keys(value).filter((k) => !order.includes(k) && value[k] !== undefined).sort();
  return Object.fromEntries([...known, ...rest].map((k) => [k, value[k]]));
}

/**
 * A policy's content in its canonical reading order: the same content always gives the same
 * text, so a diff shows only what changed, and an exported file reads like the registration body.
 */
export function canonicalPolicy(content: StoredContent): Record<string, unknown> {
  const c = content as unknown as Record<string, unknown>;
  return ordered(
    {
      ...c,
      conditions: Array.isArray(c.conditions) ? (c.conditions as Record<string, unknown>[]).map((x) => ordered(x, CONDITION_ORDER)) : c.conditions,
      documents: Array.isArray(c.documents) ? (c.documents as Record<string, unknown>[]).map((x) => ordered(x, DOCUMENT_ORDER)) : c.documents,
    },
    POLICY_ORDER,
  );
}

/** Pretty-printed canonical text: YAML without line folding (a long condition stays on one line), or JSON. */
export function policyText(content: StoredContent, format: PolicyFormat): string {
  const value = canonicalPolicy(content);
  return format === "json" ? `${JSON.stringify(value, null, 2)}\n` : YAML.stringify(value, { lineWidth: 0 });
}

/** A unified diff between two policy contents (null: nothing, for a first version or a new policy). */
export function policyDiff(
  from: { label: string; content: StoredContent | null },
  to: { label: string; content: StoredContent | null },
  format: PolicyFormat,
): string {
  const a = from.content ? policyText(from.content, format) : "";
  const b = to.content ? policyText(to.content, format) : "";
  return createTwoFilesPatch(from.label, to.label, a, b, undefined, undefined, { context: 3 });
}
