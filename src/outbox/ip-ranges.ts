import { isIPv4, isIPv6 } from "node:net";

/**
 * Addresses an outbound webhook or Slack delivery must never reach: anything that lands inside the
 * vault's own network instead of on the public internet (SSRF). Pure functions over the address
 * text; the caller resolves names first (target-guard.ts). Ranges from the IANA special-purpose
 * registries (RFC 6890 and updates); documentation and benchmarking ranges are refused too, since
 * no real receiver lives there and some networks route them internally.
 */
type Range = { prefix: Uint8Array; bits: number; reason: string };

function range(cidr: string, reason: string): Range {
  const [addr, bits] = cidr.split("/") as [string, string];
  const prefix = isIPv4(addr) ? parseIPv4(addr) : parseIPv6(addr);
  if (!prefix) throw new Error(`bad range ${cidr}`);
  return { prefix, bits: Number(bits), reason };
}

const V4_FORBIDDEN: Range[] = [
  range("0.0.0.0/8", "'this network' (0.0.0.0/8)"),
  range("10.0.0.0/8", "private (RFC 1918)"),
  range("100.64.0.0/10", "carrier-grade NAT (RFC 6598)"),
  range("127.0.0.0/8", "loopback"),
  range("169.254.0.0/16", "link-local (includes cloud metadata 169.254.169.254)"),
  range("172.16.0.0/12", "private (RFC 1918)"),
  range("192.0.0.0/24", "IETF protocol assignments"),
  range("192.0.2.0/24", "documentation (TEST-NET-1)"),
  range("192.168.0.0/16", "private (RFC 1918)"),
  range("198.18.0.0/15", "benchmarking"),
  range("198.51.100.0/24", "documentation (TEST-NET-2)"),
  range("203.0.113.0/24", "documentation (TEST-NET-3)"),
  range("224.0.0.0/4", "multicast"),
  range("240.0.0.0/4", "reserved (includes broadcast 255.255.255.255)"),
];

const V6_FORBIDDEN: Range[] = [
  // Covers :: (unspecified), ::1 (loopback) and the deprecated IPv4-compatible ::a.b.c.d forms.
  range("::/96", "unspecified, loopback or IPv4-compatible IPv6"),
  range("64:ff9b:1::/48", "local-use NAT64"),
  range("100::/64", "discard-only"),
  range("2001::/32", "Teredo tunnelling"),
  range("2001:db8::/32", "documentation"),
  range("fc00::/7", "unique local (fc00::/7)"),
  range("fe80::/10", "link-local (fe80::/10)"),
  range("fec0::/10", "site-local (deprecated)"),
  range("ff00::/8", "multicast"),
];

// IPv6 forms that carry an IPv4 address: the embedded address decides.
const V4_MAPPED = range("::ffff:0:0/96", "IPv4-mapped");
const V4_TRANSLATED = range("::ffff:0:0:0/96", "IPv4-translated");
const NAT64 = range("64:ff9b::/96", "NAT64");
const SIX_TO_FOUR = range("2002::/16", "6to4");

/** Why `address` (an IP literal, optionally in brackets) is not a public unicast address; null if it is. */
export function forbiddenAddressReason(address: string): string | null {
  const text = address.replace(/^\[|\]$/g, "");
  if (isIPv4(text)) return v4Reason(parseIPv4(text)!);
  if (isIPv6(text)) {
    const bytes = parseIPv6(text);
    if (!bytes) return "unparseable IPv6 address";
    return v6Reason(bytes);
  }
  return "not an IP address";
}

function v4Reason(bytes: Uint8Array): string | null {
  return V4_FORBIDDEN.find((r) => inRange(bytes, r))?.reason ?? null;
}

function v6Reason(bytes: Uint8Array): string | null {
  for (const [wrapper, offset] of [[V4_MAPPED, 12], [V4_TRANSLATED, 12], [NAT64, 12], [SIX_TO_FOUR, 2]] as const) {
    if (!inRange(bytes, wrapper)) continue;
    const inner = v4Reason(bytes.subarray(offset, offset + 4));
    if (inner) return `${wrapper.reason} ${inner}`;
    return null;
  }
  return V6_FORBIDDEN.find((r) => inRange(bytes, r))?.reason ?? null;
}

function inRange(bytes: Uint8Array, r: Range): boolean {
  if (bytes.length !== r.prefix.length) return false;
  for (let bit = 0; bit < r.bits; bit += 8) {
    const take = Math.min(8, r.bits - bit);
    const mask = (0xff << (8 - take)) & 0xff;
    if ((bytes[bit / 8]! & mask) !== (r.prefix[bit / 8]! & mask)) return false;
  }
  return true;
}

export function parseIPv4(text: string): Uint8Array | null {
  const parts = text.split(".");
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return null;
  return Uint8Array.from(parts.map(Number));
}

/** 16 bytes of an IPv6 literal: "::" compression, a trailing dotted quad, and a zone id are handled. */
export function parseIPv6(text: string): Uint8Array | null {
  let s = text.split("%")[0]!.toLowerCase();
  const tail: number[] = [];
  const dotted = s.match(/^(.*:)(\d+\.\d+\.\d+\.\d+)$/);
  if (dotted) {
    const v4 = parseIPv4(dotted[2]!);
    if (!v4) return null;
    tail.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
    s = dotted[1]!.endsWith("::") ? dotted[1]! : dotted[1]!.slice(0, -1);
  }
  const halves = s.split("::");
  if (halves.length > 2) return null;
  const groups = (part: string) => (part === "" ? [] : part.split(":"));
  const head = groups(halves[0]!);
  const rest = halves.length === 2 ? groups(halves[1]!) : [];
  const known = head.length + rest.length + tail.length;
  if (halves.length === 1 ? known !== 8 : known > 7) return null;
  const words = [...head, ...Array<string>(8 - known).fill("0"), ...rest].map((g) => (/^[0-9a-f]{1,4}$/.test(g) ? parseInt(g, 16) : NaN));
  const all = [...words, ...tail];
  if (all.length !== 8 || all.some((w) => Number.isNaN(w))) return null;
  const out = new Uint8Array(16);
  all.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}
