import type { ExecutionOutcome } from "./execution-reporter.js";

/** The claims the gateway reads from a verified A-JWT. */
export interface VerifiedToken {
  jti: string;
  tool: string;
  tool_args_hash: string;
  tenant_id: string;
  request_id: string;
}

/**
 * What the gateway needs from the vault, as a port: the SDK implements it (sdk-vault.ts). Every
 * method throws a GatewayError with the code the client should see; `report` throws
 * ReportRefusedError when retrying cannot help.
 */
export interface TokenVault {
  /** Offline: signature against the cached JWKS (refetched on an unknown kid), iss, aud, sub, exp. */
  verify(token: string): Promise<VerifiedToken>;
  /** RFC 8785 canonical JSON, SHA-256, lowercase hex: the token's tool_args_hash of `args`. */
  argsHash(args: Record<string, unknown>): Promise<string>;
  /** POST /consume-token: burns the jti once, after the vault's own binding check; resolves to the jti the vault says it burned. */
  consume(token: string, tool: string, args: Record<string, unknown>): Promise<string>;
  /** POST /tokens/{jti}/execution. */
  report(jti: string, outcome: ExecutionOutcome): Promise<void>;
  /** Null when the JWKS has been fetched and the vault answers; otherwise why not. */
  unready(): Promise<string | null>;
}
