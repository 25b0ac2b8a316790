import { BadRequestError, CountersignError, DecisionTimeoutError } from "./errors.js";
import { send, sleep, type Transport } from "./http.js";
import { JwksCache } from "./jwks.js";
import {
  mapClearance,
  OPEN_STATUSES,
  type CancelResult,
  type Clearance,
  type ClearanceInput,
  type ConsumeResult,
  type DecisionWaitOptions,
  type ExecutionInput,
  type ExecutionReport,
  type TokenClaims,
  type VerifyTokenOptions,
  type WaitOptions,
} from "./types.js";
import { verifyClearanceToken } from "./verify-token.js";
import { guardTool, type GuardOptions } from "./guard.js";
import { verifyBundleWith, type BundleKeys, type BundleReport, type VerifyBundleOptions } from "./bundle.js";

export interface CountersignOptions {
  /** The vault's URL, e.g. https://vault.example.com (a path prefix is kept). */
  baseUrl: string;
  /** An API key (sent as X-Vault-API-Key). */
  apiKey: string;
  /** A fetch implementation; the platform's by default. */
  fetch?: typeof fetch;
  /** Time limit of each call, in ms (default 30 000); a long poll gets its wait on top. */
  timeoutMs?: number;
  /** Expected `iss` of tokens (default the vault's default, "alcv-vault"). */
  issuer?: string;
  /** Expected `aud` of tokens (default "ledgix-sdk"). */
  audience?: string;
  /** How long the JWKS is cached, in ms (default 300 000). */
  jwksMaxAgeMs?: number;
  /** The clock for token expiry and the JWKS cache, in ms since the epoch (default Date.now). */
  now?: () => number;
}

const MAX_WAIT_SECONDS = 60;
/** Long polls that come back open faster than this are spaced out (doubling up to MAX_POLL_BACKOFF_MS). */
const MIN_POLL_INTERVAL_MS = 500;
const MAX_POLL_BACKOFF_MS = 5_000;
const waitParam = (seconds: number | undefined) => (Number.isFinite(seconds) ? Math.max(0, Math.min(MAX_WAIT_SECONDS, Math.floor(seconds!))) : 0);
const isAbsoluteUrl = (text: string) => {
  try {
    return Boolean(new URL(text));
  } catch {
    return false;
  }
};
const isOpen = (c: Clearance) => OPEN_STATUSES.includes(c.status);
const enc = encodeURIComponent;

/** Per-call options of the calls that do not wait. */
export interface CallOptions {
  signal?: AbortSignal;
}

/**
 * The Countersign client: clearance requests (long-polled, never slept on), cancel, burn, execution
 * reports, and offline token verification. Uses only fetch and WebCrypto, so it runs in Node 20+ and
 * edge runtimes. Every failure is a CountersignError subclass; a denial is a clearance with status
 * `denied`, not an error (guard() turns it into ClearanceDeniedError).
 */
export class Countersign {
  private readonly transport: Transport;
  private readonly jwks: JwksCache;
  private readonly tokenSettings: { issuer: string; audience: string; now: () => number };

  constructor(options: CountersignOptions) {
    if (typeof options?.baseUrl !== "string" || !isAbsoluteUrl(options.baseUrl)) throw new CountersignError("invalid_options", "Countersign: baseUrl must be an absolute URL");
    if (options.apiKey !== undefined && typeof options.apiKey !== "string") throw new CountersignError("invalid_options", "Countersign: apiKey must be a string");
    for (const name of ["timeoutMs", "jwksMaxAgeMs"] as const) {
      const value = options[name];
      // NaN here would make every call time out at once (or the JWKS never expire): refuse it up front.
      if (value !== undefined && !(typeof value === "number" && Number.isFinite(value) && value > 0)) {
        throw new CountersignError("invalid_options", `Countersign: ${name} must be a positive number`);
      }
    }
    // Late-bound: a platform fetch installed or wrapped after construction is still the one used.
    const fetchImpl: typeof fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.transport = { baseUrl: options.baseUrl, apiKey: options.apiKey ?? "", fetch: fetchImpl, timeoutMs: options.timeoutMs ?? 30_000 };
    const now = options.now ?? (() => Date.now());
    this.jwks = new JwksCache(this.transport, options.jwksMaxAgeMs ?? 300_000, now);
    this.tokenSettings = { issuer: options.issuer ?? "alcv-vault", audience: options.audience ?? "ledgix-sdk", now };
  }

  /**
   * Asks for a decision. With `waitSeconds`, an undecided request is long-polled until it is final or
   * the time is up; the clearance is returned either way (check `status`).
   */
  async requestClearance(input: ClearanceInput, options: WaitOptions = {}): Promise<Clearance> {
    if (typeof input?.tool !== "string" || input.tool === "") throw new BadRequestError("invalid_input", "requestClearance: tool must be a non-empty string");
    // Checked before the request exists: a NaN wait found after the POST would leave an open request behind an error.
    if (options.waitSeconds !== undefined && !(Number.isFinite(options.waitSeconds) && options.waitSeconds >= 0)) {
      throw new BadRequestError("invalid_input", "requestClearance: waitSeconds must be a finite number >= 0");
    }
    const body: Record<string, unknown> = { tool_name: input.tool, tool_args: input.args ?? {}, agent_id: input.agentId };
    if (input.sessionId !== undefined) body.session_id = input.sessionId;
    if (input.context !== undefined) body.context = input.context;
    if (input.humanPrincipal !== undefined) body.human_principal = input.humanPrincipal;
    if (input.parentJti !== undefined) body.parent_jti = input.parentJti;
    const headers = { "idempotency-key": input.idempotencyKey ?? globalThis.crypto.randomUUID() };
    const answer = await send<Record<string, unknown>>(this.transport, "POST", "/request-clearance", { body, headers, signal: options.signal });
    const clearance = mapClearance(answer.body, answer.status);
    const waitSeconds = options.waitSeconds ?? 0;
    if (!isOpen(clearance) || waitSeconds <= 0) return clearance;
    try {
      return await this.waitForDecision(clearance.requestId, { timeoutSeconds: waitSeconds, signal: options.signal });
    } catch (err) {
      if (err instanceof DecisionTimeoutError) return this.clearanceStatus(clearance.requestId, { signal: options.signal });
      throw err;
    }
  }

  /** The request as it stands; with `waitSeconds` (0-60) the vault holds an open answer until its status changes. */
  async clearanceStatus(requestId: string, options: WaitOptions = {}): Promise<Clearance> {
    const wait = waitParam(options.waitSeconds);
    const answer = await send<Record<string, unknown>>(this.transport, "GET", `/clearance-status/${enc(requestId)}?wait=${wait}`, {
      signal: options.signal,
      extraTimeoutMs: wait * 1000,
    });
    return mapClearance(answer.body, answer.status);
  }

  /**
   * Long polls until the request is final (approved or denied), reporting each open state (processing,
   * then pending_review) to `onProgress`. DecisionTimeoutError after `timeoutSeconds`.
   */
  async waitForDecision(requestId: string, options: DecisionWaitOptions): Promise<Clearance> {
    if (typeof options?.timeoutSeconds !== "number" || !Number.isFinite(options.timeoutSeconds) || options.timeoutSeconds < 0) {
      throw new BadRequestError("invalid_input", "waitForDecision: timeoutSeconds must be a finite number >= 0");
    }
    const deadline = Date.now() + options.timeoutSeconds * 1000;
    let last = "processing";
    let quickPolls = 0;
    for (;;) {
      const leftSeconds = Math.ceil((deadline - Date.now()) / 1000);
      if (leftSeconds <= 0) throw new DecisionTimeoutError(requestId, last);
      const started = Date.now();
      const clearance = await this.clearanceStatus(requestId, { waitSeconds: Math.min(MAX_WAIT_SECONDS, leftSeconds), signal: options.signal });
      if (!isOpen(clearance)) return clearance;
      last = clearance.status;
      options.onProgress?.(clearance);
      // A vault that honours ?wait= holds an open answer, so a quick open answer is a status change
      // (processing -> pending_review) or a server (or proxy) that ignores the wait: then back off, or
      // this loop would hammer the vault. Never past the deadline; an abort ends the pause at once.
      const elapsed = Date.now() - started;
      quickPolls = elapsed < MIN_POLL_INTERVAL_MS ? quickPolls + 1 : 0;
      if (quickPolls > 0) {
        const pause = Math.min(MAX_POLL_BACKOFF_MS, MIN_POLL_INTERVAL_MS * 2 ** (quickPolls - 1)) - elapsed;
        await sleep(Math.min(pause, deadline - Date.now()), options.signal);
      }
    }
  }

  /**
   * Withdraws an open request. The outcome says what happened: `cancelled`, `already_decided` (it was
   * final before the cancel arrived; `clearance` shows how), or `not_found`.
   */
  async cancel(requestId: string, options: CallOptions = {}): Promise<CancelResult> {
    try {
      const answer = await send<Record<string, unknown>>(this.transport, "POST", `/reviews/${enc(requestId)}/decision`, {
        body: { approved: false, review_reason: "cancelled by agent" },
        signal: options.signal,
      });
      return { outcome: "cancelled", clearance: mapClearance(answer.body, answer.status) };
    } catch (err) {
      if (err instanceof CountersignError && err.code === "request_not_pending") {
        return { outcome: "already_decided", clearance: await this.clearanceStatus(requestId, { signal: options.signal }) };
      }
      if (err instanceof CountersignError && err.code === "request_not_found") return { outcome: "not_found" };
      throw err;
    }
  }

  /**
   * Burns the token at the vault (once; a second time is TokenAlreadyConsumedError). With `tool` and
   * `args`, the vault also checks the token is for this tool and these exact arguments.
   */
  async consume(token: string, expect: { tool?: string; args?: Record<string, unknown> } = {}, options: CallOptions = {}): Promise<ConsumeResult> {
    if (typeof token !== "string" || token === "") throw new BadRequestError("invalid_input", "consume: token must be a non-empty string");
    const body: Record<string, unknown> = { token };
    if (expect.tool !== undefined) body.tool_name = expect.tool;
    if (expect.args !== undefined) body.tool_args = expect.args;
    const { body: r } = await send<Record<string, unknown>>(this.transport, "POST", "/consume-token", { body, signal: options.signal });
    if (r.consumed !== true || typeof r.jti !== "string") throw new CountersignError("invalid_response", "The vault's consume answer has no jti");
    return {
      consumed: true,
      jti: r.jti,
      requestId: String(r.request_id),
      tool: String(r.tool),
      toolArgsHash: String(r.tool_args_hash),
      agentId: String(r.agent_id),
      tenantId: String(r.tenant_id),
      consumedAt: String(r.consumed_at),
    };
  }

  /**
   * A fresh token for an earlier approval (the vault's /mint-token). A 409 is ApprovalNotReusableError:
   * the approval no longer holds, ask for a fresh clearance instead of retrying.
   */
  async mintToken(original: Clearance, input: { tool: string; args?: Record<string, unknown>; agentId: string; sessionId?: string }, options: CallOptions = {}): Promise<Clearance> {
    const raw = original.raw;
    const text = (k: string) => (typeof raw[k] === "string" ? (raw[k] as string) : "");
    const body = {
      tool_name: input.tool,
      tool_args: input.args ?? {},
      agent_id: input.agentId,
      session_id: input.sessionId ?? "",
      policy_id: text("policy_id"),
      policy_version_id: text("policy_version_id"),
      policy_content_hash: text("policy_content_hash"),
      original_request_id: original.requestId,
    };
    const headers = { "idempotency-key": globalThis.crypto.randomUUID() };
    const answer = await send<Record<string, unknown>>(this.transport, "POST", "/mint-token", { body, headers, signal: options.signal });
    return mapClearance({ ...answer.body, reason_code: null }, answer.status);
  }

  /** Reports how the action a burned token allowed ended (POST /tokens/{jti}/execution). Idempotent. */
  async reportExecution(jti: string, report: ExecutionInput, options: CallOptions = {}): Promise<ExecutionReport> {
    if (typeof jti !== "string" || jti === "") throw new BadRequestError("invalid_input", "reportExecution: jti must be a non-empty string");
    if (typeof report?.durationMs !== "number" || !Number.isFinite(report.durationMs)) throw new BadRequestError("invalid_input", "reportExecution: durationMs must be a finite number");
    const body: Record<string, unknown> = { status: report.status, duration_ms: Math.max(0, Math.round(report.durationMs)) };
    if (report.outcome !== undefined) body.outcome = report.outcome;
    if (report.responseSha256 !== undefined) body.response_sha256 = report.responseSha256;
    if (report.detail !== undefined) body.detail = report.detail;
    const { body: r } = await send<Record<string, unknown>>(this.transport, "POST", `/tokens/${enc(jti)}/execution`, { body, signal: options.signal });
    return { jti: typeof r.jti === "string" ? r.jti : jti, replayed: r.replayed === true, raw: r };
  }

  /** Verifies an A-JWT offline against the vault's cached JWKS, then the caller's expectations. */
  verifyToken(token: string, options: VerifyTokenOptions = {}): Promise<TokenClaims> {
    return verifyClearanceToken(token, this.jwks, this.tokenSettings, options);
  }

  /**
   * Verifies a proof bundle offline (see verifyBundleWith). Keys: the ones given (`jwks`, `key` or
   * `bundleKeys`), else the vault's current JWKS, fetched for the purpose: the checks themselves
   * never call the vault. Resolves with the report (check `ok`), whatever the bundle holds.
   */
  async verifyBundle(bundle: unknown, options: VerifyBundleOptions & BundleKeys = {}): Promise<BundleReport> {
    const { jwks, key, bundleKeys, ...rest } = options;
    if (jwks !== undefined || key !== undefined || bundleKeys) return verifyBundleWith(bundle, { jwks, key, bundleKeys }, rest);
    const { body } = await send<Record<string, unknown>>(this.transport, "GET", "/.well-known/jwks.json");
    return verifyBundleWith(bundle, { jwks: body }, rest);
  }

  /**
   * Wraps `fn` so that each call asks for clearance, burns the token bound to the exact arguments,
   * runs `fn`, and reports the execution (outcome `error` and the error rethrown if `fn` throws).
   */
  guard<A extends Record<string, unknown>, R>(toolName: string, fn: (args: A) => R | Promise<R>, options: GuardOptions): (args: A) => Promise<Awaited<R>> {
    return guardTool(this, toolName, fn, options);
  }
}

