import { randomUUID } from "node:crypto";
import type { Clock } from "../clock.js";
import { AppError } from "../errors.js";
import type { ClearanceClaims, TokenApproval, TokenSettings } from "./claims.js";
import type { KeyRegistry } from "./key-registry.js";
import type { Signer } from "./signer.js";
import { verifyToken } from "./token-verifier.js";

export type { ClearanceClaims, TokenApproval, TokenSettings } from "./claims.js";

export interface MintInput {
  tool: string;
  toolArgsHash: string;
  agentId: string;
  sessionId: string;
  policyId: string;
  requestId: string;
  tenantId: string;
  parentJti?: string | null;
  /** Passkey-signed approvals; the claim is omitted when there are none. */
  approvals?: readonly TokenApproval[];
}

/** Builds the claims of a new A-JWT: a fresh jti, exp = iat + TTL, and no nbf (the SDK allows no skew). */
export function newClaims(input: MintInput, settings: TokenSettings, clock: Clock): ClearanceClaims {
  const iat = Math.floor(clock.nowMs() / 1000);
  const claims: ClearanceClaims = {
    iss: settings.issuer,
    aud: settings.audience,
    sub: "clearance",
    iat,
    exp: iat + settings.ttlSeconds,
    jti: randomUUID(),
    tool: input.tool,
    tool_args_hash: input.toolArgsHash,
    agent_id: input.agentId,
    session_id: input.sessionId,
    policy_id: input.policyId,
    decision: "yes",
    request_id: input.requestId,
    tenant_id: input.tenantId,
  };
  if (input.parentJti) claims.parent_jti = input.parentJti;
  if (input.approvals && input.approvals.length > 0) claims.approvals = input.approvals.map((a) => ({ credential_id: a.credential_id, assertion_digest: a.assertion_digest }));
  return claims;
}

/**
 * Compact JWS (RFC 7515) over the exact claims text. Ed25519 signatures are deterministic, so the
 * same stored claims always yield the same token: the vault re-derives tokens instead of storing them.
 */
export async function signClaims(claimsJson: string, signer: Signer): Promise<string> {
  const header = Buffer.from(JSON.stringify({ alg: "EdDSA", kid: signer.kid, typ: "JWT" })).toString("base64url");
  const payload = Buffer.from(claimsJson, "utf8").toString("base64url");
  const signingInput = `${header}.${payload}`;
  return `${signingInput}.${Buffer.from(await signer.sign(Buffer.from(signingInput, "ascii"))).toString("base64url")}`;
}

/**
 * Verifies an A-JWT for a tenant (src/tokens/token-verifier.ts, the checks /verify/token answers
 * with), as an error: EdDSA only, a key the tenant's tokens may carry, iss/aud/sub/exp checked with no
 * skew past `exp` (the SDK allows none), and a token of another tenant refused as such.
 */
export async function verifyClearanceToken(
  token: string,
  keys: KeyRegistry,
  settings: TokenSettings,
  clock: Clock,
  tenantId?: string,
): Promise<ClearanceClaims> {
  const result = await verifyToken(token, { keys, settings, clock }, { callerTenantId: tenantId, expirySkewSeconds: 0, issuedSkewSeconds: CONSUME_ISSUED_SKEW_SECONDS });
  if (result.valid) return result.claims;
  if (result.code === "tenant_mismatch") throw new AppError("tenant_mismatch", "This token was issued to another tenant");
  if (result.code === "expired") throw new AppError("token_expired", "Token has expired");
  throw new AppError("token_invalid", `Token rejected (${result.code}): ${result.reason}`);
}

/** A token minted by another vault process whose clock runs slightly ahead is still accepted. */
const CONSUME_ISSUED_SKEW_SECONDS = 30;
