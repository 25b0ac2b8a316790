import { asObject } from "./strict-json.js";

/**
 * LabeledEntry (reference §3): `{key, label, value}`, where value is a string or a nested array of
 * entries (a group). Keys are unique within each array. The bounds below are Countersign's: a
 * signed request is shown to a reviewer and flattened into policy input, so hostile nesting or
 * entry counts are refused rather than carried.
 */
export interface LabeledEntry {
  key: string;
  label: string;
  value: string | LabeledEntry[];
}

/** Arrays nested in arrays: the top-level array is depth 1. */
export const MAX_ENTRY_DEPTH = 8;
/** Entries across all of a request's arrays (attributes of every principal, and details). */
export const MAX_ENTRIES = 1000;

export interface EntryBudget {
  remaining: number;
}

export const newEntryBudget = (): EntryBudget => ({ remaining: MAX_ENTRIES });

/**
 * The entries of `value` (absent or null is no entries), or a reason they are malformed: not an
 * array of `{key: non-empty string, label?: string, value: string | entries}`, a key repeated in
 * one array, nested deeper than MAX_ENTRY_DEPTH, or more than MAX_ENTRIES in all.
 */
export function readEntries(value: unknown, where: string, budget: EntryBudget, depth = 1): { ok: true; entries: LabeledEntry[] | undefined } | { ok: false; message: string } {
  if (value === undefined || value === null) return { ok: true, entries: undefined };
  if (!Array.isArray(value)) return { ok: false, message: `${where} must be an array of labeled entries` };
  if (depth > MAX_ENTRY_DEPTH) return { ok: false, message: `${where}: labeled entries nest deeper than ${MAX_ENTRY_DEPTH} levels` };
  budget.remaining -= value.length;
  if (budget.remaining < 0) return { ok: false, message: `more than ${MAX_ENTRIES} labeled entries in the request` };
  const keys = new Set<string>();
  const entries: LabeledEntry[] = [];
  for (const [i, item] of value.entries()) {
    const at = `${where}[${i}]`;
    const e = asObject(item);
    if (!e || typeof e.key !== "string" || e.key === "") return { ok: false, message: `${at} must have a non-empty string key` };
    if (e.label !== undefined && e.label !== null && typeof e.label !== "string") return { ok: false, message: `${at}.label must be a string` };
    if (keys.has(e.key)) return { ok: false, message: "labeled entry keys must be unique within their array" };
    keys.add(e.key);
    const label = typeof e.label === "string" ? e.label : "";
    if (typeof e.value === "string") {
      entries.push({ key: e.key, label, value: e.value });
      continue;
    }
    if (!Array.isArray(e.value)) return { ok: false, message: `${at}.value must be a string or an array of labeled entries` };
    const group = readEntries(e.value, `${at}.value`, budget, depth + 1);
    if (!group.ok) return group;
    entries.push({ key: e.key, label, value: group.entries ?? [] });
  }
  return { ok: true, entries };
}
