import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import type { AuditRecord } from "../ledger/core/audit-event.js";
import type { LedgerWriter } from "../ledger/store/ledger-writer.js";
import { listPolicyModes, lockPolicyMode, lockTenantMode, readPolicyMode, readTenantMode, savePolicyMode, saveTenantMode, type PolicyMode, type TenantMode } from "./policy-modes.js";
import type { RuleDecision } from "./policy-schema.js";
import { readCurrentVersion } from "./policy-store.js";

/**
 * Changes of a policy's or the tenant's mode (docs/shadow-mode.md). Switching to shadow is switching
 * a policy to log-only, a known way to disarm it without touching its content or hash, so each change
 * is made in one transaction with: the `vault.audit` ledger event that records it (policy.mode_changed
 * or tenant.mode_changed), the `policy.mode_changed` webhook and the Slack/email notification.
 * A PUT that changes nothing writes nothing (no event, no notification).
 * The event's details (its tool_args) use one-word keys, like every evidence chunk, so SDK verifiers
 * that camelCase the bodies hash them unchanged: {scope, from, to, default (the shadow default),
 * previous (the tenant's shadow default before)}.
 */

/** What a change announces: the webhook's data and the notification's facts. */
export interface ModeChange {
  scope: "policy" | "tenant";
  policy_id: string | null;
  from: PolicyMode;
  to: PolicyMode;
  /** The tenant's shadow default after the change, and before it. */
  shadow_default: RuleDecision;
  previous_shadow_default: RuleDecision;
  changed_by: string;
  changed_at: string;
  reason: string;
  ledger_event_uuid: string;
}

export interface PolicyModeView {
  policy_id: string;
  mode: PolicyMode;
  changed: boolean;
  changed_at: string | null;
  changed_by: string | null;
  /** The audit event of this change; null when nothing changed. */
  ledger_event_uuid: string | null;
}

export interface TenantModeView {
  mode: PolicyMode;
  shadow_default: RuleDecision;
  changed: boolean;
  changed_at: string | null;
  changed_by: string | null;
  ledger_event_uuid: string | null;
}

export class PolicyModeService {
  constructor(
    private readonly deps: {
      ledger: Pick<LedgerWriter, "prepareAudit" | "append">;
      clock: Clock;
      /** The webhook and the notification, written inside the change's transaction (the outbox's). */
      announce: (tx: Sql, tenantId: string, change: ModeChange) => Promise<void>;
      /** Drops this process's cached policies of the tenant once the change committed. */
      invalidate: (tenantId: string) => void;
    },
  ) {}

  async readPolicy(sql: Sql, policyId: string): Promise<PolicyModeView> {
    await this.existing(sql, policyId);
    const m = await readPolicyMode(sql, policyId);
    return { policy_id: policyId, mode: m.mode, changed: false, changed_at: iso(m.changed_at), changed_by: m.changed_by, ledger_event_uuid: null };
  }

  /** The tenant's mode and every policy whose mode was set (a policy not listed enforces). */
  async readAll(sql: Sql) {
    const [t, policies] = await Promise.all([readTenantMode(sql), listPolicyModes(sql)]);
    return {
      mode: t.mode,
      shadow_default: t.shadow_default,
      changed_at: iso(t.changed_at),
      changed_by: t.changed_by,
      policies: policies.map((p) => ({ policy_id: p.policy_id, mode: p.mode, changed_at: iso(p.changed_at), changed_by: p.changed_by })),
    };
  }

  async readTenant(sql: Sql): Promise<TenantModeView> {
    const t = await readTenantMode(sql);
    return { mode: t.mode, shadow_default: t.shadow_default, changed: false, changed_at: iso(t.changed_at), changed_by: t.changed_by, ledger_event_uuid: null };
  }

  async setPolicy(sql: Sql, tenantId: string, change: { policyId: string; mode: PolicyMode; actor: string; reason: string }): Promise<PolicyModeView> {
    await this.existing(sql, change.policyId);
    const now = this.deps.clock.now();
    const result = await sql.transaction(async (tx) => {
      const before = await lockPolicyMode(tx, change.policyId);
      if (before.mode === change.mode) return { ...before, changed: false, event: null };
      await savePolicyMode(tx, change.policyId, change.mode, now, change.actor);
      const tenant = await readTenantMode(tx);
      const sentence =
        `${change.actor} switched policy ${change.policyId} from ${before.mode} to ${change.mode}` +
        (change.mode === "shadow" ? " (log-only: its decisions are recorded, not enforced)" : "") +
        (change.reason ? `: ${change.reason}` : "");
      const event = await this.record(tx, tenantId, {
        action: "policy.mode_changed",
        subject_id: change.policyId,
        actor: change.actor,
        policy_id: change.policyId,
        details: { scope: "policy", from: before.mode, to: change.mode, default: tenant.shadow_default },
        reason: sentence,
      });
      await this.deps.announce(tx, tenantId, {
        scope: "policy",
        policy_id: change.policyId,
        from: before.mode,
        to: change.mode,
        shadow_default: tenant.shadow_default,
        previous_shadow_default: tenant.shadow_default,
        changed_by: change.actor,
        changed_at: now.toISOString(),
        reason: change.reason,
        ledger_event_uuid: event,
      });
      return { policy_id: change.policyId, mode: change.mode, changed_at: now, changed_by: change.actor, changed: true, event };
    });
    if (result.changed) this.deps.invalidate(tenantId);
    return { policy_id: change.policyId, mode: result.mode, changed: result.changed, changed_at: iso(result.changed_at), changed_by: result.changed_by, ledger_event_uuid: result.event };
  }

  /** `shadow_default` left out: the tenant's current one (read under the lock, so a concurrent change is not undone). */
  async setTenant(sql: Sql, tenantId: string, change: { mode: PolicyMode; shadow_default?: RuleDecision; actor: string; reason: string }): Promise<TenantModeView> {
    const now = this.deps.clock.now();
    const result = await sql.transaction(async (tx) => {
      const before: TenantMode = await lockTenantMode(tx);
      const next = { mode: change.mode, shadow_default: change.shadow_default ?? before.shadow_default };
      if (before.mode === next.mode && before.shadow_default === next.shadow_default) return { ...before, changed: false, event: null };
      await saveTenantMode(tx, next, now, change.actor);
      const sentence =
        `${change.actor} set the tenant's mode from ${before.mode} to ${next.mode} and its shadow default from ${before.shadow_default} to ${next.shadow_default}` +
        (next.mode === "shadow" ? " (log-only: every policy's decisions are recorded, not enforced)" : "") +
        (change.reason ? `: ${change.reason}` : "");
      const event = await this.record(tx, tenantId, {
        action: "tenant.mode_changed",
        subject_id: "tenant",
        actor: change.actor,
        details: { scope: "tenant", from: before.mode, to: next.mode, default: next.shadow_default, previous: before.shadow_default },
        reason: sentence,
      });
      await this.deps.announce(tx, tenantId, {
        scope: "tenant",
        policy_id: null,
        from: before.mode,
        to: next.mode,
        shadow_default: next.shadow_default,
        previous_shadow_default: before.shadow_default,
        changed_by: change.actor,
        changed_at: now.toISOString(),
        reason: change.reason,
        ledger_event_uuid: event,
      });
      return { ...next, changed_at: now, changed_by: change.actor, changed: true, event };
    });
    if (result.changed) this.deps.invalidate(tenantId);
    return { mode: result.mode, shadow_default: result.shadow_default, changed: result.changed, changed_at: iso(result.changed_at), changed_by: result.changed_by, ledger_event_uuid: result.event };
  }

  /** Appends the audit event in the caller's transaction; returns its event_uuid. */
  private async record(tx: Sql, tenantId: string, rec: AuditRecord): Promise<string> {
    const prepared = await this.deps.ledger.prepareAudit(rec, tenantId);
    await this.deps.ledger.append(tx, prepared);
    return prepared.event.event_uuid;
  }

  private async existing(sql: Sql, policyId: string): Promise<void> {
    if (!(await readCurrentVersion(sql, policyId))) throw new AppError("policy_not_found", `Policy ${policyId} is not registered`);
  }
}

const iso = (d: Date | null): string | null => (d ? new Date(d).toISOString() : null);
