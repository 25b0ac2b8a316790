import type { Socket } from "node:net";
import type { FastifyError, FastifyReply, FastifyRequest } from "fastify";
import { ZodError } from "zod";
import { AppError, errorCatalog, isSigilumCode, type ErrorCode } from "../errors.js";
import { SignerUnavailableError } from "../tokens/signer.js";

declare module "fastify" {
  interface FastifyContextConfig {
    /** The Sigilum routes (/v1/...): every problem also carries `error` (= detail), which Sigilum clients read. */
    sigilumErrors?: boolean;
  }
}

/**
 * A tenant's StepAuth endpoints: every problem under this prefix, a route of it or not, also carries
 * `error` (= code) and `message` (= detail), which the StepAuth SDKs read.
 */
const STEPAUTH_SP_PATH = /^\/stepauth\/[^/?#]+\/v1(?:[/?#]|$)/;

/** RFC 9457 problem details with a stable machine code. */
export function sendProblem(reply: FastifyReply, request: FastifyRequest, code: ErrorCode, detail: string, extra: Record<string, unknown> = {}) {
  const { status, title } = errorCatalog[code];
  const stepAuth = STEPAUTH_SP_PATH.test(request.url) ? { error: code, message: detail } : {};
  // Sigilum's body is {error: <message>, code}: a Sigilum code anywhere, or any problem on a Sigilum route.
  const sigilum = isSigilumCode(code) || request.routeOptions?.config?.sigilumErrors === true ? { error: detail } : {};
  return reply
    .code(status)
    .type("application/problem+json")
    .send({ type: `urn:countersign:error:${code}`, title, status, detail, code, instance: request.url.split("?")[0], ...stepAuth, ...sigilum, ...extra });
}

function fastifyCode(err: FastifyError): ErrorCode | undefined {
  if (err.statusCode === 413 || err.code === "FST_ERR_CTP_BODY_TOO_LARGE") return "payload_too_large";
  if (err.code === "FST_ERR_CTP_INVALID_MEDIA_TYPE" || err.statusCode === 415) return "unsupported_media_type";
  if (err.code === "FST_ERR_CTP_EMPTY_JSON_BODY" || err.code === "FST_ERR_CTP_INVALID_JSON_BODY" || err instanceof SyntaxError) {
    return "invalid_json";
  }
  if (err.statusCode && err.statusCode >= 400 && err.statusCode < 500) return "bad_request";
  return undefined;
}

/**
 * zod issues as `errors[]` entries. Unknown keys come first, one entry each, with the path of the key
 * itself (zod reports them on the enclosing object): the summary then names a misspelled field even
 * when it also caused "required" errors, as a missing `conditions` beside `condtions` would not.
 */
function validationErrors(err: ZodError): { path: string; message: string }[] {
  const unknown = err.issues.flatMap((i) =>
    i.code === "unrecognized_keys" ? i.keys.map((key) => ({ path: [...i.path, key].join("."), message: `unknown field "${key}" (not part of this body; check its spelling)` })) : [],
  );
  const others = err.issues.filter((i) => i.code !== "unrecognized_keys").map((i) => ({ path: i.path.join("."), message: i.message }));
  return [...unknown, ...others];
}

/** The one error mapper: AppError, zod and Fastify's own errors to problem+json; 5xx hide internals. */
export function errorHandler(err: FastifyError, request: FastifyRequest, reply: FastifyReply) {
  if (err instanceof AppError) {
    if (err.extra.retryAfterSeconds !== undefined) reply.header("Retry-After", String(err.extra.retryAfterSeconds));
    const members = { ...(err.extra.errors ? { errors: err.extra.errors } : {}), ...(err.extra.pointer !== undefined ? { pointer: err.extra.pointer } : {}) };
    return sendProblem(reply, request, err.code, err.message, members);
  }
  if (err instanceof SignerUnavailableError) {
    // The message names the kid and the cause (never key material); the client learns only to retry.
    request.log.warn({ kid: err.kid, cause: err.message }, "signing key unavailable; request failed closed");
    reply.header("Retry-After", "1");
    return sendProblem(reply, request, "signer_unavailable", "The signing key service could not sign this answer, so the vault failed closed; retry shortly");
  }
  if (err instanceof ZodError) {
    const errors = validationErrors(err);
    const summary = errors
      .slice(0, 3)
      .map((e) => `${e.path || "(body)"}: ${e.message}`)
      .join("; ");
    return sendProblem(reply, request, "validation_failed", summary, { errors });
  }
  // PostgreSQL refuses NUL and invalid UTF-8 in text: the client's input, not a server fault.
  if ((err as { code?: unknown }).code === "22021" || (err as { code?: unknown }).code === "22P05") {
    return sendProblem(reply, request, "bad_request", "Text fields must not contain NUL characters");
  }
  const code = fastifyCode(err);
  if (code) return sendProblem(reply, request, code, code === "bad_request" ? err.message : errorCatalog[code].title);
  request.log.error({ err }, "unhandled error");
  return sendProblem(reply, request, "internal_error", "The vault could not complete this request");
}

/** Requests Node's HTTP parser refuses before Fastify sees them get problem+json too. */
export function clientErrorProblem(err: NodeJS.ErrnoException, socket: Socket): void {
  if (err.code === "ECONNRESET" || socket.destroyed) return;
  const code: ErrorCode =
    err.code === "HPE_HEADER_OVERFLOW" ? "headers_too_large" : err.code === "ERR_HTTP_REQUEST_TIMEOUT" ? "request_timeout" : "bad_request";
  const { status, title } = errorCatalog[code];
  const body = JSON.stringify({ type: `urn:countersign:error:${code}`, title, status, detail: title, code });
  // A parse error in a body that arrives after the answer was sent (a GET with a broken chunked body
  // answered 404 from its headers) must not add a second response to the stream; Node's own handler
  // checks the same.
  const answered = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent === true;
  if (socket.writable && !answered) {
    socket.write(
      `HTTP/1.1 ${status} ${title}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nContent-Type: application/problem+json\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}
