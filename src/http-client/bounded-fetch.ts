/**
 * The one fetch for outbound calls to services named in configuration (the judge service, the LLM
 * and embedding endpoints). Three limits, all failing closed with an OutboundHttpError:
 *
 * - No redirects. fetch's default follows them and re-sends the body and every custom header
 *   (X-API-Key, and Authorization too on a same-origin hop) to wherever the Location points; a
 *   compromised or misconfigured endpoint could harvest the key and the agent's request that way.
 *   Any 3xx is a failure; the webhook path (src/outbox/pinned-http.ts) refuses them the same way.
 * - A size cap on the body as it streams in (decoded bytes), so neither a lying or absent
 *   Content-Length nor a chunked or compressed answer can make us buffer more than the cap.
 * - One deadline for the whole exchange, body included: a server that sends headers and then
 *   drips the body never holds a caller longer than timeoutMs (the OpenAI SDK's own timeout stops
 *   at the headers).
 *
 * Webhooks and Slack do not use this: they also pin the checked address (src/outbox/pinned-http.ts).
 */

export type OutboundFailure = "redirect" | "too_large" | "timeout";

export class OutboundHttpError extends Error {
  constructor(
    readonly reason: OutboundFailure,
    message: string,
  ) {
    super(message);
    this.name = "OutboundHttpError";
  }
}

export interface OutboundLimits {
  /** Largest body accepted, in bytes after content decoding. */
  maxResponseBytes: number;
  /** Deadline for connect, request, headers and the whole body. */
  timeoutMs: number;
}

/** Statuses whose Response must be built with a null body. */
const NULL_BODY_STATUSES = new Set([101, 103, 204, 205, 304]);

export async function boundedFetch(input: string | URL | Request, init: RequestInit | undefined, limits: OutboundLimits): Promise<Response> {
  const deadline = AbortSignal.timeout(limits.timeoutMs);
  const signal = init?.signal ? AbortSignal.any([init.signal, deadline]) : deadline;
  const target = describe(input);
  // "timed out" in the text: the OpenAI SDK recognises a timeout by it (APIConnectionTimeoutError).
  const timeout = () => new OutboundHttpError("timeout", `${target}: timed out, no complete answer within ${limits.timeoutMs} ms`);
  let res: Response;
  try {
    res = await fetch(input, { ...init, redirect: "manual", signal });
  } catch (err) {
    if (deadline.aborted) throw timeout();
    throw err;
  }
  // Node's fetch hands back the 3xx itself under "manual"; browsers give an opaque redirect (status 0).
  if ((res.status >= 300 && res.status < 400) || res.type === "opaqueredirect") {
    await res.body?.cancel().catch(() => undefined);
    throw new OutboundHttpError("redirect", `${target} answered HTTP ${res.status} (a redirect); outbound calls follow no redirects, fix the configured URL`);
  }
  const declared = Number(res.headers.get("content-length") ?? Number.NaN);
  if (Number.isFinite(declared) && declared > limits.maxResponseBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw tooLarge(target, limits.maxResponseBytes);
  }
  if (!res.body || NULL_BODY_STATUSES.has(res.status)) return res;
  const body = capped(res.body, limits.maxResponseBytes, () => (deadline.aborted ? timeout() : undefined), target);
  return new Response(body, { status: res.status, statusText: res.statusText, headers: res.headers });
}

/** The same limits as a fetch function, for clients that take one (the OpenAI SDK's `fetch` option). */
export function boundedFetcher(limits: OutboundLimits): (input: string | URL | Request, init?: RequestInit) => Promise<Response> {
  return (input, init) => boundedFetch(input, init, limits);
}

/**
 * Passes the body through while counting; one byte over the cap cancels the source (closing the
 * connection) and errors the stream, so whoever reads it (text(), json()) rejects.
 */
function capped(source: ReadableStream<Uint8Array>, max: number, timedOut: () => Error | undefined, target: string): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  let total = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (err) {
        controller.error(timedOut() ?? err);
        return;
      }
      if (chunk.done) return controller.close();
      total += chunk.value.byteLength;
      if (total > max) {
        reader.cancel().catch(() => undefined);
        controller.error(tooLarge(target, max));
        return;
      }
      controller.enqueue(chunk.value);
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

/** The OutboundHttpError behind an error, when a client (the OpenAI SDK) wrapped ours in its own. */
export function outboundFailureOf(err: unknown): OutboundHttpError | undefined {
  for (let e = err, depth = 0; e && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    if (e instanceof OutboundHttpError) return e;
  }
  return undefined;
}

function tooLarge(target: string, max: number): OutboundHttpError {
  return new OutboundHttpError("too_large", `${target}: answer larger than ${max} bytes refused`);
}

/** Origin and path only: a query string could carry a credential, and this text reaches logs. */
function describe(input: string | URL | Request): string {
  try {
    const url = new URL(typeof input === "string" ? input : input instanceof URL ? input.href : input.url);
    return `${url.origin}${url.pathname}`;
  } catch {
    return "outbound request";
  }
}
