import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import type { JsonObject } from "../ledger/core/event-hash.js";
import type { LedgerWriter } from "../ledger/store/ledger-writer.js";
import type { ConditionRunner } from "../policies/condition-runner.js";
import { newId } from "../tenancy/ids.js";
import { checkConstraint, ConstraintError, evaluateConstraint } from "./constraint.js";
import type { CommittedGrantSpec } from "./grant-spec.js";
import { getGrant, insertGrant, listGrants, markRevoked, type Grant, type GrantApprover } from "./grant-store.js";
import { grantCursor, grantView, parseGrantCursor } from "./grant-views.js";

/** What a completed approval creates a grant from. */
export interface GrantSource {
  spec: CommittedGrantSpec & { scope: "session" | "window" };
  request: { id: string; tool_name: string; policy_id: string; agent_id: string; session_id: string; api_key_id: string; agent_signer: string | null };
  approvers: GrantApprover[];
}

/** The webhook port (src/outbox/ writes it; wired by the composition root). */
export type GrantWebhook = (tx: Sql, tenantId: string, type: "grant.revoked", data: Record<string, unknown>) => Promise<void>;

/**
 * Creates and revokes grants, each with its `vault.audit` ledger event in the same transaction (so
 * a grant that exists is in the ledger, and so is its end), and lists them. The audit details use
 * one lowercase word per key, as request evidence does: the Ledgix SDK camelCases keys before hashing.
 */
export class GrantService {
  constructor(
    private readonly deps: {
      ledger: LedgerWriter;
      clock: Clock;
      /** How long a session grant lasts at most (VAULT_GRANT_MAX_SESSION_HOURS). */
      maxSessionHours: number;
      webhook: GrantWebhook;
      /** The condition worker pool (shared with GrantMatcher); closed by close(). */
      conditions: ConditionRunner;
    },
  ) {}

  /**
   * Checks a vote's constraint before its grant exists: it must compile (400 invalid_constraint) and be
   * true on the arguments being approved (400 constraint_excludes_request; an evaluation that fails or
   * times out is refused the same way: a grant whose own approval it cannot confirm is not created).
   */
  async checkVoteConstraint(tenantId: string, expression: string, args: Record<string, unknown>): Promise<void> {
    try {
      checkConstraint(expression);
    } catch (err) {
      throw new AppError("invalid_constraint", err instanceof ConstraintError ? err.message : "the constraint does not compile");
    }
    const outcome = await evaluateConstraint(this.deps.conditions, expression, args, tenantId);
    if (outcome.kind === "false") throw new AppError("constraint_excludes_request", `The constraint is false on the arguments being approved: ${expression}`);
    if (outcome.kind === "failed") throw new AppError("constraint_excludes_request", `The constraint could not be evaluated on the arguments being approved (${outcome.detail})`);
  }

  /** Stops the constraint workers. */
  close(): Promise<void> {
    return this.deps.conditions.close();
  }

  /** A new grant id, known before the approval's ledger event names it. */
  newGrantId(): string {
    return newId("grt");
  }

  /** Inserts the grant and appends `grant.created`, inside the approval's transaction. */
  async create(tx: Sql, tenantId: string, id: string, source: GrantSource, actor: string): Promise<Grant> {
    const now = this.deps.clock.now();
    const minutes = source.spec.scope === "window" ? source.spec.window_minutes! : this.deps.maxSessionHours * 60;
    const { request, spec } = source;
    const grant: Omit<Grant, "created_event_uuid" | "revoked_at" | "revoked_by" | "revoke_reason" | "revoked_event_uuid"> = {
      id,
      scope: spec.scope,
      tool_name: request.tool_name,
      policy_id: request.policy_id,
      agent_id: request.agent_id,
      api_key_id: request.api_key_id,
      agent_signer: request.agent_signer,
      session_id: spec.scope === "session" ? request.session_id : null,
      window_minutes: spec.scope === "window" ? spec.window_minutes : null,
      arg_constraint: spec.constraint,
      starts_at: now,
      expires_at: new Date(now.getTime() + minutes * 60_000),
      source_request_id: request.id,
      approvers: source.approvers,
      created_at: now,
    };
    const details: JsonObject = {
      grant: id,
      scope: grant.scope,
      tool: grant.tool_name,
      policy: grant.policy_id,
      agent: grant.agent_id,
      key: grant.api_key_id,
      signer: grant.agent_signer,
      session: grant.session_id,
      minutes,
      constraint: grant.arg_constraint,
      starts: grant.starts_at.toISOString(),
      expires: grant.expires_at.toISOString(),
      request: request.id,
      approvers: source.approvers.map((a) => a.reviewer_id),
      passkeys: source.approvers.filter((a) => a.passkey).length,
    };
    const reason = `Grant ${id} (${grant.scope}) created by the approval of ${request.id}: ${grant.tool_name} for agent ${grant.agent_id} until ${details.expires}`;
    const event = await this.deps.ledger.prepareAudit({ action: "grant.created", subject_id: id, actor, policy_id: grant.policy_id, details, reason }, tenantId);
    const stored = { ...grant, created_event_uuid: event.event.event_uuid };
    await insertGrant(tx, stored);
    await this.deps.ledger.append(tx, event);
    return { ...stored, revoked_at: null, revoked_by: null, revoke_reason: null, revoked_event_uuid: null };
  }

  /** Revokes a grant at once: `grant.revoked` in the ledger and a `grant.revoked` webhook, in one transaction. */
  async revoke(sql: Sql, tenantId: string, id: string, actor: { id: string; name: string }, reason: string) {
    const now = this.deps.clock.now();
    const revoked = await sql.transaction(async (tx) => {
      const current = await getGrant(tx, id);
      if (!current) throw new AppError("grant_not_found", `No grant ${id}`);
      if (current.revoked_at) throw new AppError("grant_already_revoked", `Grant ${id} was revoked at ${current.revoked_at.toISOString()}`);
      const details: JsonObject = { grant: id, by: actor.id, reason, request: current.source_request_id };
      const sentence = `Grant ${id} revoked by ${actor.name}${reason ? `: ${reason}` : ""}`;
      const event = await this.deps.ledger.prepareAudit({ action: "grant.revoked", subject_id: id, actor: actor.id, policy_id: current.policy_id, details, reason: sentence }, tenantId);
      const done = await markRevoked(tx, id, { actor: actor.id, reason, at: now, eventUuid: event.event.event_uuid });
      // Revoked by a concurrent call between the read and the update: that one wrote the event.
      if (!done) throw new AppError("grant_already_revoked", `Grant ${id} was revoked meanwhile`);
      await this.deps.ledger.append(tx, event);
      await this.deps.webhook(tx, tenantId, "grant.revoked", { grant: grantView(done, now), revoked_by: actor.name });
      return done;
    });
    return grantView(revoked, now);
  }

  async show(sql: Sql, id: string) {
    const grant = await getGrant(sql, id);
    if (!grant) throw new AppError("grant_not_found", `No grant ${id}`);
    return grantView(grant, this.deps.clock.now());
  }

  async list(sql: Sql, q: { status: "active" | "all"; limit: number; cursor?: string }) {
    const after = q.cursor ? parseGrantCursor(q.cursor) : undefined;
    if (q.cursor && !after) throw new AppError("bad_request", "cursor is not one this listing gave");
    const now = this.deps.clock.now();
    const rows = await listGrants(sql, { active: q.status === "active", now, limit: q.limit + 1, after });
    const page = rows.slice(0, q.limit);
    return { grants: page.map((g) => grantView(g, now)), next_cursor: rows.length > q.limit ? grantCursor(page.at(-1)!) : null };
  }
}
