import type { FastifyReply, FastifyRequest } from "fastify";
import { errorCatalog, type ErrorCode } from "../../errors.js";

/**
 * The gateway's own problem codes, next to the vault's catalogue (src/errors.ts), whose token codes
 * (token_invalid, token_expired, token_binding_mismatch, token_already_consumed, payload_too_large, …)
 * the gateway answers with unchanged so a client sees one vocabulary whoever refused it.
 */
export const gatewayCatalog = {
  token_required: { status: 401, title: "This route needs an A-JWT (Authorization: Bearer or X-Countersign-Token)" },
  route_not_found: { status: 404, title: "No gateway route for this method and path" },
  arguments_invalid: { status: 400, title: "The tool's arguments cannot be read from this request" },
  vault_unavailable: { status: 503, title: "The vault cannot be reached; nothing was forwarded" },
  gateway_key_rejected: { status: 503, title: "The vault refused the gateway's API key; nothing was forwarded" },
  upstream_timeout: { status: 504, title: "The upstream did not answer in time" },
  upstream_unavailable: { status: 502, title: "The upstream could not be reached or broke off" },
  upstream_forbidden: { status: 502, title: "The upstream's address is not allowed (SSRF rules)" },
} as const;

export type GatewayCode = keyof typeof gatewayCatalog | ErrorCode;

export function statusOf(code: GatewayCode): { status: number; title: string } {
  return (gatewayCatalog as Record<string, { status: number; title: string }>)[code] ?? errorCatalog[code as ErrorCode];
}

/** A refusal with a stable code; thrown anywhere in the gateway and rendered by its error handler. */
export class GatewayError extends Error {
  constructor(
    readonly code: GatewayCode,
    detail?: string,
  ) {
    super(detail ?? statusOf(code).title);
  }
  get status(): number {
    return statusOf(this.code).status;
  }
}

const sentCodes = new WeakMap<FastifyReply, GatewayCode>();

/** The code of the problem this reply carries, if it is one (for the per-route metrics). */
export function problemCodeOf(reply: FastifyReply): GatewayCode | undefined {
  return sentCodes.get(reply);
}

/** RFC 9457 problem+json, the same shape the vault answers with. */
export function sendGatewayProblem(reply: FastifyReply, request: FastifyRequest, code: GatewayCode, detail: string) {
  const { status, title } = statusOf(code);
  sentCodes.set(reply, code);
  return reply
    .code(status)
    .type("application/problem+json")
    .send({ type: `urn:countersign:error:${code}`, title, status, detail, code, instance: request.url.split("?")[0] });
}
