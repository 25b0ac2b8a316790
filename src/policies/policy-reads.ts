import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import { statusOf, type PolicyStatus, type StoredContent } from "./policy-status.js";

/** One stored version of a policy, as the read endpoints show it. */
export interface PolicyVersionRecord {
  policyId: string;
  versionId: string;
  version: number;
  contentHash: string;
  registeredAt: Date;
  status: PolicyStatus;
  current: boolean;
  doc: StoredContent;
}

interface VersionRow {
  policy_id: string;
  id: string;
  version: number | string;
  content: string;
  content_hash: string;
  created_at: Date | string;
  current: boolean;
}

function record(r: VersionRow): PolicyVersionRecord {
  const doc = JSON.parse(r.content) as StoredContent;
  return {
    policyId: r.policy_id,
    versionId: r.id,
    version: Number(r.version),
    contentHash: r.content_hash,
    registeredAt: new Date(r.created_at),
    status: statusOf(doc),
    current: r.current,
    doc,
  };
}

const VERSION_COLUMNS = `v.policy_id, v.id, v.version, v.content, v.content_hash, v.created_at, (v.id = p.current_version_id) AS current`;

export interface PolicyPage {
  policies: PolicyVersionRecord[];
  nextCursor: string | null;
}

/**
 * The current version of each policy, a page at a time in policy_id order, read straight from the
 * database (not the PolicyCache: a listing must show what was just registered in any process, and
 * needs no compiled conditions). The cursor is the last policy_id of the previous page.
 */
export async function listPolicies(sql: Sql, opts: { limit: number; cursor?: string; includeRetired: boolean }): Promise<PolicyPage> {
  const after = opts.cursor === undefined ? null : decodeCursor(opts.cursor);
  // The retired marker is a top-level member of the stored canonical JSON (src/policies/policy-status.ts).
  const rows = await sql.query<VersionRow>(
    `SELECT ${VERSION_COLUMNS}
       FROM policies p JOIN policy_versions v ON v.id = p.current_version_id
      WHERE ($1::text IS NULL OR p.policy_id > $1)
        AND ($2::boolean OR (v.content::jsonb ->> 'retired') IS NULL)
      ORDER BY p.policy_id LIMIT $3`,
    [after, opts.includeRetired, opts.limit + 1],
  );
  const page = rows.slice(0, opts.limit).map(record);
  const last = page[page.length - 1];
  return { policies: page, nextCursor: rows.length > opts.limit && last ? encodeCursor(last.policyId) : null };
}

function encodeCursor(policyId: string): string {
  return Buffer.from(JSON.stringify({ after: policyId }), "utf8").toString("base64url");
}

function decodeCursor(cursor: string): string {
  try {
    const value: unknown = JSON.parse(Buffer.from(cursor, "base64url").toString("utf8"));
    if (value && typeof value === "object" && typeof (value as { after?: unknown }).after === "string") return (value as { after: string }).after;
  } catch {
    /* falls through to the 400 */
  }
  throw new AppError("validation_failed", "cursor is not one this server issued");
}

/** A policy's current version, or a given one; 404 when the policy (or that version) does not exist. */
export async function readPolicyVersion(sql: Sql, policyId: string, version?: number): Promise<PolicyVersionRecord> {
  const rows = await sql.query<VersionRow>(
    `SELECT ${VERSION_COLUMNS}
       FROM policies p JOIN policy_versions v ON v.policy_id = p.policy_id
      WHERE p.policy_id = $1 AND ${version === undefined ? "v.id = p.current_version_id" : "v.version = $2"}`,
    version === undefined ? [policyId] : [policyId, version],
  );
  if (rows[0]) return record(rows[0]);
  if (version !== undefined && (await policyExists(sql, policyId))) {
    throw new AppError("policy_version_not_found", `Policy ${policyId} has no version ${version}`);
  }
  throw new AppError("policy_not_found", `No policy ${policyId}`);
}

/** Every version of a policy, newest first. */
export async function listPolicyVersions(sql: Sql, policyId: string): Promise<PolicyVersionRecord[]> {
  const rows = await sql.query<VersionRow>(
    `SELECT ${VERSION_COLUMNS}
       FROM policies p JOIN policy_versions v ON v.policy_id = p.policy_id
      WHERE p.policy_id = $1 ORDER BY v.version DESC`,
    [policyId],
  );
  if (rows.length === 0) throw new AppError("policy_not_found", `No policy ${policyId}`);
  return rows.map(record);
}

async function policyExists(sql: Sql, policyId: string): Promise<boolean> {
  return (await sql.query("SELECT 1 FROM policies WHERE policy_id = $1", [policyId])).length > 0;
}
