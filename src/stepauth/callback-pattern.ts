import { isHttpsOrLoopbackUrl } from "../protocols/stepauth/wire-rules.js";

/**
 * Where a sender's decisions may be delivered. A pattern is either an exact URL
 * (`https://sp.example.com/stepauth/callback`) or a prefix ending in one `*`
 * (`https://sp.example.com/stepauth/*`), which matches every URL that starts with the prefix.
 * Both sides are compared as WHATWG-normalised URLs, so `..` segments and case in the scheme or
 * host cannot step outside a prefix. A prefix must reach past the host into the path (it ends in
 * `/` or names a path), so `https://sp.example.com*` cannot match `https://sp.example.com.evil.test`.
 * URLs must be https, or http to localhost / 127.0.0.1 (the reference's rule for callbacks), with
 * no credentials and no fragment.
 */
export type CallbackPattern = { kind: "exact"; url: string } | { kind: "prefix"; prefix: string };

export const MAX_PATTERN_LENGTH = 2048;

export function parseCallbackPattern(raw: string): { ok: true; pattern: CallbackPattern; text: string } | { ok: false; reason: string } {
  if (raw.length === 0 || raw.length > MAX_PATTERN_LENGTH) return { ok: false, reason: `callback_pattern must be 1-${MAX_PATTERN_LENGTH} characters` };
  const star = raw.indexOf("*");
  const prefix = star >= 0;
  if (prefix && star !== raw.length - 1) return { ok: false, reason: "callback_pattern may hold one '*', only at its end" };
  const base = prefix ? raw.slice(0, -1) : raw;
  const url = normalised(base);
  if (!url) return { ok: false, reason: "callback_pattern must be an https URL (or http to localhost or 127.0.0.1) without credentials or fragment" };
  if (!prefix) return { ok: true, pattern: { kind: "exact", url: url.href }, text: url.href };
  // The prefix must reach the path's first "/": else it could match another host that starts the same.
  if (base.indexOf("/", base.indexOf("://") + 3) < 0) {
    return { ok: false, reason: "a prefix callback_pattern must include the path after the host, e.g. https://sp.example.com/callbacks/*" };
  }
  const text = url.href;
  return { ok: true, pattern: { kind: "prefix", prefix: text }, text: `${text}*` };
}

/** Whether `url` may receive this sender's decisions. Checked at submit and before every delivery. */
export function matchesCallbackPattern(pattern: CallbackPattern, url: string): boolean {
  const candidate = normalised(url);
  if (!candidate) return false;
  return pattern.kind === "exact" ? candidate.href === pattern.url : candidate.href.startsWith(pattern.prefix);
}

/** The stored text of a pattern, parsed again (stored patterns were checked on the way in). */
export function storedPattern(text: string | null): CallbackPattern | null {
  if (text === null) return null;
  const parsed = parseCallbackPattern(text);
  return parsed.ok ? parsed.pattern : null;
}

/** The URL a request without its own callbackUrl is delivered to: the pattern's, when it is exact. */
export function defaultCallbackUrl(pattern: CallbackPattern | null): string | null {
  return pattern?.kind === "exact" ? pattern.url : null;
}

function normalised(raw: string): URL | null {
  if (!isHttpsOrLoopbackUrl(raw)) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return null;
  }
  if (url.username || url.password || url.hash || raw.includes("#")) return null;
  return url;
}
