import { randomUUID } from "node:crypto";
import { decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload } from "jose";
import type { Clock } from "../clock.js";
import { AppError } from "../errors.js";
import type { KeyRegistry } from "./key-registry.js";
import type { Signer } from "./signer.js";

export interface ClearanceClaims {
  iss: string;
  aud: string;
  sub: "clearance";
  iat: number;
  exp: number;
  jti: string;
  tool: string;
  tool_args_hash: string;
  agent_id: string;
  session_id: string;
  policy_id: string;
  decision: "yes";
  request_id: string;
  tenant_id: string;
  parent_jti?: string;
}

export interface TokenSettings {
  issuer: string;
  audience: string;
  ttlSeconds: number;
}

export interface MintInput {
  tool: string;
  toolArgsHash: string;
  agentId: string;
  sessionId: string;
  policyId: string;
  requestId: string;
  tenantId: string;
  parentJti?: string | null;
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

/** Verifies an A-JWT: algorithm pinned to EdDSA, key from the registry by kid, iss/aud/sub/exp checked. */
export async function verifyClearanceToken(
  token: string,
  keys: KeyRegistry,
  settings: TokenSettings,
  clock: Clock,
): Promise<ClearanceClaims> {
  let kid: string | undefined;
  try {
    kid = decodeProtectedHeader(token).kid;
  } catch {
    throw new AppError("token_invalid", "Token is not a compact JWS");
  }
  const key = await keys.verificationKey(kid);
  if (!key) throw new AppError("token_invalid", `Token kid ${JSON.stringify(kid ?? null)} is not a key of this vault`);
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, key, {
      algorithms: ["EdDSA"],
      issuer: settings.issuer,
      audience: settings.audience,
      subject: "clearance",
      requiredClaims: ["exp", "jti"],
      currentDate: clock.now(),
    }));
  } catch (err) {
    if (err instanceof joseErrors.JWTExpired) throw new AppError("token_expired", "Token has expired");
    throw new AppError("token_invalid", `Token rejected: ${err instanceof Error ? err.message : "invalid"}`);
  }
  for (const claim of ["jti", "tool", "tool_args_hash", "request_id", "tenant_id"] as const) {
    if (typeof payload[claim] !== "string") throw new AppError("token_invalid", `Token lacks the ${claim} claim`);
  }
  return payload as unknown as ClearanceClaims;
}
