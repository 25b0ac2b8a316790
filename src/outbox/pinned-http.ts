import http from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import type { ResolvedTarget } from "./target-guard.js";

export interface PostResult {
  status: number;
  /** The first bytes of the response, for last_error; the rest is discarded. */
  body: string;
}

export class DeliveryAbortedError extends Error {}

const MAX_RESPONSE_BYTES = 2048;

/**
 * One POST to a checked target over Node's own http/https, connecting to exactly the address the
 * guard checked: the `lookup` hook answers every resolution with it, so a second DNS answer is never
 * asked for. TLS still verifies the certificate against the host name. No agent (no pooled socket
 * from an earlier address), and redirects are not followed: a 3xx is simply not a 2xx.
 */
export function postPinned(
  target: ResolvedTarget,
  body: string,
  headers: Record<string, string>,
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<PostResult> {
  const { url, address, family } = target;
  const pinned: LookupFunction = (_hostname, lookupOptions, callback) => {
    // Node 20 asks for every address (autoSelectFamily) and then expects an array.
    if ((lookupOptions as { all?: boolean }).all) (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address, family }]);
    else callback(null, address, family);
  };
  const client = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) return reject(new DeliveryAbortedError("delivery aborted: the worker is stopping"));
    const request = client.request({
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[|\]$/g, ""),
      port: url.port || undefined,
      path: `${url.pathname}${url.search}`,
      method: "POST",
      headers: { ...headers, "content-length": String(Buffer.byteLength(body)) },
      agent: false,
      lookup: pinned,
    });
    const fail = (err: Error) => {
      clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      request.destroy();
      reject(err);
    };
    // One deadline for the whole exchange: connect, send, and the response headers and body.
    const timer = setTimeout(() => fail(new Error(`no complete response within ${options.timeoutMs / 1000} s`)), options.timeoutMs);
    const onAbort = () => fail(new DeliveryAbortedError("delivery aborted: the worker is stopping"));
    options.signal?.addEventListener("abort", onAbort, { once: true });
    request.on("error", (err) => fail(err));
    request.on("response", (response) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const done = () => {
        clearTimeout(timer);
        options.signal?.removeEventListener("abort", onAbort);
        response.destroy();
        resolve({ status: response.statusCode ?? 0, body: Buffer.concat(chunks).toString("utf8").slice(0, MAX_RESPONSE_BYTES) });
      };
      response.on("data", (chunk: Buffer) => {
        if (size < MAX_RESPONSE_BYTES) chunks.push(chunk);
        size += chunk.length;
        if (size >= MAX_RESPONSE_BYTES) done();
      });
      response.on("end", done);
      response.on("error", (err) => fail(err));
    });
    request.end(body);
  });
}
