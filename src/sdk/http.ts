import { readBoundedBody } from "./bounded-body.js";
import {
  ApprovalNotReusableError,
  AuthenticationError,
  BadRequestError,
  ConflictError,
  CountersignError,
  NotFoundError,
  RateLimitedError,
  TokenAlreadyConsumedError,
  TokenVerificationError,
  VaultUnavailableError,
} from "./errors.js";

/** How the client reaches the vault. `fetch` is the platform's unless the caller injects one. */
export interface Transport {
  baseUrl: string;
  apiKey: string;
  fetch: typeof fetch;
  timeoutMs: number;
}

export interface SendOptions {
  body?: unknown;
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Extra time on top of the transport timeout (a long poll's own wait). */
  extraTimeoutMs?: number;
}

export interface VaultAnswer<T> {
  status: number;
  body: T;
  headers: Headers;
}

/** Answers larger than this are refused: no vault answer comes near it, a hostile endpoint could. */
const MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

export function joinUrl(baseUrl: string, path: string): string {
  return `${baseUrl.replace(/\/+$/, "")}${path}`;
}

/**
 * One HTTP exchange with the vault: JSON in, JSON out, a time limit, no redirects (a redirect would
 * re-send the API key elsewhere), a size limit, and every failure mapped to a typed error. No
 * retries: each caller decides (a retried clearance without an Idempotency-Key would be a new one).
 */
export async function send<T>(t: Transport, method: string, path: string, options: SendOptions = {}): Promise<VaultAnswer<T>> {
  // Serialised before the exchange: arguments that have no JSON form (a BigInt, a cycle) are the
  // caller's bad input, not the vault being down.
  let payload: string | undefined;
  try {
    payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  } catch (err) {
    throw new BadRequestError("invalid_input", `${method} ${path}: the request body has no JSON form: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  if (options.signal?.aborted) throw options.signal.reason;
  const timeoutMs = t.timeoutMs + (options.extraTimeoutMs ?? 0);
  const timeout = AbortSignal.timeout(timeoutMs);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;
  const headers: Record<string, string> = { accept: "application/json, application/problem+json", ...options.headers };
  if (t.apiKey) headers["x-vault-api-key"] = t.apiKey;
  if (options.body !== undefined) headers["content-type"] = "application/json";
  let res: Response;
  let text: string;
  try {
    res = await t.fetch(joinUrl(t.baseUrl, path), {
      method,
      headers,
      body: payload,
      redirect: "manual",
      signal,
    });
    text = await readBounded(res);
  } catch (err) {
    if (options.signal?.aborted) throw options.signal.reason ?? err;
    if (err instanceof CountersignError) throw err;
    const what = timeout.aborted ? `timed out after ${timeoutMs} ms` : `unreachable: ${err instanceof Error ? err.message : String(err)}`;
    throw new VaultUnavailableError("vault_unavailable", `Vault ${method} ${path} ${what}`, { cause: err });
  }
  // Node hands back the 3xx itself under "manual"; browsers and edge runtimes an opaque redirect (status 0).
  if ((res.status >= 300 && res.status < 400) || res.type === "opaqueredirect") {
    throw new VaultUnavailableError("vault_redirect", `Vault ${method} ${path} answered a redirect (${res.status}); redirects are not followed`, { status: res.status });
  }
  const body = parseJson(text);
  if (res.status >= 200 && res.status < 300) {
    if (body === undefined || body === null || typeof body !== "object") {
      throw new VaultUnavailableError("invalid_response", `Vault ${method} ${path} answered ${res.status} without a JSON object`, { status: res.status });
    }
    return { status: res.status, body: body as T, headers: res.headers };
  }
  throw errorFor(method, path, res, body);
}

/** Resolves after `ms` (at once if <= 0); rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(signal.reason);
  if (!(ms > 0)) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal!.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

async function readBounded(res: Response): Promise<string> {
  const bytes = await readBoundedBody(res, MAX_RESPONSE_BYTES);
  if (!bytes) throw new VaultUnavailableError("invalid_response", `Vault answer exceeds ${MAX_RESPONSE_BYTES} bytes`, { status: res.status });
  return new TextDecoder().decode(bytes);
}

function parseJson(text: string): unknown {
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Maps a non-2xx answer to the most specific typed error, keeping the problem+json `code`. */
export function errorFor(method: string, path: string, res: Response, body: unknown): CountersignError {
  const problem = body !== null && typeof body === "object" && !Array.isArray(body) ? (body as Record<string, unknown>) : undefined;
  const code = typeof problem?.code === "string" ? problem.code : `http_${res.status}`;
  const detail = typeof problem?.detail === "string" ? problem.detail : typeof problem?.title === "string" ? problem.title : res.statusText;
  const message = `Vault ${method} ${path} answered ${res.status} ${code}: ${detail}`;
  const details = { status: res.status, problem };
  // 408: the vault gave up waiting for the request; like a 5xx it says nothing about the request itself.
  if (res.status >= 500 || res.status === 408) return new VaultUnavailableError(code, message, details);
  switch (code) {
    case "token_already_consumed":
      return new TokenAlreadyConsumedError(code, message, details);
    case "approval_not_reusable":
      return new ApprovalNotReusableError(code, message, details);
    case "token_invalid":
      return new TokenVerificationError("invalid_signature", message, details);
    case "token_expired":
      return new TokenVerificationError("expired", message, details);
    case "token_binding_mismatch":
      return new TokenVerificationError("binding_mismatch", message, details);
    case "tenant_mismatch":
      return new TokenVerificationError("tenant_mismatch", message, details);
  }
  if (res.status === 401 || res.status === 403) return new AuthenticationError(code, message, details);
  if (res.status === 404) return new NotFoundError(code, message, details);
  if (res.status === 409) return new ConflictError(code, message, details);
  if (res.status === 429) {
    const retryAfter = Number.parseFloat(res.headers.get("retry-after") ?? "");
    return new RateLimitedError(code, message, { ...details, retryAfterSeconds: Number.isFinite(retryAfter) ? retryAfter : undefined });
  }
  return new BadRequestError(code, message, details);
}
