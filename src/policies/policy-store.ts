import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import { newId } from "../tenancy/ids.js";
import { TtlCache } from "../ttl-cache.js";
import { canonicalJson, sha256Hex } from "../tokens/canonical-json.js";
import { compileCondition, ConditionCompileError, type CompiledCondition } from "./cel.js";
import type { EmbeddingProvider } from "./embeddings/embedding-provider.js";
import { copyChunks, embedChunks, ensureVectorIndex, insertChunks, retireChunks } from "./policy-chunks.js";
import type { Condition, PolicyDocument } from "./policy-schema.js";
import { readPolicyModes, readTenantMode, type PolicyMode, type TenantMode } from "./policy-modes.js";
import { isRetired, type StoredContent } from "./policy-status.js";
import { policyTextChunks, versionContent, type PolicyContent } from "./policy-text.js";

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
  doc: PolicyContent;
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

export interface CurrentVersion {
  id: string;
  version: number;
  content: StoredContent;
  content_hash: string;
}

/** The current version of a policy, locked against concurrent writers of the same policy id. */
export async function lockCurrentVersion(tx: Sql, policyId: string): Promise<CurrentVersion | undefined> {
  // Serialises writers of the same policy id across vault processes.
  await tx.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`policy:${policyId}`]);
  return readCurrentVersion(tx, policyId);
}

/** The current version of a policy, unlocked: for reads and for checks repeated under the lock. */
export async function readCurrentVersion(sql: Sql, policyId: string): Promise<CurrentVersion | undefined> {
  const row = (
    await sql.query<{ id: string; version: number; content: string; content_hash: string }>(
      `SELECT v.id, v.version, v.content, v.content_hash FROM policies p JOIN policy_versions v ON v.id = p.current_version_id WHERE p.policy_id = $1`,
      [policyId],
    )
  )[0];
  return row && { ...row, content: JSON.parse(row.content) as StoredContent };
}

/** Writes a new version of a policy and makes it current. The caller holds lockCurrentVersion. */
export async function insertVersion(tx: Sql, content: StoredContent, current: CurrentVersion | undefined): Promise<RegisteredPolicy> {
  const canonical = canonicalJson(content);
  const contentHash = policyContentHash(canonical);
  const version = (current?.version ?? 0) + 1;
  const versionId = newId("pv");
  await tx.query(
    "INSERT INTO policy_versions (id, policy_id, version, content, content_hash, tools) VALUES ($1, $2, $3, $4, $5, $6)",
    [versionId, content.policy_id, version, canonical, contentHash, content.tools],
  );
  await retireChunks(tx, content.policy_id);
  await tx.query(
    `INSERT INTO policies (policy_id, current_version_id) VALUES ($1, $2)
     ON CONFLICT (policy_id) DO UPDATE SET current_version_id = EXCLUDED.current_version_id, updated_at = now()`,
    [content.policy_id, versionId],
  );
  return {
    policy_id: content.policy_id,
    status: "registered",
    message: version === 1 ? "Policy registered" : `Policy registered as version ${version}`,
    policy_version_id: versionId,
    policy_content_hash: contentHash,
    version,
  };
}

/**
 * Registers a policy: a new version when its canonical content changed, the current version when it
 * did not (so remembered approvals stay valid across idempotent re-registration). The description
 * and rules are chunked and embedded before the transaction; attached documents carry over.
 */
export async function registerPolicy(sql: Sql, doc: PolicyDocument, embeddings: EmbeddingProvider): Promise<RegisteredPolicy> {
  compileAll(doc);
  const ownChunks = await embedChunks(sql, embeddings, policyTextChunks(doc));
  const result = await sql.transaction(async (tx) => {
    const current = await lockCurrentVersion(tx, doc.policy_id);
    // Documents carry over a retirement too (the retired version keeps them and their chunks), so
    // retiring and re-registering a policy gives it back as it was. The new content has no retired
    // marker (the schema cannot carry one), so its hash differs and it is a new, active version.
    const content = versionContent(doc, current?.content.documents ?? []);
    if (current && current.content_hash === policyContentHash(canonicalJson(content))) {
      return {
        policy_id: doc.policy_id,
        status: "unchanged" as const,
        message: `Policy already registered with this content (version ${current.version})`,
        policy_version_id: current.id,
        policy_content_hash: current.content_hash,
        version: current.version,
      };
    }
    const registered = await insertVersion(tx, content, current);
    await insertChunks(tx, registered.policy_version_id, ownChunks);
    if (current) await copyChunks(tx, current.id, registered.policy_version_id, { sources: ["document"] });
    return registered;
  });
  if (ownChunks[0]) await ensureVectorIndex(sql, ownChunks[0].vector.length);
  return result;
}

/**
 * A policy document as registering it now would make it, without registering anything: the version
 * replay (POST /policies/{id}/replay) evaluates in place of the current one. Its conditions are
 * compiled (one that does not compile is a 400, as at registration) and its content hash is the one
 * registration would give it (documents attached to the current version carry over).
 */
export function candidatePolicy(doc: PolicyDocument, current: CurrentVersion | undefined): ActivePolicy {
  const content = versionContent(doc, current?.content.documents ?? []);
  return {
    policyId: doc.policy_id,
    versionId: "candidate",
    version: (current?.version ?? 0) + 1,
    contentHash: policyContentHash(canonicalJson(content)),
    doc: content,
    conditions: compileAll(doc),
  };
}

async function loadActive(sql: Sql): Promise<ActivePolicy[]> {
  const rows = await sql.query<{ policy_id: string; id: string; version: number; content: string; content_hash: string }>(
    `SELECT p.policy_id, v.id, v.version, v.content, v.content_hash
       FROM policies p JOIN policy_versions v ON v.id = p.current_version_id ORDER BY p.policy_id`,
  );
  // A retired policy never decides: it is not in the judge's list at all, so neither tool coverage
  // nor a context.policy_id naming it can make it apply (the judge answers policy_not_found).
  return rows.flatMap((r) => {
    const doc = JSON.parse(r.content) as StoredContent;
    if (isRetired(doc)) return [];
    return [{ policyId: r.policy_id, versionId: r.id, version: r.version, contentHash: r.content_hash, doc, conditions: compileAll(doc) }];
  });
}

/**
 * What the judge reads of a tenant's policies: the active versions, each policy's mode and the
 * tenant's own mode (policy-modes.ts), loaded together so one cache entry holds a consistent view.
 */
export interface TenantPolicies {
  policies: ActivePolicy[];
  /** Policies whose mode was set; a policy that is not here enforces. */
  modes: ReadonlyMap<string, PolicyMode>;
  tenant: TenantMode;
}

async function loadTenantPolicies(sql: Sql): Promise<TenantPolicies> {
  const [policies, modes, tenant] = await Promise.all([loadActive(sql), readPolicyModes(sql), readTenantMode(sql)]);
  return { policies, modes, tenant };
}

/**
 * Current policy versions per tenant, compiled once, with their modes. Registration and mode changes
 * in this process invalidate at once; other processes (other replicas, a judge service) see a new
 * version or mode within the TTL (VAULT_POLICY_CACHE_TTL_MS), as they always have for new versions.
 */
export class PolicyCache {
  private readonly cache: TtlCache<TenantPolicies>;

  constructor(clock: Clock, ttlMs: number) {
    this.cache = new TtlCache(clock, ttlMs);
  }

  active(tenantId: string, sql: Sql): Promise<ActivePolicy[]> {
    return this.snapshot(tenantId, sql).then((s) => s.policies);
  }

  /** The policies with their modes: what the judge decides with. */
  snapshot(tenantId: string, sql: Sql): Promise<TenantPolicies> {
    return this.cache.get(tenantId, () => loadTenantPolicies(sql));
  }

  /**
   * The view with its modes read again from the database, for a request a shadow mode would change
   * (src/judge/shadow.ts). A cached mode may be up to the TTL old in another process (a replica, the
   * judge service): a stale "enforce" only delays a switch to log-only, but a stale "shadow" would
   * keep a policy switched back to enforce (or a tenant switched back) disarmed: fail open. So a
   * shadow mode is honoured only as the database holds it now, and a switch back to enforce, or a new
   * shadow default, takes effect at once everywhere. A difference drops this process's entry.
   */
  async confirmModes(tenantId: string, sql: Sql, view: TenantPolicies): Promise<TenantPolicies> {
    const [modes, tenant] = await Promise.all([readPolicyModes(sql), readTenantMode(sql)]);
    const same =
      tenant.mode === view.tenant.mode &&
      tenant.shadow_default === view.tenant.shadow_default &&
      modes.size === view.modes.size &&
      [...modes].every(([id, mode]) => view.modes.get(id) === mode);
    if (!same) this.cache.invalidate(tenantId);
    return { ...view, modes, tenant };
  }

  invalidate(tenantId: string): void {
    this.cache.invalidate(tenantId);
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

