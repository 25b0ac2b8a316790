import { readBoundedBody } from "../bounded-body.js";
import { StepAuthError } from "./errors.js";

/**
 * One HTTP exchange with a StepAuth hub: a time limit, a size limit, no redirects. The envelope in
 * the body is the authentication, so a redirect would replay it to an origin nobody configured.
 * No retries here: the client decides (and re-sends the same frozen bytes).
 */
export interface HubTransport {
  fetch: typeof fetch;
  timeoutMs: number;
  maxResponseBytes: number;
}

export interface HubAnswer {
  status: number;
  text: string;
}

export async function exchange(t: HubTransport, method: "GET" | "POST", url: string, body: string | undefined, signal?: AbortSignal): Promise<HubAnswer> {
  if (signal?.aborted) throw signal.reason;
  const timeout = AbortSignal.timeout(t.timeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  let res: Response;
  let bytes: Uint8Array;
  try {
    res = await t.fetch(url, {
      method,
      headers: body === undefined ? { accept: "application/json" } : { accept: "application/json", "content-type": "application/json" },
      body,
      redirect: "manual",
      signal: combined,
    });
    bytes = await readBounded(res, t.maxResponseBytes);
  } catch (err) {
    if (signal?.aborted) throw signal.reason ?? err;
    if (err instanceof StepAuthError) throw err;
    const what = timeout.aborted ? `timed out after ${t.timeoutMs} ms` : `failed: ${err instanceof Error ? err.message : String(err)}`;
    throw new StepAuthError("transport_error", `StepAuth ${method} ${url} ${what}`, { retryable: true, cause: err });
  }
  // Node returns the 3xx itself under "manual"; browsers and edge runtimes an opaque redirect (status 0).
  if ((res.status >= 300 && res.status < 400) || res.type === "opaqueredirect") {
    throw new StepAuthError("redirect", `StepAuth ${method} ${url} answered a redirect (${res.status}); redirects are not followed`, { status: res.status, retryable: false });
  }
  return { status: res.status, text: new TextDecoder().decode(bytes) };
}

async function readBounded(res: Response, max: number): Promise<Uint8Array> {
  const bytes = await readBoundedBody(res, max);
  if (!bytes) throw new StepAuthError("invalid_response", `StepAuth answer exceeds ${max} bytes`, { status: res.status, retryable: false });
  return bytes;
}

/** A JSON object in `text`, or null. */
export function jsonObject(text: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(text);
    return v !== null && typeof v === "object" && !Array.isArray(v) ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/**
 * The error a non-success answer stands for: the hub's `{error, message}` (Countersign also sends
 * problem+json `code`/`detail`; `error` wins). A body that is not JSON is `internal_error`, as the
 * official SDKs read it. 5xx is retryable, every 4xx final.
 */
export function protocolError(answer: HubAnswer, what: string, requestId?: string): StepAuthError {
  const body = jsonObject(answer.text);
  const code = typeof body?.error === "string" && body.error ? body.error : typeof body?.code === "string" && body.code ? body.code : "internal_error";
  const detail = typeof body?.message === "string" ? body.message : typeof body?.detail === "string" ? body.detail : "";
  return new StepAuthError(code, `StepAuth ${what} answered ${answer.status} ${code}${detail ? `: ${detail}` : ""}`, { status: answer.status, requestId });
}
