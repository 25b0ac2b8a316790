import type { Principal } from "./authorization-request.js";
import type { LabeledEntry } from "./labeled-entries.js";

/**
 * The reference's flattening (§9): `{key, label, value}` becomes `key: value` and a group becomes a
 * nested object, so a condition reads `action.details.device.serial`. Labels are for people and are
 * dropped. Objects are built with Object.fromEntries, so a key such as "__proto__" is an ordinary
 * member and never a prototype.
 */
export function flattenEntries(entries?: readonly LabeledEntry[]): Record<string, unknown> {
  if (!Array.isArray(entries)) return {};
  return Object.fromEntries(entries.map((e) => [e.key, typeof e.value === "string" ? e.value : flattenEntries(e.value)]));
}

// The validator allows 5 operators; a bound here keeps a hand-built cyclic chain from looping forever.
const MAX_FLATTENED_OPERATORS = 16;

/** `{subject, attributes: {...flattened}, operator?: {...the same, recursively}}`. */
export function flattenPrincipal(p: Principal): Record<string, unknown> {
  const chain: Principal[] = [];
  for (let at: Principal | undefined = p; at && chain.length <= MAX_FLATTENED_OPERATORS; at = at.operator) chain.push(at);
  let flat: Record<string, unknown> | undefined;
  for (let i = chain.length - 1; i >= 0; i--) {
    const at = chain[i]!;
    flat = { subject: at.subject, attributes: flattenEntries(at.attributes), ...(flat ? { operator: flat } : {}) };
  }
  return flat ?? { subject: "", attributes: {} };
}
