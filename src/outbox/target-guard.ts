import { lookup } from "node:dns/promises";
import { isIP } from "node:net";
import { forbiddenAddressReason } from "./ip-ranges.js";

/** A webhook or Slack URL the vault refuses to call; the message says why, never a secret. */
export class ForbiddenTargetError extends Error {}

/** A checked target: the URL and the one address the connection must use (see pinned-http.ts). */
export interface ResolvedTarget {
  url: URL;
  address: string;
  family: 4 | 6;
}

export interface GuardOptions {
  /** VAULT_WEBHOOK_ALLOW_PRIVATE_TARGETS: development and tests only. Schemes are still checked. */
  allowPrivate: boolean;
}

const MAX_URL_LENGTH = 2048;

/** Syntax only: an absolute http(s) URL without credentials. */
export function parseTargetUrl(raw: string): URL {
  if (raw.length > MAX_URL_LENGTH) throw new ForbiddenTargetError(`the URL is longer than ${MAX_URL_LENGTH} characters`);
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ForbiddenTargetError("the URL is not an absolute URL");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new ForbiddenTargetError(`scheme ${url.protocol} is not allowed; use http or https`);
  // Credentials in the URL would be sent to whoever the name resolves to and show up in listings.
  if (url.username || url.password) throw new ForbiddenTargetError("the URL must not contain credentials");
  if (!url.hostname) throw new ForbiddenTargetError("the URL has no host");
  return url;
}

/**
 * Resolves the host and checks every address it resolves to (a name with one public and one private
 * address is refused: the connection could land on either). Runs at registration and again before
 * every delivery, and the delivery then connects to exactly the address checked here, so a DNS
 * answer that changes in between (rebinding) cannot redirect it. The WHATWG URL parser has already
 * normalised odd IPv4 spellings (2130706433, 0x7f.1) and IPv6 forms to canonical text.
 */
export async function resolveTarget(raw: string | URL, options: GuardOptions): Promise<ResolvedTarget> {
  const url = typeof raw === "string" ? parseTargetUrl(raw) : raw;
  const host = url.hostname.replace(/^\[|\]$/g, "");
  let addresses: { address: string; family: number }[];
  if (isIP(host)) {
    addresses = [{ address: host, family: isIP(host) }];
  } else {
    try {
      addresses = await lookup(host, { all: true, verbatim: true });
    } catch (err) {
      throw new ForbiddenTargetError(`host ${host} does not resolve (${(err as NodeJS.ErrnoException).code ?? "lookup failed"})`);
    }
    if (addresses.length === 0) throw new ForbiddenTargetError(`host ${host} does not resolve`);
  }
  if (!options.allowPrivate) {
    for (const { address } of addresses) {
      const reason = forbiddenAddressReason(address);
      if (reason) {
        const via = address === host ? "" : ` (${host} resolves to ${address})`;
        throw new ForbiddenTargetError(`target address is ${reason}${via}; private and internal targets are refused`);
      }
    }
  }
  const first = addresses[0]!;
  return { url, address: first.address, family: first.family === 6 ? 6 : 4 };
}
