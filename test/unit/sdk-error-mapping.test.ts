import { describe, expect, it } from "vitest";
import { errorCatalog } from "../../src/errors.js";
import { errorFor } from "../../src/sdk/http.js";
import {
  AuthenticationError,
  BadRequestError,
  ConflictError,
  CountersignError,
  NotFoundError,
  RateLimitedError,
  TokenVerificationError,
  VaultUnavailableError,
  WebhookReplayGuard,
} from "../../src/sdk/index.js";

/**
 * Every problem code the vault can answer (src/errors.ts errorCatalog) becomes a specific typed SDK
 * error, never the bare CountersignError, and keeps its code (the token refusals map to the
 * TokenVerificationError codes). A code added to the catalog is covered by this test automatically.
 */
const TOKEN_CODES: Record<string, string> = {
  token_invalid: "invalid_signature",
  token_expired: "expired",
  token_binding_mismatch: "binding_mismatch",
  tenant_mismatch: "tenant_mismatch",
};

function expectedClass(code: string, status: number) {
  if (code in TOKEN_CODES) return TokenVerificationError;
  if (status >= 500 || status === 408) return VaultUnavailableError;
  if (code === "token_already_consumed" || code === "approval_not_reusable") return undefined; // their own classes, checked below
  if (status === 401 || status === 403) return AuthenticationError;
  if (status === 404) return NotFoundError;
  if (status === 409) return ConflictError;
  if (status === 429) return RateLimitedError;
  return BadRequestError;
}

describe("SDK error mapping", () => {
  const entries = Object.entries(errorCatalog as Record<string, { status: number }>);

  it.each(entries)("%s maps to a typed error with its code", (code, { status }) => {
    const res = new Response(null, { status, headers: { "retry-after": "3" } });
    const err = errorFor("POST", "/x", res, { type: `urn:countersign:error:${code}`, title: code, status, detail: "d", code });
    expect(err).toBeInstanceOf(CountersignError);
    expect(err.constructor).not.toBe(CountersignError);
    expect(err.status).toBe(status);
    expect(err.code).toBe(TOKEN_CODES[code] ?? code);
    const cls = expectedClass(code, status);
    if (cls) expect(err).toBeInstanceOf(cls);
    if (status === 429) expect((err as RateLimitedError).retryAfterSeconds).toBe(3);
  });

  it("a 408 is the vault unavailable (fail closed, retry-safe), not the caller's bad request", () => {
    expect(errorFor("GET", "/x", new Response(null, { status: 408 }), { code: "request_timeout" })).toBeInstanceOf(VaultUnavailableError);
  });

  it("a body that is not a problem still gives a typed error with an http_<status> code", () => {
    for (const body of [undefined, null, "text", [1], { code: 5 }]) {
      const err = errorFor("GET", "/x", new Response(null, { status: 418 }), body);
      expect(err).toBeInstanceOf(BadRequestError);
      expect(err.code).toBe("http_418");
    }
  });

  it("a replay guard that would remember nothing is refused", () => {
    expect(() => new WebhookReplayGuard(0)).toThrow(expect.objectContaining({ code: "invalid_options" }));
    expect(() => new WebhookReplayGuard(Number.NaN)).toThrow(CountersignError);
    expect(() => new WebhookReplayGuard(10)).not.toThrow();
  });
});
