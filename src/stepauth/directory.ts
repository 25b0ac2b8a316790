import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import { listPolicies } from "../policies/policy-reads.js";
import { asObject, parseStrictJson } from "../protocols/stepauth/strict-json.js";
import { activeReviewers, reviewGroups } from "./directory-source.js";

/**
 * The routable approvers an SP may name in `action.approver` (reference §8): the tenant's active
 * reviewers as `email:` NameIDs, its review groups as `group:`, its current policies as `policy:`.
 * Pages are ordered by id and continue after an opaque cursor (base64url of the last key).
 */
export type DirectoryKind = "users" | "groups" | "policies";

export interface DirectoryItem {
  id: string;
  label?: string;
  provenance?: string;
  count?: number;
}

export interface DirectoryPage {
  items: DirectoryItem[];
  nextCursor?: string;
}

export const DEFAULT_DIRECTORY_LIMIT = 50;
export const MAX_DIRECTORY_LIMIT = 200;

const encode = (after: string) => Buffer.from(JSON.stringify({ after }), "utf8").toString("base64url");

/** The key a cursor continues after. A cursor is the SP's text: read as strictly as a message (no NUL, no lone surrogate reaches a query). */
function decode(cursor: string): string {
  const parsed = parseStrictJson(Buffer.from(cursor, "base64url"));
  const after = parsed.ok ? asObject(parsed.value)?.after : undefined;
  if (typeof after === "string") return after;
  throw new AppError("malformed_request", "cursor is not one this hub issued");
}

export async function directoryPage(
  deps: { control: Sql; tenantId: string; sql: Sql },
  kind: DirectoryKind,
  query: { limit?: number; cursor?: string },
): Promise<DirectoryPage> {
  const limit = Math.min(query.limit ?? DEFAULT_DIRECTORY_LIMIT, MAX_DIRECTORY_LIMIT);
  const after = query.cursor === undefined ? undefined : decode(query.cursor);
  if (kind === "policies") {
    // The policy listing's cursor has the same form, so it passes through unchanged.
    const page = await listPolicies(deps.sql, { limit, cursor: after === undefined ? undefined : encode(after), includeRetired: false });
    const items = page.policies.map((p) => ({ id: `policy:${p.policyId}`, label: firstLine(p.doc.description) || p.policyId, provenance: "countersign" }));
    return page.nextCursor ? { items, nextCursor: page.nextCursor } : { items };
  }
  const reviewers = await activeReviewers(deps.control, deps.tenantId);
  const all: (DirectoryItem & { key: string })[] =
    kind === "users"
      ? reviewers
          .filter((r) => r.email !== "")
          .map((r) => ({ key: r.email, id: `email:${r.email}`, label: r.name, provenance: "countersign" }))
          .sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0))
      : reviewGroups(reviewers).map((g) => ({ key: g.name, id: `group:${g.name}`, label: g.name, provenance: "countersign", count: g.count }));
  const rest = after === undefined ? all : all.filter((i) => i.key > after);
  const page = rest.slice(0, limit).map(({ key: _key, ...item }) => item);
  return rest.length > limit ? { items: page, nextCursor: encode(rest[limit - 1]!.key) } : { items: page };
}

function firstLine(text: string | undefined): string {
  return (text ?? "").split("\n")[0]!.trim().slice(0, 200);
}
