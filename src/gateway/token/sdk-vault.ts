import { boundedFetch } from "../../http-client/bounded-fetch.js";
import {
  AuthenticationError,
  CountersignError,
  Countersign,
  NotFoundError,
  TokenAlreadyConsumedError,
  TokenVerificationError,
  VaultUnavailableError,
} from "../../sdk/index.js";
import { toolArgsHash } from "../../tokens/canonical-json.js";
import type { GatewayConfig } from "../../config/gateway-config.js";
import { ReportRefusedError, type ExecutionOutcome } from "./execution-reporter.js";
import { GatewayError, type GatewayCode } from "./problems.js";
import type { TokenVault, VerifiedToken } from "./token-vault.js";

/**
 * The TokenVault port over the first-party SDK (src/sdk): offline verification with its JWKS cache
 * (one refetch on an unknown kid, at most every 10 s), consume and the execution report. The SDK's
 * typed errors become the codes the gateway answers with; anything that is not a clear refusal of
 * the token is the vault being unavailable, and the gateway fails closed (503, nothing forwarded).
 */
export class SdkVault implements TokenVault {
  private readonly client: Countersign;
  private jwksSeen = false;

  constructor(private readonly config: GatewayConfig) {
    const { vault } = config.file;
    this.client = new Countersign({ baseUrl: vault.url, apiKey: config.apiKey, timeoutMs: vault.timeout_ms, issuer: vault.issuer, audience: vault.audience });
  }

  async verify(token: string): Promise<VerifiedToken> {
    try {
      const claims = await this.client.verifyToken(token);
      this.jwksSeen = true;
      return claims;
    } catch (err) {
      throw refusal(err);
    }
  }

  /**
   * The vault's own hash (src/tokens/canonical-json.ts), the one tool_args_hash is minted with:
   * synchronous node:crypto, where the SDK's portable one goes through WebCrypto's async jobs, which
   * cost more than the hashing itself on this hot path. Both are RFC 8785 + SHA-256 (a test checks
   * they agree).
   */
  async argsHash(args: Record<string, unknown>): Promise<string> {
    return toolArgsHash(args);
  }

  async consume(token: string, tool: string, args: Record<string, unknown>): Promise<string> {
    try {
      return (await this.client.consume(token, { tool, args })).jti;
    } catch (err) {
      throw refusal(err);
    }
  }

  async report(jti: string, outcome: ExecutionOutcome): Promise<void> {
    try {
      await this.client.reportExecution(jti, {
        status: outcome.status,
        outcome: outcome.outcome,
        durationMs: outcome.duration_ms,
        ...(outcome.response_sha256 ? { responseSha256: outcome.response_sha256 } : {}),
        ...(outcome.detail ? { detail: outcome.detail } : {}),
      });
    } catch (err) {
      // A 4xx is the vault's considered answer (no such burn, a different report already stored): final.
      if (err instanceof CountersignError && !(err instanceof VaultUnavailableError) && err.status !== undefined && err.status < 500 && err.status !== 429) {
        throw new ReportRefusedError(`the vault refused the report: ${err.code}`);
      }
      throw err;
    }
  }

  /** Ready when the vault answers with a JWKS holding at least one key (what verification needs). */
  async unready(): Promise<string | null> {
    try {
      const res = await boundedFetch(`${this.config.file.vault.url.replace(/\/+$/, "")}/.well-known/jwks.json`, { method: "GET" }, { timeoutMs: this.config.file.vault.timeout_ms, maxResponseBytes: 1024 * 1024 });
      if (res.status !== 200) return `the vault's JWKS answered HTTP ${res.status}`;
      const body = (await res.json()) as { keys?: unknown[] };
      if (!Array.isArray(body.keys) || body.keys.length === 0) return "the vault's JWKS has no keys";
      this.jwksSeen = true;
      return null;
    } catch (err) {
      // Not the error's own text: /readyz is public, and that text can name internal addresses.
      return err instanceof Error && err.name === "TimeoutError" ? "the vault did not answer in time" : "the vault cannot be reached";
    }
  }

  get jwksFetched(): boolean {
    return this.jwksSeen;
  }
}

const TOKEN_CODES: Record<string, GatewayCode> = {
  malformed: "token_invalid",
  invalid_signature: "token_invalid",
  unknown_kid: "token_invalid",
  invalid_claims: "token_invalid",
  not_yet_valid: "token_invalid",
  expired: "token_expired",
  binding_mismatch: "token_binding_mismatch",
  tenant_mismatch: "tenant_mismatch",
};

/**
 * An SDK error as the gateway's answer. A 503's detail is fixed text: the SDK's message can name the
 * vault's address or a socket error; it stays in the log (the error's `cause`, server.ts).
 */
export function refusal(err: unknown): GatewayError {
  if (err instanceof GatewayError) return err;
  return Object.assign(answerFor(err), { cause: err });
}

function answerFor(err: unknown): GatewayError {
  if (err instanceof TokenVerificationError) {
    const code = TOKEN_CODES[err.code];
    if (code) return new GatewayError(code, err.message);
    return new GatewayError("vault_unavailable", "the token cannot be checked: the vault's keys cannot be fetched; nothing was forwarded");
  }
  if (err instanceof TokenAlreadyConsumedError) return new GatewayError("token_already_consumed", "this token was already used; an approval runs once");
  if (err instanceof NotFoundError) return new GatewayError("token_not_found", "the vault never issued this token to the gateway's tenant");
  if (err instanceof AuthenticationError) return new GatewayError("gateway_key_rejected", "the vault refused the gateway's API key (it needs agent or admin scope)");
  if (err instanceof CountersignError && !(err instanceof VaultUnavailableError) && err.status !== undefined && err.status < 500) {
    return new GatewayError("vault_unavailable", `the vault refused the burn (${err.code}); nothing was forwarded`);
  }
  return new GatewayError("vault_unavailable", "the vault could not burn the token; nothing was forwarded");
}
