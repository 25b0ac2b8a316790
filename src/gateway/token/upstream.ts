import { isIP, type LookupFunction } from "node:net";
import type { GatewayUpstream } from "../../config/gateway-config.js";
import { ForbiddenTargetError, parseTargetUrl, resolveTarget } from "../../outbox/target-guard.js";

/**
 * The SSRF rules for an upstream, the same as for webhooks (src/outbox/target-guard.ts): the name is
 * resolved and every address it resolves to is checked against the private, loopback, link-local and
 * metadata ranges, unless the routes file says `allow_private: true` for that upstream. The check runs
 * at start (a bad upstream stops the gateway from starting) and again inside the connection's own
 * DNS lookup, so each new connection goes to exactly the address that was just checked: a DNS answer
 * that changes in between (rebinding) cannot move a connection onto an internal address.
 */
export class UpstreamForbiddenError extends Error {
  readonly code = "GATEWAY_UPSTREAM_FORBIDDEN";
}

export interface CheckedUpstream {
  name: string;
  url: URL;
  /** `connect.lookup` for undici: resolves, checks and pins. */
  lookup: LookupFunction;
}

export async function checkUpstream(name: string, upstream: GatewayUpstream): Promise<CheckedUpstream> {
  let url: URL;
  try {
    url = parseTargetUrl(upstream.url);
    if (url.search || url.hash) throw new ForbiddenTargetError("the upstream URL must not have a query or fragment");
    // Fails at start when the address is not allowed (an IP literal is checked only here: it cannot change).
    await resolveTarget(url, { allowPrivate: upstream.allow_private });
  } catch (err) {
    if (err instanceof ForbiddenTargetError) throw new UpstreamForbiddenError(`upstream ${name} (${upstream.url}): ${err.message}`);
    throw err;
  }
  const lookup: LookupFunction = (hostname, options, callback) => {
    const target = new URL(url);
    target.hostname = isIP(hostname) === 6 ? `[${hostname}]` : hostname;
    resolveTarget(target, { allowPrivate: upstream.allow_private }).then(
      ({ address, family }) => {
        // Node 20 asks for every address (autoSelectFamily) and then expects an array.
        if ((options as { all?: boolean }).all) (callback as (e: null, a: { address: string; family: number }[]) => void)(null, [{ address, family }]);
        else callback(null, address, family);
      },
      (err: unknown) => {
        const message = `upstream ${name}: ${err instanceof Error ? err.message : String(err)}`;
        // A name that does not resolve is an unreachable upstream, not a forbidden one.
        const failure = /does not resolve/.test(message) ? Object.assign(new Error(message), { code: "ENOTFOUND" }) : new UpstreamForbiddenError(message);
        (callback as (e: Error) => void)(failure);
      },
    );
  };
  return { name, url, lookup };
}
