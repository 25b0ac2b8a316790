import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { newClaims, signClaims, type TokenSettings } from "../tokens/a-jwt.js";
import type { Signer } from "../tokens/signer.js";
import type { ClearanceRequest } from "./clearance-request.js";
import { insertToken, tokenForRequest, type IssuedToken } from "./store/token-store.js";

/** Issues the one A-JWT of an approved request, inside the caller's decision transaction. */
export class TokenIssuer {
  constructor(
    private readonly signer: Signer,
    private readonly settings: TokenSettings,
    private readonly clock: Clock,
  ) {}

  async issue(tx: Sql, row: ClearanceRequest, tenantId: string): Promise<IssuedToken> {
    const token = this.prepare(row, tenantId);
    await insertToken(tx, token);
    return token;
  }

  /** The token row for an approval, not yet stored (the caller inserts it with its decision). */
  prepare(row: ClearanceRequest, tenantId: string): IssuedToken {
    const claims = newClaims(
      {
        tool: row.tool_name,
        toolArgsHash: row.tool_args_hash,
        agentId: row.agent_id,
        sessionId: row.session_id,
        policyId: row.policy_id ?? "",
        requestId: row.id,
        tenantId,
        parentJti: row.parent_jti,
      },
      this.settings,
      this.clock,
    );
    return {
      jti: claims.jti,
      request_id: row.id,
      kid: this.signer.kid,
      claims: JSON.stringify(claims),
      issued_at: new Date(claims.iat * 1000),
      expires_at: new Date(claims.exp * 1000),
      consumed_at: null,
      consumed_by: null,
    };
  }

  /** The compact token for stored claims; the same string on every read while the key is unchanged. */
  render(token: IssuedToken): Promise<string> {
    return signClaims(token.claims, this.signer);
  }

  async forRequest(sql: Sql, row: ClearanceRequest): Promise<{ token: string; expiresAt: Date } | null> {
    if (row.status !== "approved") return null;
    const stored = await tokenForRequest(sql, row.id);
    return stored ? { token: await this.render(stored), expiresAt: stored.expires_at } : null;
  }
}
