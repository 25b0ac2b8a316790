/**
 * Assertions shared by the bad-input suite (test/integration/bad-input/*.test.ts).
 *
 * The rule under test: every error is RFC 9457 problem+json with a stable `code` from the catalog,
 * bad input always gets a 4xx, never a 5xx or a crash, and unknown fields are ignored only where the protocol asks (§6.11).
 */
import { expect } from "vitest";
import { errorCatalog, type ErrorCode } from "../../../src/errors.js";
import type { HttpResult } from "../../helpers/vault.js";

/**
 * Every response one test file received, for that file's final "no 5xx" check. Each file makes
 * its own recorder, so the check covers exactly the responses of that file's vault.
 */
export class ResponseStatusRecorder {
  readonly seen: { label: string; status: number }[] = [];

  record<T extends HttpResult>(label: string, res: T): T {
    this.seen.push({ label, status: res.status });
    return res;
  }

  /** The recorded responses that were a 5xx, or no response at all (status 0 from a raw exchange). */
  serverErrors(): { label: string; status: number }[] {
    return this.seen.filter((s) => s.status >= 500 || s.status === 0);
  }
}

/** An RFC 9457 problem with this status and (optionally) this code from the closed catalog. */
export function expectProblem(res: HttpResult, status: number, code?: ErrorCode): void {
  const where = `${res.status} ${typeof res.body === "string" ? res.body.slice(0, 300) : JSON.stringify(res.body).slice(0, 300)}`;
  expect(res.status, where).toBe(status);
  expect(res.headers.get("content-type") ?? "", where).toMatch(/^application\/problem\+json/);
  expect(typeof res.body, where).toBe("object");
  expect(res.body.status, where).toBe(status);
  expect(typeof res.body.code, where).toBe("string");
  expect(typeof res.body.title, where).toBe("string");
  expect(typeof res.body.detail, where).toBe("string");
  expect(res.body.detail.length, where).toBeGreaterThan(0);
  if (code !== undefined) expect(res.body.code, where).toBe(code);
  // A stable code: one of the catalog's, with the catalog's status and title.
  const entry = errorCatalog[res.body.code as ErrorCode];
  expect(entry, `code ${res.body.code} is not in the error catalog`).toBeDefined();
  expect(entry?.status, where).toBe(status);
  expect(res.body.title, where).toBe(entry?.title);
}

/** Some 4xx problem (the exact status is a design choice), never a 5xx. */
export function expectClientProblem(res: HttpResult, allowed: number[] = []): void {
  expect(res.status, `expected a 4xx, got ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`).toBeGreaterThanOrEqual(400);
  expect(res.status, `expected a 4xx, got ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`).toBeLessThan(500);
  if (allowed.length > 0) expect(allowed).toContain(res.status);
  expectProblem(res, res.status);
}

/** Accepted (2xx) or refused with a 4xx problem: either is fine, a 5xx is not. */
export function expectHandled(res: HttpResult): void {
  if (res.status >= 200 && res.status < 300) return;
  expectClientProblem(res);
}

/** A validation problem whose `errors` name this field. */
export function expectFieldError(res: HttpResult, field: string): void {
  expectProblem(res, 400, "validation_failed");
  const paths = (res.body.errors as { path: string }[]).map((e) => e.path);
  expect(paths.some((p) => p === field || p.startsWith(`${field}.`)), `errors ${JSON.stringify(paths)} should name ${field}`).toBe(true);
}
