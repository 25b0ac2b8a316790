/**
 * Raw HTTP/1.1 requests for the socket-level property: request lines, header blocks and framing
 * that fetch and http.request refuse to send (control bytes in names, duplicate or malformed
 * Content-Length, chunked bodies with bad sizes, obsolete line folding, oversized headers).
 *
 * Every generated request is complete: a Content-Length never promises more bytes than follow and a
 * chunked body always ends or breaks at once, so the server can answer without waiting for more.
 */
import net from "node:net";
import fc from "fast-check";
import type { FuzzResponse } from "./fuzz-vault.js";

export interface RawHttpCase {
  text: Buffer;
  [key: symbol]: unknown;
}

const methods = ["GET", "POST", "PUT", "DELETE", "get", "G ET", "GET\u0000", "POST\t", "FOO", "", "PRI"];
const paths = ["/request-clearance", "/register-policy", "/healthz", "/ledger?limit=1", "/%ZZ", "/a b", "*", "http://x/healthz", "", "/\u0000", "/" + "p".repeat(9000)];
const versions = ["HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTP/1.1 ", "HTTP/9.9", "HTTPS/1.1", ""];

const headerLine = (key: string): fc.Arbitrary<string> =>
  fc.constantFrom(
    `X-Vault-API-Key: ${key}`,
    "Content-Type: application/json",
    "Content-Type: text/plain",
    "Idempotency-Key: \u00ff\u00fe",
    "X-A\u0001: b",
    "X\u0000Y: z",
    ": empty-name",
    "NoColonHere",
    " folded continuation",
    "Content-Length: 2",
    "Content-Length: 2, 3",
    "Content-Length: -1",
    "Content-Length: 0x2",
    "Content-Length: 1e1",
    "Transfer-Encoding: chunked",
    "Transfer-Encoding: gzip, chunked",
    "Transfer-Encoding: chunked, gzip",
    "Expect: 100-continue",
    "Upgrade: h2c",
    `X-Big: ${"b".repeat(20_000)}`,
    "Host: \u00e9xample",
  );

/** A body that ends: plain bytes, a complete chunked body, or one whose chunk size is not hex. */
const bodyArb = fc.constantFrom("", "{}", '{"a":1,"a":2}', "\u00ff\u00fe", "5\r\nhello\r\n0\r\n\r\n", "zz\r\nhello\r\n0\r\n\r\n", "0\r\n\r\n", "ffffffffffffffffff\r\n");

export function rawHttpCaseArb(key: string): fc.Arbitrary<RawHttpCase> {
  return fc
    .record({
      method: fc.constantFrom(...methods),
      path: fc.constantFrom(...paths),
      version: fc.constantFrom(...versions),
      headers: fc.array(headerLine(key), { maxLength: 5 }),
      body: bodyArb,
    })
    .map(({ method, path, version, headers, body }) => {
      // A Content-Length the body does not meet would make the server wait for more bytes: replaced by the true length.
      // A chunked request with no body at all would wait for its first chunk: it gets the last one.
      const chunkedHeader = headers.some((h) => h.startsWith("Transfer-Encoding"));
      const bytes = Buffer.from(chunkedHeader && body === "" ? "0\r\n\r\n" : body, "latin1");
      const fixed = headers.map((h) => (/^Content-Length: \d+$/.test(h) && Number(h.split(": ")[1]) > bytes.length ? `Content-Length: ${bytes.length}` : h));
      const chunked = fixed.some((h) => h.startsWith("Transfer-Encoding"));
      const hasLength = fixed.some((h) => h.startsWith("Content-Length"));
      // Without framing, a body would be read as the next pipelined request: say its length.
      const framing = !chunked && !hasLength && bytes.length > 0 ? [`Content-Length: ${bytes.length}`] : [];
      const head = [`${method} ${path} ${version}`, "Host: 127.0.0.1", "Connection: close", ...fixed, ...framing].join("\r\n");
      const text = Buffer.concat([Buffer.from(`${head}\r\n\r\n`, "latin1"), bytes]);
      return { text, [fc.toStringMethod]: () => JSON.stringify(text.toString("latin1").replaceAll(key, "<admin key>").slice(0, 600)) };
    });
}

/** A fixed raw request (Latin-1 text), for replaying a counterexample. */
export function rawExample(latin1: string): RawHttpCase {
  const text = Buffer.from(latin1, "latin1");
  return { text, [fc.toStringMethod]: () => JSON.stringify(latin1.slice(0, 600)) };
}

/**
 * Writes the bytes, reads until the server closes (Connection: close), and parses the status line.
 * `trailing` is whatever followed the first answer's Content-Length: a second answer to one request.
 */
export function sendRaw(url: string, text: Buffer, timeoutMs = 15_000): Promise<FuzzResponse & { trailing: string }> {
  const { port, hostname } = new URL(url);
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(Number(port), hostname, () => socket.write(text));
    socket.setTimeout(timeoutMs, () => socket.destroy());
    socket.on("data", (c: Buffer) => chunks.push(c));
    socket.on("error", () => {
      /* a reset after the answer: what arrived is in chunks */
    });
    socket.on("close", () => {
      let all = Buffer.concat(chunks).toString("latin1");
      // Interim answers (100 Continue to an Expect header) come before the final one.
      while (/^HTTP\/1\.[01] 1\d\d /.test(all) && all.includes("\r\n\r\n")) all = all.slice(all.indexOf("\r\n\r\n") + 4);
      const split = all.indexOf("\r\n\r\n");
      const head = split >= 0 ? all.slice(0, split) : all;
      const [statusLine = "", ...lines] = head.split("\r\n");
      const status = Number(statusLine.split(" ")[1] ?? 0) || 0;
      const type = lines.find((l) => l.toLowerCase().startsWith("content-type:"))?.slice(13).trim() ?? "";
      let body = split >= 0 ? all.slice(split + 4) : "";
      let trailing = "";
      const length = lines.find((l) => l.toLowerCase().startsWith("content-length:"));
      if (length !== undefined) {
        const n = Number(length.slice(15).trim());
        trailing = body.slice(n);
        body = body.slice(0, n);
      } else if (lines.some((l) => /^transfer-encoding:\s*chunked/i.test(l))) {
        // A chunked answer (Fastify's, for a streamed body) is unwrapped for the JSON check.
        body = body.replace(/^[0-9a-f]+\r\n/i, "").replace(/\r\n0\r\n\r\n$/, "");
      }
      resolve({ status, contentType: type, text: Buffer.from(body, "latin1").toString("utf8"), trailing });
    });
  });
}
