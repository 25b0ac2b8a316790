import type { FastifyRequest } from "fastify";
import type { GatewayRoute } from "../../config/gateway-config.js";
import { extractArguments } from "./arguments.js";
import { GatewayError } from "./problems.js";
import type { TokenVault, VerifiedToken } from "./token-vault.js";

/**
 * Everything that happens before a request may reach the upstream, in two steps. `authenticate` runs
 * as the request arrives, before its body is read: a token is present, verifies offline and is for
 * this route's tool, so a client without one cannot make the gateway buffer bodies. `admit` runs once
 * the body is in: the request's own arguments are the ones the token approves, and the vault burns
 * it. Any refusal throws a GatewayError and nothing has been burned, except by the last step, which
 * either burns or throws.
 */
export async function authenticate(request: FastifyRequest, route: GatewayRoute, vault: TokenVault): Promise<{ token: string; claims: VerifiedToken }> {
  const token = tokenOf(request);
  const claims = await vault.verify(token);
  if (claims.tool !== route.tool) throw new GatewayError("token_binding_mismatch", `the token is for tool ${claims.tool}; this route is tool ${route.tool}`);
  return { token, claims };
}

export async function admit(request: FastifyRequest, route: GatewayRoute, vault: TokenVault, { token, claims }: { token: string; claims: VerifiedToken }): Promise<VerifiedToken> {
  const args = extractArguments(route.args, {
    body: request.body instanceof Buffer ? request.body : undefined,
    contentType: request.headers["content-type"],
    query: (request.query ?? {}) as Record<string, string | string[]>,
    params: (request.params ?? {}) as Record<string, string>,
  });
  if ((await vault.argsHash(args)) !== claims.tool_args_hash) {
    throw new GatewayError("token_binding_mismatch", "the request's arguments are not the arguments this token approved");
  }
  // The vault must say it burned this token: an answer about another jti is not a burn of this one.
  const burned = await vault.consume(token, route.tool, args);
  if (burned !== claims.jti) throw new GatewayError("vault_unavailable", "the vault's answer to the burn names another token; nothing was forwarded");
  return claims;
}

const BEARER = /^Bearer[ \t]+([^\s]+)[ \t]*$/i;

/** The A-JWT from `Authorization: Bearer` or `X-Countersign-Token`; two different tokens are refused. */
export function tokenOf(request: FastifyRequest): string {
  const authorization = request.headers.authorization;
  const bearer = typeof authorization === "string" ? BEARER.exec(authorization)?.[1] : undefined;
  const header = request.headers["x-countersign-token"];
  if (Array.isArray(header)) throw new GatewayError("token_invalid", "X-Countersign-Token is given more than once");
  const own = header?.trim() || undefined;
  if (bearer && own && bearer !== own) throw new GatewayError("token_invalid", "Authorization and X-Countersign-Token carry different tokens");
  const token = own ?? bearer;
  if (!token) throw new GatewayError("token_required", "send the A-JWT as Authorization: Bearer <token> or X-Countersign-Token: <token>");
  return token;
}
