import type { IncomingHttpHeaders } from "node:http";
import { DEFAULT_REQUEST_HEADERS, DEFAULT_RESPONSE_HEADERS, NEVER_FORWARDED, type GatewayFile } from "../../config/gateway-config.js";

/**
 * Allow-lists, both directions. Only listed headers cross the gateway: the token, the gateway's API
 * key, cookies and hop-by-hop headers never do, even if a list names them (the config schema refuses
 * that, and the filter checks again). Framing headers (Content-Length) are the proxy's own business.
 */
export interface HeaderFilter {
  request(incoming: IncomingHttpHeaders, host: string): Record<string, string | string[]>;
  response(upstream: Record<string, string | string[] | undefined>): Record<string, string | string[]>;
}

export function headerFilter(lists: GatewayFile["headers"]): HeaderFilter {
  const requestAllowed = new Set((lists.request ?? DEFAULT_REQUEST_HEADERS).filter((h) => !NEVER_FORWARDED.has(h)));
  const responseAllowed = new Set((lists.response ?? DEFAULT_RESPONSE_HEADERS).filter((h) => !NEVER_FORWARDED.has(h)));
  const pick = (from: Record<string, string | string[] | undefined>, allowed: Set<string>) => {
    const out: Record<string, string | string[]> = {};
    for (const [name, value] of Object.entries(from)) {
      if (value !== undefined && allowed.has(name.toLowerCase())) out[name.toLowerCase()] = value;
    }
    return out;
  };
  return {
    request(incoming, host) {
      // Host names the upstream, never the gateway: virtual hosts on the upstream see their own name.
      return { ...pick(incoming, requestAllowed), host };
    },
    response(upstream) {
      const out = pick(upstream, responseAllowed);
      const length = upstream["content-length"];
      if (typeof length === "string") out["content-length"] = length;
      return out;
    },
  };
}
