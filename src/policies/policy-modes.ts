import type { Sql } from "../db/sql.js";
import { decisions, type PolicyWarning, type RuleDecision } from "./policy-schema.js";

/**
 * Shadow mode (issue 17; migrations/tenant/0015_shadow_mode.sql). A policy in `shadow` mode is
 * evaluated on every request it applies to and its would-be decision is recorded, but it does not
 * decide; a tenant in `shadow` mode has every policy in shadow. When only shadow policies apply to a
 * request, the tenant's `shadow_default` answers it ("review" unless changed: fail closed).
 * Modes are not part of the policy document: switching one changes no version and no content hash.
 */
export const policyModes = ["enforce", "shadow"] as const;
export type PolicyMode = (typeof policyModes)[number];
export const shadowDefaults = decisions;

export interface TenantMode {
  mode: PolicyMode;
  shadow_default: RuleDecision;
  /** When and by whom it was last changed; null while it was never set. */
  changed_at: Date | null;
  changed_by: string | null;
}

export const DEFAULT_TENANT_MODE: TenantMode = { mode: "enforce", shadow_default: "review", changed_at: null, changed_by: null };

export interface PolicyModeRecord {
  policy_id: string;
  mode: PolicyMode;
  changed_at: Date | null;
  changed_by: string | null;
}

/** Every policy's mode that was ever set (a policy without a row enforces). */
export async function readPolicyModes(sql: Sql): Promise<Map<string, PolicyMode>> {
  const rows = await sql.query<{ policy_id: string; mode: PolicyMode }>("SELECT policy_id, mode FROM policy_modes");
  return new Map(rows.map((r) => [r.policy_id, r.mode]));
}

/** Every policy whose mode was ever set, with who set it, ordered by policy id. */
export async function listPolicyModes(sql: Sql): Promise<PolicyModeRecord[]> {
  return sql.query<PolicyModeRecord>("SELECT policy_id, mode, changed_at, changed_by FROM policy_modes ORDER BY policy_id");
}

export async function readPolicyMode(sql: Sql, policyId: string): Promise<PolicyModeRecord> {
  const [row] = await sql.query<PolicyModeRecord>("SELECT policy_id, mode, changed_at, changed_by FROM policy_modes WHERE policy_id = $1", [policyId]);
  return row ?? { policy_id: policyId, mode: "enforce", changed_at: null, changed_by: null };
}

export async function readTenantMode(sql: Sql): Promise<TenantMode> {
  const [row] = await sql.query<TenantMode>("SELECT mode, shadow_default, changed_at, changed_by FROM tenant_mode WHERE id = 1");
  return row ?? DEFAULT_TENANT_MODE;
}

/**
 * A policy's mode, locked until the caller's transaction ends: writers of the same policy's mode are
 * serialised (the row may not exist yet, so a row lock cannot do it), so the `from` of two concurrent
 * changes, and of their audit events, is exact.
 */
export async function lockPolicyMode(tx: Sql, policyId: string): Promise<PolicyModeRecord> {
  await tx.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`policy-mode:${policyId}`]);
  return readPolicyMode(tx, policyId);
}

/** Sets a policy's mode; the caller holds lockPolicyMode. */
export async function savePolicyMode(tx: Sql, policyId: string, mode: PolicyMode, at: Date, by: string): Promise<void> {
  await tx.query(
    `INSERT INTO policy_modes (policy_id, mode, changed_at, changed_by) VALUES ($1, $2, $3, $4)
     ON CONFLICT (policy_id) DO UPDATE SET mode = EXCLUDED.mode, changed_at = EXCLUDED.changed_at, changed_by = EXCLUDED.changed_by`,
    [policyId, mode, at, by],
  );
}

/** The tenant's mode, locked until the caller's transaction ends (as lockPolicyMode). */
export async function lockTenantMode(tx: Sql): Promise<TenantMode> {
  await tx.query("SELECT pg_advisory_xact_lock(hashtext('tenant-mode'))");
  return readTenantMode(tx);
}

/** Sets the tenant's mode and shadow default; the caller holds lockTenantMode. */
export async function saveTenantMode(tx: Sql, next: { mode: PolicyMode; shadow_default: RuleDecision }, at: Date, by: string): Promise<void> {
  await tx.query(
    `INSERT INTO tenant_mode (id, mode, shadow_default, changed_at, changed_by) VALUES (1, $1, $2, $3, $4)
     ON CONFLICT (id) DO UPDATE SET mode = EXCLUDED.mode, shadow_default = EXCLUDED.shadow_default, changed_at = EXCLUDED.changed_at, changed_by = EXCLUDED.changed_by`,
    [next.mode, next.shadow_default, at, by],
  );
}

/**
 * The registration answer's warning when the registered policy will not decide: a mode belongs to the
 * policy id, not to a version, so a new version (or a retired policy registered again) keeps the
 * shadow mode it had. Said in the answer, so whoever registers it is not silently left with a policy
 * that only logs.
 */
export async function modeWarnings(sql: Sql, policyId: string): Promise<PolicyWarning[]> {
  const [policy, tenant] = await Promise.all([readPolicyMode(sql, policyId), readTenantMode(sql)]);
  if (policy.mode !== "shadow" && tenant.mode !== "shadow") return [];
  const who = tenant.mode === "shadow" ? "The tenant is" : `Policy ${policyId} is`;
  return [
    {
      code: "shadow_mode",
      message: `${who} in shadow mode (log-only): this version is evaluated and recorded but does not decide; requests only it applies to get the shadow default (${tenant.shadow_default}). Switch it with PUT ${tenant.mode === "shadow" ? "/policy-mode" : `/policies/${policyId}/mode`} {"mode":"enforce"}.`,
    },
  ];
}
