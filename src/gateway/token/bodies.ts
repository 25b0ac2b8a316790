import type { IncomingMessage } from "node:http";
import type { FastifyInstance, FastifyRequest } from "fastify";
import { GatewayError } from "./problems.js";

/**
 * How request bodies are read, per route kind. Both refuse a body over the route's limit with 413
 * before anything is verified or burned.
 *
 * - Buffered (routes whose arguments come from the body): read in full, up to the limit, because the
 *   binding check needs the bytes before the burn. Fastify counts them as they arrive and refuses a
 *   declared Content-Length over the limit without reading.
 * - Streamed (routes whose arguments do not come from the body, and pass-through routes): a body with
 *   a declared Content-Length within the limit is left unread until the request is admitted, then
 *   piped to the upstream as it arrives; HTTP framing guarantees it cannot outgrow the declared
 *   length. A chunked body (no length) cannot be checked against the limit without reading it, so it
 *   is read to the limit first, as a buffered one.
 */
export function bufferedBodies(scope: FastifyInstance) {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser("*", { parseAs: "buffer" }, (_request, body, done) => done(null, body));
}

export function streamedBodies(scope: FastifyInstance) {
  scope.removeAllContentTypeParsers();
  scope.addContentTypeParser("*", (request: FastifyRequest, payload: IncomingMessage, done: (err: Error | null, body?: unknown) => void) => {
    const limit = request.routeOptions.bodyLimit ?? 0;
    const declared = request.headers["content-length"];
    if (declared !== undefined) {
      if (Number(declared) > limit) return done(tooLarge());
      return done(null, payload);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    payload.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        payload.removeAllListeners("data");
        payload.resume();
        return done(tooLarge());
      }
      chunks.push(chunk);
    });
    payload.once("end", () => {
      if (size <= limit) done(null, Buffer.concat(chunks));
    });
    payload.once("error", (err) => done(err));
  });
}

const tooLarge = () => new GatewayError("payload_too_large", "The body is larger than this route's limit; nothing was burned or forwarded");
