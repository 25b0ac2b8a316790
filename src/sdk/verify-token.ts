import { decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload } from "jose";
import { argsHash } from "./canonical-json.js";
import { CountersignError, TokenVerificationError } from "./errors.js";
import type { JwksCache } from "./jwks.js";
import type { TokenClaims, VerifyTokenOptions } from "./types.js";

const STRING_CLAIMS = ["jti", "tool", "tool_args_hash", "request_id", "tenant_id"] as const;

/**
 * Offline A-JWT verification: EdDSA only, the key by kid from the cached JWKS, iss/aud/sub/exp
 * (with `clockSkewSeconds`, default 30), then the caller's expectations: tenant, tool, arguments.
 */
export async function verifyClearanceToken(
  token: string,
  jwks: JwksCache,
  settings: { issuer: string; audience: string; now: () => number },
  options: VerifyTokenOptions = {},
): Promise<TokenClaims> {
  if (typeof token !== "string" || token.split(".").length !== 3) throw new TokenVerificationError("malformed", "Token is not a compact JWS");
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    throw new TokenVerificationError("malformed", "Token header is not valid base64url JSON");
  }
  if (header.alg !== "EdDSA") throw new TokenVerificationError("invalid_signature", `Token alg ${JSON.stringify(header.alg)} is not EdDSA`);
  if (typeof header.kid !== "string" || header.kid === "") throw new TokenVerificationError("malformed", "Token header has no kid");
  const { key, tenantId: keyTenant } = await jwks.key(header.kid);
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, key, {
      algorithms: ["EdDSA"],
      issuer: settings.issuer,
      audience: settings.audience,
      subject: "clearance",
      requiredClaims: ["exp", "iat", "jti"],
      clockTolerance: options.clockSkewSeconds ?? 30,
      currentDate: new Date(settings.now()),
    }));
  } catch (err) {
    throw mapJoseError(err);
  }
  for (const claim of STRING_CLAIMS) {
    if (typeof payload[claim] !== "string") throw new TokenVerificationError("invalid_claims", `Token lacks the ${claim} claim`);
  }
  const claims = { ...(payload as unknown as TokenClaims), kid: header.kid };
  // A tenant's key signs only its own tenant's tokens: a leaked key of one tenant forges nothing for another.
  if (keyTenant !== undefined && claims.tenant_id !== keyTenant) {
    throw new TokenVerificationError("tenant_mismatch", `Token claims tenant ${claims.tenant_id} but kid ${header.kid} is tenant ${keyTenant}'s key`);
  }
  if (options.tenantId !== undefined && claims.tenant_id !== options.tenantId) {
    throw new TokenVerificationError("tenant_mismatch", `Token is for tenant ${claims.tenant_id}, not ${options.tenantId}`);
  }
  if (options.tool !== undefined && claims.tool !== options.tool) {
    throw new TokenVerificationError("binding_mismatch", `Token is for tool ${claims.tool}, not ${options.tool}`);
  }
  if (options.argsHash !== undefined && claims.tool_args_hash !== options.argsHash) {
    throw new TokenVerificationError("binding_mismatch", "argsHash does not match the arguments this token approved");
  }
  if (options.args !== undefined && claims.tool_args_hash !== (await argsHash(options.args))) {
    throw new TokenVerificationError("binding_mismatch", "args do not match the arguments this token approved");
  }
  return claims;
}

function mapJoseError(err: unknown): CountersignError {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof joseErrors.JWTExpired) return new TokenVerificationError("expired", "Token has expired");
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return new TokenVerificationError("invalid_signature", "Token signature does not verify");
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    const code = err.claim === "iat" || err.claim === "nbf" ? "not_yet_valid" : "invalid_claims";
    return new TokenVerificationError(code, `Token claim ${err.claim} rejected: ${message}`);
  }
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid) return new TokenVerificationError("malformed", `Token rejected: ${message}`);
  return new TokenVerificationError("invalid_signature", `Token rejected: ${message}`, { cause: err });
}
