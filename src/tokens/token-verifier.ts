import { createPublicKey, verify as verifySignature } from "node:crypto";
import type { Clock } from "../clock.js";
import type { ClearanceClaims, TokenSettings } from "./claims.js";
import { argsMatchHash } from "./canonical-json.js";
import { KID_PATTERN, type KeyRegistry, type StoredKey } from "./key-registry.js";

/** Stable reasons a token is refused, in the order they are checked (docs/tokens.md). */
export const VERIFY_CODES = [
  "malformed",
  "alg_unsupported",
  "tenant_mismatch",
  "unknown_kid",
  "kid_mismatch",
  "public_key_mismatch",
  "invalid_signature",
  "claims_invalid",
  "expired",
  "not_yet_valid",
  "ttl_too_long",
  "binding_mismatch",
  // Answered by POST /verify/token after every check passed: the tenant never stored this jti.
  "not_issued",
] as const;
export type VerifyCode = (typeof VERIFY_CODES)[number];

export interface TokenHeaderView {
  alg?: string;
  kid?: string;
  typ?: string;
}

export type VerifyResult =
  | { valid: true; code: null; reason: null; header: TokenHeaderView; claims: ClearanceClaims & Record<string, unknown>; key: StoredKey }
  | { valid: false; code: VerifyCode; reason: string; header: TokenHeaderView | null; claims: null };

export interface VerifyExpectations {
  /** The tenant asking: only its tokens are examined, with only the keys its tokens may carry. */
  callerTenantId?: string;
  expectedTenantId?: string;
  expectedKid?: string;
  /** A caller's copy of the key: it must be the registered key's SPKI; it never replaces the lookup. */
  publicKeyPem?: string;
  expectedTool?: string;
  /** Wrapped so that `null` arguments can be expected too. */
  expectedToolArgs?: { value: unknown };
  expectedToolArgsHash?: string;
  maxTokenTtlSeconds?: number;
  /** Tolerance past `exp`. */
  expirySkewSeconds: number;
  /** Tolerance for an `iat` (or `nbf`) ahead of this vault's clock. */
  issuedSkewSeconds: number;
}

export interface VerifierDeps {
  keys: KeyRegistry;
  settings: Pick<TokenSettings, "issuer" | "audience">;
  clock: Clock;
}

const MAX_TOKEN_CHARS = 16 * 1024;
/** How far past a tenant's first own key a vault-level key's token may be issued (clocks of vault processes differ). */
const VAULT_KEY_SKEW_SECONDS = 30;
/** iat and exp are whole seconds within this of the epoch (±3000 years): anything else is no time the vault writes. */
const MAX_TIME_SECONDS = 1e11;
const B64URL = /^[A-Za-z0-9_-]*$/;

/**
 * Verifies an A-JWT and says why not, with no side effect: /verify/token answers the result and
 * /consume-token (src/requests/consume-service.ts) maps it to its errors, so both agree. The checks
 * run in VERIFY_CODES order and stop at the first failure; a token of another tenant is refused
 * before its key is looked up, so the answer says nothing about its signature.
 */
export async function verifyToken(token: string, deps: VerifierDeps, expect: VerifyExpectations): Promise<VerifyResult> {
  const fail = (code: VerifyCode, reason: string, header: TokenHeaderView | null = null): VerifyResult => ({ valid: false, code, reason, header, claims: null });
  if (token.length > MAX_TOKEN_CHARS) return fail("malformed", `token is longer than ${MAX_TOKEN_CHARS} characters`);
  const parts = token.split(".");
  if (parts.length !== 3 || !parts.every((p) => B64URL.test(p))) return fail("malformed", "not a compact JWS (three base64url segments)");
  const [h, p, s] = parts as [string, string, string];
  const rawHeader = jsonObject(h);
  if (!rawHeader) return fail("malformed", "the header is not a JSON object");
  const header = headerView(rawHeader);
  if (rawHeader.alg !== "EdDSA") return fail("alg_unsupported", `alg ${JSON.stringify(rawHeader.alg ?? null)} is not accepted; tokens are EdDSA (Ed25519)`, header);
  if (typeof rawHeader.kid !== "string" || rawHeader.kid === "") return fail("malformed", "the header has no kid", header);
  // Checked before any lookup: a NUL or a megabyte of kid never reaches the database.
  if (!KID_PATTERN.test(rawHeader.kid)) return fail("malformed", "the kid is not of the form the vault issues ([A-Za-z0-9._:-], at most 200 characters)", header);
  if (rawHeader.typ !== undefined && rawHeader.typ !== "JWT") return fail("malformed", `typ ${JSON.stringify(rawHeader.typ)} is not JWT`, header);
  if (rawHeader.crit !== undefined || rawHeader.b64 !== undefined) return fail("malformed", "crit and b64 header parameters are not supported", header);
  const payload = jsonObject(p);
  if (!payload) return fail("malformed", "the payload is not a JSON object", header);
  const tenant = payload.tenant_id;
  if (typeof tenant !== "string") return fail("malformed", "the payload has no tenant_id claim", header);

  const { callerTenantId, expectedTenantId } = expect;
  if (expectedTenantId !== undefined && callerTenantId !== undefined && expectedTenantId !== callerTenantId) {
    return fail("tenant_mismatch", "expected_tenant_id is not the tenant of the API key", header);
  }
  if ((callerTenantId !== undefined && tenant !== callerTenantId) || (expectedTenantId !== undefined && tenant !== expectedTenantId)) {
    return fail("tenant_mismatch", "the token was issued to another tenant", header);
  }

  const usable = (k: StoredKey | undefined): k is StoredKey =>
    k !== undefined && k.purpose === "token" && (k.tenant_id === null || k.tenant_id === tenant) && deps.keys.isPublished(k) && vaultKeyMaySign(k);
  // A vault-level token key signs a tenant's tokens only from before the tenant's first own key (plus
  // skew): after that, it is not a key that tenant's tokens may carry (as /tenants/{id}/keys/public lists).
  const vaultKeyMaySign = (k: StoredKey): boolean => {
    if (k.tenant_id !== null) return true;
    const until = deps.keys.vaultKeyValidUntil(k, tenant);
    if (until === undefined) return true;
    return typeof payload.iat === "number" && payload.iat <= Math.floor(until.getTime() / 1000) + VAULT_KEY_SKEW_SECONDS;
  };
  if (expect.expectedKid !== undefined) {
    if (!usable(await deps.keys.lookup(expect.expectedKid))) return fail("unknown_kid", `expected_kid ${expect.expectedKid} is not a published token key of this tenant`, header);
    if (expect.expectedKid !== rawHeader.kid) return fail("kid_mismatch", `the token's kid is ${rawHeader.kid}, not ${expect.expectedKid}`, header);
  }
  const key = await deps.keys.lookup(rawHeader.kid);
  if (!usable(key)) return fail("unknown_kid", `kid ${rawHeader.kid} is not a published token key of this tenant`, header);
  const publicKey = deps.keys.publicKey(key);
  if (expect.publicKeyPem !== undefined) {
    let given: Buffer;
    try {
      given = createPublicKey(expect.publicKeyPem).export({ format: "der", type: "spki" });
    } catch {
      return fail("public_key_mismatch", "public_key_pem is not a readable public key", header);
    }
    if (!given.equals(publicKey.export({ format: "der", type: "spki" }))) return fail("public_key_mismatch", `public_key_pem is not the registered key of ${key.kid}`, header);
  }
  const signature = Buffer.from(s, "base64url");
  if (signature.length !== 64 || !verifySignature(null, Buffer.from(`${h}.${p}`, "ascii"), publicKey, signature)) {
    return fail("invalid_signature", "the signature does not verify with the key of its kid", header);
  }

  const claimsProblem = checkClaims(payload, deps.settings);
  if (claimsProblem) return fail("claims_invalid", claimsProblem, header);
  const claims = payload as unknown as ClearanceClaims & Record<string, unknown>;
  const now = Math.floor(deps.clock.nowMs() / 1000);
  if (now >= claims.exp + expect.expirySkewSeconds) return fail("expired", `the token expired at ${new Date(claims.exp * 1000).toISOString()}`, header);
  const nbf = typeof payload.nbf === "number" ? payload.nbf : undefined;
  if (claims.iat > now + expect.issuedSkewSeconds || (nbf !== undefined && nbf > now + expect.issuedSkewSeconds)) {
    return fail("not_yet_valid", "the token is issued in the future (beyond the allowed clock skew)", header);
  }
  if (expect.maxTokenTtlSeconds !== undefined && claims.exp - claims.iat > expect.maxTokenTtlSeconds) {
    return fail("ttl_too_long", `the token lives ${claims.exp - claims.iat} s, more than ${expect.maxTokenTtlSeconds} s`, header);
  }
  if (expect.expectedTool !== undefined && expect.expectedTool !== claims.tool) return fail("binding_mismatch", `the token is for tool ${claims.tool}`, header);
  if (expect.expectedToolArgs !== undefined && !argsMatchHash(expect.expectedToolArgs.value, claims.tool_args_hash)) {
    return fail("binding_mismatch", "the arguments do not match the ones this token approved", header);
  }
  if (expect.expectedToolArgsHash !== undefined && expect.expectedToolArgsHash.toLowerCase() !== claims.tool_args_hash) {
    return fail("binding_mismatch", "expected_tool_args_hash is not the token's tool_args_hash", header);
  }
  return { valid: true, code: null, reason: null, header, claims, key };
}

function checkClaims(c: Record<string, unknown>, settings: VerifierDeps["settings"]): string | undefined {
  if (c.iss !== settings.issuer) return "unexpected iss";
  const aud = c.aud;
  if (!(aud === settings.audience || (Array.isArray(aud) && aud.includes(settings.audience)))) return "unexpected aud";
  if (c.sub !== "clearance") return "sub is not clearance";
  for (const name of ["jti", "tool", "tool_args_hash", "request_id", "tenant_id"]) {
    if (typeof c[name] !== "string" || c[name] === "") return `the ${name} claim is missing or not a string`;
  }
  for (const name of ["iat", "exp"]) {
    const t = c[name];
    if (typeof t !== "number" || !Number.isInteger(t) || Math.abs(t) > MAX_TIME_SECONDS) return `the ${name} claim is missing or not a whole number of seconds within ±10^11`;
  }
  if ((c.exp as number) <= (c.iat as number)) return "exp is not after iat";
  if (c.decision !== "yes") return "decision is not yes";
  return undefined;
}

function jsonObject(segment: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(segment, "base64url").toString("utf8"));
    return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function headerView(raw: Record<string, unknown>): TokenHeaderView {
  const view: TokenHeaderView = {};
  for (const name of ["alg", "kid", "typ"] as const) if (typeof raw[name] === "string") view[name] = raw[name];
  return view;
}
