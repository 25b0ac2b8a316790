import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import { copyChunks } from "./policy-chunks.js";
import { isRetired, retiredContent } from "./policy-status.js";
import { insertVersion, lockCurrentVersion } from "./policy-store.js";

export interface RetiredPolicy {
  policy_id: string;
  status: "retired";
  policy_version_id: string;
  version: number;
  content_hash: string;
}

/**
 * Retires a policy: a new version, marked retired, that the judge never loads (PolicyCache skips
 * it), so the policy stops deciding. Earlier versions, their hashes and the decisions that cite
 * them stay. Retiring a retired policy changes nothing and answers its retired version.
 * The caller invalidates the tenant's PolicyCache; other processes see it within the cache TTL.
 */
export async function retirePolicy(sql: Sql, policyId: string): Promise<RetiredPolicy> {
  return sql.transaction(async (tx) => {
    const current = await lockCurrentVersion(tx, policyId);
    if (!current) throw new AppError("policy_not_found", `No policy ${policyId}`);
    if (isRetired(current.content)) {
      return { policy_id: policyId, status: "retired", policy_version_id: current.id, version: current.version, content_hash: current.content_hash };
    }
    const retired = await insertVersion(tx, retiredContent(current.content), current);
    // The retired version keeps copies of the chunks (attached documents above all) so that a later
    // re-registration carries them over as it does from any version, but out of the search index:
    // insertVersion took the older ones out, and these copies must not enter it.
    await copyChunks(tx, current.id, retired.policy_version_id, { sources: ["description", "rule", "document"] });
    await tx.query("UPDATE policy_chunks SET is_current = false WHERE policy_version_id = $1", [retired.policy_version_id]);
    return { policy_id: policyId, status: "retired", policy_version_id: retired.policy_version_id, version: retired.version, content_hash: retired.policy_content_hash };
  });
}
