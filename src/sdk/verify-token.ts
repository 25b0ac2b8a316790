import { decodeProtectedHeader, errors as joseErrors, jwtVerify, type JWTPayload } from "jose";
import { argsHash } from "./canonical-json.js";
import { BadRequestError, CountersignError, TokenVerificationError } from "./errors.js";
import type { JwksCache } from "./jwks.js";
import type { TokenClaims, VerifyTokenOptions } from "./types.js";

const STRING_CLAIMS = ["jti", "tool", "tool_args_hash", "request_id", "tenant_id"] as const;
/** An A-JWT is about 1 KiB; anything near this is not one, and is refused before any decoding or hashing. */
const MAX_TOKEN_CHARS = 64 * 1024;

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
  if (typeof token !== "string" || token.length > MAX_TOKEN_CHARS || token.split(".").length !== 3) throw new TokenVerificationError("malformed", "Token is not a compact JWS (of at most 64 KiB)");
  let header: ReturnType<typeof decodeProtectedHeader>;
  try {
    header = decodeProtectedHeader(token);
  } catch {
    throw new TokenVerificationError("malformed", "Token header is not valid base64url JSON");
  }
  if (header.alg !== "EdDSA") throw new TokenVerificationError("invalid_signature", `Token alg ${JSON.stringify(header.alg)} is not EdDSA`);
  if (typeof header.kid !== "string" || header.kid === "") throw new TokenVerificationError("malformed", "Token header has no kid");
  const skew = options.clockSkewSeconds ?? 30;
  // NaN or a negative skew would reach jose as a TypeError (or silently disable the expiry check).
  if (!(Number.isFinite(skew) && skew >= 0)) throw new BadRequestError("invalid_input", "verifyToken: clockSkewSeconds must be a finite number >= 0");
  const expectedArgsHash = options.args === undefined ? undefined : await hashOf(options.args);
  const { key, tenantId: keyTenant } = await jwks.key(header.kid);
  let payload: JWTPayload;
  try {
    ({ payload } = await jwtVerify(token, key, {
      algorithms: ["EdDSA"],
      issuer: settings.issuer,
      audience: settings.audience,
      subject: "clearance",
      requiredClaims: ["exp", "iat", "jti"],
      clockTolerance: skew,
      currentDate: new Date(settings.now()),
    }));
  } catch (err) {
    throw mapJoseError(err);
  }
  // jose checks only that iat is a number: a token issued in the future (a signer with a wrong clock,
  // or one minted to outlive its window) is refused here, with the same skew as exp.
  if ((payload.iat as number) > settings.now() / 1000 + skew) throw new TokenVerificationError("not_yet_valid", "Token iat is in the future");
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
  if (expectedArgsHash !== undefined && claims.tool_args_hash !== expectedArgsHash) {
    throw new TokenVerificationError("binding_mismatch", "args do not match the arguments this token approved");
  }
  return claims;
}

async function hashOf(args: unknown): Promise<string> {
  try {
    return await argsHash(args);
  } catch (err) {
    throw new BadRequestError("invalid_input", `verifyToken: args have no JSON form: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

function mapJoseError(err: unknown): CountersignError {
  const message = err instanceof Error ? err.message : String(err);
  if (err instanceof joseErrors.JWTExpired) return new TokenVerificationError("expired", "Token has expired");
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return new TokenVerificationError("invalid_signature", "Token signature does not verify");
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    // A missing or non-numeric iat is a malformed token, not one that is merely early.
    const code = (err.claim === "iat" || err.claim === "nbf") && err.reason === "check_failed" ? "not_yet_valid" : "invalid_claims";
    return new TokenVerificationError(code, `Token claim ${err.claim} rejected: ${message}`);
  }
  if (err instanceof joseErrors.JWSInvalid || err instanceof joseErrors.JWTInvalid) return new TokenVerificationError("malformed", `Token rejected: ${message}`);
  return new TokenVerificationError("invalid_signature", `Token rejected: ${message}`, { cause: err });
}
