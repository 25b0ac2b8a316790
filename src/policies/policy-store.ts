import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import { newId } from "../tenancy/ids.js";
import { canonicalJson, sha256Hex } from "../tokens/canonical-json.js";
import { compileCondition, ConditionCompileError, type CompiledCondition } from "./cel.js";
import type { Condition, PolicyDocument } from "./policy-schema.js";

export interface RegisteredPolicy {
  policy_id: string;
  status: "registered" | "unchanged";
  message: string;
  policy_version_id: string;
  policy_content_hash: string;
  version: number;
}

export interface ActivePolicy {
  policyId: string;
  versionId: string;
  version: number;
  contentHash: string;
  doc: PolicyDocument;
  conditions: { condition: Condition; test: CompiledCondition }[];
}

function compileAll(doc: PolicyDocument): ActivePolicy["conditions"] {
  return doc.conditions.map((condition, i) => {
    try {
      return { condition, test: compileCondition(condition.when) };
    } catch (err) {
      const why = err instanceof ConditionCompileError ? err.message : "does not compile";
      throw new AppError("invalid_condition", `Condition "${condition.id}" (conditions[${i}].when) does not compile: ${why}`, {
        errors: [{ path: `conditions.${i}.when`, condition_id: condition.id, message: why }],
      });
    }
  });
}

export function policyContentHash(canonical: string): string {
  return `sha256:${sha256Hex(canonical)}`;
}

/**
 * Registers a policy: a new version when its canonical content changed, the current version when it
 * did not (so remembered approvals stay valid across idempotent re-registration).
 */
export async function registerPolicy(sql: Sql, doc: PolicyDocument): Promise<RegisteredPolicy> {
  compileAll(doc);
  const canonical = canonicalJson(doc);
  const contentHash = policyContentHash(canonical);
  return sql.transaction(async (tx) => {
    // Serialises registrations of the same policy id across vault processes.
    await tx.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`policy:${doc.policy_id}`]);
    const current = (
      await tx.query<{ id: string; version: number; content_hash: string }>(
        `SELECT v.id, v.version, v.content_hash FROM policies p JOIN policy_versions v ON v.id = p.current_version_id WHERE p.policy_id = $1`,
        [doc.policy_id],
      )
    )[0];
    if (current && current.content_hash === contentHash) {
      return {
        policy_id: doc.policy_id,
        status: "unchanged",
        message: `Policy already registered with this content (version ${current.version})`,
        policy_version_id: current.id,
        policy_content_hash: contentHash,
        version: current.version,
      };
    }
    const version = (current?.version ?? 0) + 1;
    const versionId = newId("pv");
    await tx.query(
      "INSERT INTO policy_versions (id, policy_id, version, content, content_hash, tools) VALUES ($1, $2, $3, $4, $5, $6)",
      [versionId, doc.policy_id, version, canonical, contentHash, doc.tools],
    );
    await tx.query(
      `INSERT INTO policies (policy_id, current_version_id) VALUES ($1, $2)
       ON CONFLICT (policy_id) DO UPDATE SET current_version_id = EXCLUDED.current_version_id, updated_at = now()`,
      [doc.policy_id, versionId],
    );
    return {
      policy_id: doc.policy_id,
      status: "registered",
      message: version === 1 ? "Policy registered" : `Policy registered as version ${version}`,
      policy_version_id: versionId,
      policy_content_hash: contentHash,
      version,
    };
  });
}

async function loadActive(sql: Sql): Promise<ActivePolicy[]> {
  const rows = await sql.query<{ policy_id: string; id: string; version: number; content: string; content_hash: string }>(
    `SELECT p.policy_id, v.id, v.version, v.content, v.content_hash
       FROM policies p JOIN policy_versions v ON v.id = p.current_version_id ORDER BY p.policy_id`,
  );
  return rows.map((r) => {
    const doc = JSON.parse(r.content) as PolicyDocument;
    return { policyId: r.policy_id, versionId: r.id, version: r.version, contentHash: r.content_hash, doc, conditions: compileAll(doc) };
  });
}

/**
 * Current policy versions per tenant, compiled once. Registration in this process invalidates at
 * once; other processes see a new version within the TTL.
 */
export class PolicyCache {
  private readonly entries = new Map<string, { until: number; policies: Promise<ActivePolicy[]> }>();

  constructor(
    private readonly clock: Clock,
    private readonly ttlMs: number,
  ) {}

  async active(tenantId: string, sql: Sql): Promise<ActivePolicy[]> {
    const now = this.clock.nowMs();
    const hit = this.entries.get(tenantId);
    if (hit && hit.until > now) return hit.policies;
    const policies = loadActive(sql);
    this.entries.set(tenantId, { until: now + this.ttlMs, policies });
    policies.catch(() => this.entries.delete(tenantId));
    return policies;
  }

  invalidate(tenantId: string): void {
    this.entries.delete(tenantId);
  }
}

export function coversTool(policy: ActivePolicy, tool: string): boolean {
  return policy.doc.tools.length === 0 || policy.doc.tools.includes(tool);
}

/**
 * The policy named by context.policy_id, else every policy whose tools include the tool (empty =
 * all). The caller chooses the name, so a named policy applies only if it covers the tool: an
 * agent must not pick a lenient policy written for another tool.
 */
export function applicablePolicies(policies: ActivePolicy[], tool: string, contextPolicyId: unknown): ActivePolicy[] {
  if (typeof contextPolicyId === "string" && contextPolicyId !== "") {
    return policies.filter((p) => p.policyId === contextPolicyId && coversTool(p, tool));
  }
  return policies.filter((p) => coversTool(p, tool));
}
