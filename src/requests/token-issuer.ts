import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { newClaims, signClaims, type TokenApproval, type TokenSettings } from "../tokens/a-jwt.js";
import type { TenantTokenKeys } from "../tokens/tenant-token-keys.js";
import type { ClearanceRequest } from "./clearance-request.js";
import { insertToken, tokenForRequest, type IssuedToken } from "./store/token-store.js";

/**
 * Rendered tokens kept per process: a token is read again by its client (status polls, idempotent
 * replays), and with a remote key (KMS) each render is a paid, rate-limited call shared by every
 * tenant. Ed25519 is deterministic, so a kept token is the one a new signature would give. Bounded:
 * past it the oldest are dropped, and a read of one of those signs again.
 */
const RENDERED_TOKENS_KEPT = 20_000;

export interface IssueOptions {
  approvals?: readonly TokenApproval[];
}

/** Issues the one A-JWT of an approved request, inside the caller's decision transaction. */
export class TokenIssuer {
  private readonly rendered = new Map<string, { token: string; expiresAtMs: number }>();

  constructor(
    /** Each tenant's token key (src/tokens/tenant-token-keys.ts); the vault key itself with a KMS backend. */
    private readonly keys: TenantTokenKeys,
    private readonly settings: TokenSettings,
    private readonly clock: Clock,
  ) {}

  /** `options.approvals`: the passkey-signed approvals the token names (its `approvals` claim). */
  async issue(tx: Sql, row: ClearanceRequest, tenantId: string, options: IssueOptions = {}): Promise<IssuedToken> {
    const token = this.prepare(row, tenantId, options);
    await insertToken(tx, token);
    return token;
  }

  /** Stores a token prepared (and rendered) before the transaction. */
  async store(tx: Sql, token: IssuedToken): Promise<void> {
    await insertToken(tx, token);
  }

  /** The token row for an approval, not yet stored (the caller inserts it with its decision). */
  prepare(row: ClearanceRequest, tenantId: string, options: IssueOptions = {}): IssuedToken {
    const claims = newClaims(
      {
        tool: row.tool_name,
        // Edit-on-approve: the token is for the arguments the reviewers approved, not those requested.
        toolArgsHash: row.approved_tool_args_hash ?? row.tool_args_hash,
        agentId: row.agent_id,
        sessionId: row.session_id,
        policyId: row.policy_id ?? "",
        requestId: row.id,
        tenantId,
        parentJti: row.parent_jti,
        approvals: options.approvals,
      },
      this.settings,
      this.clock,
    );
    return {
      jti: claims.jti,
      request_id: row.id,
      kid: this.keys.currentKid(tenantId),
      claims: JSON.stringify(claims),
      issued_at: new Date(claims.iat * 1000),
      expires_at: new Date(claims.exp * 1000),
      consumed_at: null,
      consumed_by: null,
    };
  }

  /**
   * The compact token for stored claims; the same string on every read (signed by the key its row names).
   * Rendered before a decision commits, so a key that cannot sign fails the decision, not a later read.
   */
  async render(token: IssuedToken): Promise<string> {
    const kept = this.rendered.get(token.jti);
    if (kept) {
      if (kept.expiresAtMs > this.clock.nowMs()) return kept.token;
      this.rendered.delete(token.jti);
    }
    // The key of the row's kid, not necessarily the current one: a token issued before a rotation
    // re-renders to the same string. The kid is published before the first signature with it.
    const tenantId = (JSON.parse(token.claims) as { tenant_id: string }).tenant_id;
    const compact = await signClaims(token.claims, await this.keys.signerFor(token.kid, tenantId, token.expires_at));
    if (this.rendered.size >= RENDERED_TOKENS_KEPT) this.rendered.delete(this.rendered.keys().next().value!);
    this.rendered.set(token.jti, { token: compact, expiresAtMs: token.expires_at.getTime() });
    return compact;
  }

  async forRequest(sql: Sql, row: ClearanceRequest): Promise<{ token: string; expiresAt: Date } | null> {
    if (row.status !== "approved") return null;
    const stored = await tokenForRequest(sql, row.id);
    return stored ? { token: await this.render(stored), expiresAt: stored.expires_at } : null;
  }
}
