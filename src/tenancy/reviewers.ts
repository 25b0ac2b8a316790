import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import { sqlState, UNIQUE_VIOLATION } from "../db/sql.js";
import { createApiKey, type Principal, type ReviewerIdentity } from "./api-keys.js";
import { newId } from "./ids.js";

export interface CreatedReviewer extends ReviewerIdentity {
  api_key: string;
  api_key_id: string;
}

/** A reviewer identity and its first reviewer key (the raw key is returned once). */
export async function createReviewer(
  control: Sql,
  args: { tenantId: string; name: string; email: string; groups: string[] },
): Promise<CreatedReviewer> {
  return control.transaction(async (tx) => {
    const id = newId("rvw");
    try {
      await tx.query("INSERT INTO reviewers (id, tenant_id, name, email, groups) VALUES ($1, $2, $3, $4, $5)", [
        id, args.tenantId, args.name, args.email.toLowerCase(), args.groups,
      ]);
    } catch (err) {
      if (sqlState(err) === UNIQUE_VIOLATION) throw new AppError("reviewer_exists", `A reviewer with email ${args.email} already exists`);
      throw err;
    }
    const key = await createApiKey(tx, { tenantId: args.tenantId, scope: "reviewer", label: args.name, reviewerId: id });
    return { id, name: args.name, email: args.email.toLowerCase(), groups: args.groups, api_key: key.apiKey, api_key_id: key.id };
  });
}

export async function listReviewers(control: Sql, tenantId: string): Promise<(ReviewerIdentity & { created_at: Date; disabled_at: Date | null })[]> {
  return control.query("SELECT id, name, email, groups, created_at, disabled_at FROM reviewers WHERE tenant_id = $1 ORDER BY created_at", [tenantId]);
}

/** Disables a reviewer of the tenant: their keys and console sessions stop working. False if unknown. */
export async function disableReviewer(control: Sql, tenantId: string, reviewerId: string): Promise<boolean> {
  const rows = await control.query("UPDATE reviewers SET disabled_at = now() WHERE id = $1 AND tenant_id = $2 AND disabled_at IS NULL RETURNING id", [reviewerId, tenantId]);
  return rows.length === 1;
}

/**
 * Of these voter ids (reviewer ids, or the ids of keys that voted without a reviewer identity, as
 * voterOf gives them), those still in force in the tenant, with their groups now: a reviewer not
 * disabled, a key not revoked. A standing approval (a scoped grant, src/grants/) counts only these.
 */
export async function votersInForce(control: Sql, tenantId: string, ids: readonly string[]): Promise<Map<string, { groups: string[] }>> {
  if (ids.length === 0) return new Map();
  const rows = await control.query<{ id: string; groups: string[] }>(
    `SELECT id, groups FROM reviewers WHERE tenant_id = $1 AND id = ANY($2::text[]) AND disabled_at IS NULL
     UNION ALL
     SELECT id, '{}'::text[] AS groups FROM api_keys WHERE tenant_id = $1 AND id = ANY($2::text[]) AND revoked_at IS NULL AND reviewer_id IS NULL`,
    [tenantId, [...ids]],
  );
  return new Map(rows.map((r) => [r.id, { groups: r.groups }]));
}

/**
 * Who is voting: the reviewer behind the key, or the key itself when it has no reviewer identity
 * (an admin key, or a reviewer key made before identities existed).
 */
export function voterOf(principal: Principal): ReviewerIdentity {
  return principal.reviewer ?? { id: principal.keyId, name: `${principal.scope} key ${principal.keyId}`, email: "", groups: [] };
}
