import { createHash, timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";
import type { FastifyReply, FastifyRequest } from "fastify";
import { sendProblem } from "../../http/problem.js";
import type { McpGatewayConfig } from "../../config/mcp-gateway-config.js";

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "::1"]);

function isLoopback(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  return h === "localhost" || h === "::1" || (isIP(h) === 4 && h.startsWith("127."));
}

/** The host name of a Host header, lower case, without port or IPv6 brackets; undefined when it is not one. */
function hostNameOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  try {
    return new URL(`http://${header}`).hostname.replace(/^\[|\]$/g, "").toLowerCase();
  } catch {
    return undefined;
  }
}

/** SHA-256 first, so that the comparison takes the same time whatever the lengths (timingSafeEqual needs equal lengths). */
const digest = (s: string) => createHash("sha256").update(s, "utf8").digest();

/**
 * Who may drive /mcp: every request on it passes here before the MCP transport sees it.
 * - Origin: a browser page's origin must be allowed (http.allowed_origins).
 * - Host: a DNS-rebinding page reaches a loopback listener under its own name, and a same-origin GET
 *   carries no Origin, so the Host header is checked too (http.allowed_hosts, else loopback names).
 * - Bearer token (http.agent_token_env): without it whoever reaches /mcp acts with the vault key.
 * Returns true when the request was answered (refused).
 */
export function agentAccessGuard(config: McpGatewayConfig, listenHost: string | undefined) {
  const origins = new Set(config.allowedOrigins);
  const hosts = config.allowedHosts.length > 0 ? new Set(config.allowedHosts) : listenHost !== undefined && isLoopback(listenHost) ? LOOPBACK_NAMES : undefined;
  const expected = config.agentToken === undefined ? undefined : digest(config.agentToken);
  return (request: FastifyRequest, reply: FastifyReply): boolean => {
    const origin = request.headers.origin;
    if (origin !== undefined && !origins.has(origin)) {
      // The origin is not echoed back: it is the caller's text, and it says nothing the caller does not know.
      sendProblem(reply, request, "origin_not_allowed", "this Origin is not in http.allowed_origins");
      return true;
    }
    if (hosts) {
      const name = hostNameOf(request.headers.host);
      if (name === undefined || !hosts.has(name)) {
        sendProblem(reply, request, "host_not_allowed", "this Host is not one the gateway serves (http.allowed_hosts)");
        return true;
      }
    }
    if (expected) {
      const header = request.headers.authorization ?? "";
      const match = /^Bearer ([^\s]+)$/i.exec(header);
      if (!match || !timingSafeEqual(digest(match[1]!), expected)) {
        reply.header("www-authenticate", 'Bearer realm="countersign-mcp-gateway"');
        sendProblem(reply, request, "unauthorized", "send the gateway's agent token as Authorization: Bearer <token>");
        return true;
      }
    }
    return false;
  };
}
