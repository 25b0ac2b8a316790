import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import type { Principal } from "../tenancy/api-keys.js";
import { verifyClearanceToken, type TokenSettings } from "../tokens/a-jwt.js";
import { argsMatchHash } from "../tokens/canonical-json.js";
import type { KeyRegistry } from "../tokens/key-registry.js";
import type { RequestLifecycle } from "./lifecycle.js";
import type { ConsumeTokenBody } from "./request-schema.js";
import { getRequest } from "./store/request-store.js";
import { getToken } from "./store/token-store.js";

/**
 * /consume-token: verify the A-JWT, check its binding to the tool and arguments, then burn its jti.
 * Nothing is burned unless every check passed; the burn (with its ledger event and webhook) goes
 * through the lifecycle, group-committed with other burns of the tenant, and is one conditional
 * UPDATE: exactly one of any number of concurrent consumers wins.
 */
export class ConsumeService {
  constructor(
    private readonly deps: {
      keys: KeyRegistry;
      settings: TokenSettings;
      lifecycle: RequestLifecycle;
      clock: Clock;
    },
  ) {}

  /** `sql` is the principal's tenant database. */
  async consume(sql: Sql, principal: Principal, body: ConsumeTokenBody) {
    // Only keys this tenant's tokens may carry verify it (its own and the vault-level token keys); a
    // token of another tenant is refused as such before its signature is looked at.
    const claims = await verifyClearanceToken(body.token, this.deps.keys, this.deps.settings, this.deps.clock, principal.tenantId);
    if (body.tool_name !== undefined && body.tool_name !== claims.tool) {
      throw new AppError("token_binding_mismatch", `Token is for tool ${claims.tool}, not ${body.tool_name}`);
    }
    if (body.tool_args !== undefined) {
      // Accept the arguments as approved, or in the caller's original key spelling the SDK snake_cased.
      if (!argsMatchHash(body.tool_args, claims.tool_args_hash)) throw new AppError("token_binding_mismatch", "tool_args do not match the arguments this token approved");
    }
    const now = this.deps.clock.now();
    // An approved request never changes again, so reading it before the burn is safe.
    const approvedRequest = await getRequest(sql, claims.request_id);
    if (!approvedRequest) throw new AppError("token_not_found", "This tenant never issued a token with this jti");
    const { lifecycle } = this.deps;
    const burn = { jti: claims.jti, consumedBy: principal.keyId, at: now };
    const ledger = await lifecycle.consumedEvent(principal.tenantId, approvedRequest, claims.jti, principal.keyId);
    // Keyed by jti: two burns of one token in a batch run in turn, and the second finds it burned.
    const burned = await lifecycle.commit(sql, claims.jti, (tx) => lifecycle.consume(tx, principal.tenantId, approvedRequest, burn, ledger));
    if (!burned) {
      const known = await getToken(sql, claims.jti);
      if (!known) throw new AppError("token_not_found", "This tenant never issued a token with this jti");
      throw new AppError("token_already_consumed", `Token ${claims.jti} was already consumed at ${known.consumed_at?.toISOString()}`);
    }
    return {
      consumed: true,
      jti: claims.jti,
      request_id: claims.request_id,
      tool: claims.tool,
      tool_args_hash: claims.tool_args_hash,
      agent_id: claims.agent_id,
      tenant_id: claims.tenant_id,
      consumed_at: now.toISOString(),
    };
  }
}
