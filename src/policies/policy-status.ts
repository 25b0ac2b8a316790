import type { PolicyContent } from "./policy-text.js";

/**
 * How retirement is stored: as a marker in the version's content (`"retired": true`), not as a
 * column. The marker enters the canonical content and so the content hash: the retirement is a
 * version in the policy's history like any other, hashed and ordered with the rest, and nothing
 * outside the hashed content can silently turn a retired version back on (or off). The retired
 * version keeps the last active content otherwise (conditions, rules, documents), so a diff shows
 * exactly the retirement and re-registering the same policy is an ordinary new version.
 * Registration bodies can never carry the marker: registerPolicySchema is a strict object.
 */
export type StoredContent = PolicyContent & { retired?: true };

export type PolicyStatus = "active" | "retired";

export function isRetired(content: StoredContent): boolean {
  return content.retired === true;
}

export function statusOf(content: StoredContent): PolicyStatus {
  return isRetired(content) ? "retired" : "active";
}

/** The retired version's content: the last active content with the marker. */
export function retiredContent(content: StoredContent): StoredContent {
  return { ...content, retired: true };
}
