/**
 * Field rules several StepAuth messages share: the id charset, RFC 3339 times, the clock window,
 * and the https-or-loopback URL rule (reference §2, §3).
 */

/** requestId and senderId: 1-256 bytes of printable ASCII, no '#' (the hub's key delimiter). */
export const MAX_ID_BYTES = 256;
/** Allowed distance between a message's timestamp and the receiver's clock. */
export const MAX_CLOCK_SKEW_MS = 5 * 60 * 1000;

export function isValidId(id: unknown): id is string {
  if (typeof id !== "string" || id.length === 0 || id.length > MAX_ID_BYTES) return false;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    if (c < 0x20 || c > 0x7e || c === 0x23 /* # */) return false;
  }
  return true; // every char is ASCII, so the length in chars is the length in bytes
}

const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(\.\d{1,9})?(Z|([+-])(\d{2}):(\d{2}))$/;

/**
 * Milliseconds since the epoch of an RFC 3339 date-time (Go's time.RFC3339 layout: upper-case T
 * and Z, optional fraction, numeric offset), or null. Out-of-range fields (month 13, February 30,
 * second 60, offset hour 24) are refused, as Go's parser refuses them.
 */
export function parseRfc3339(s: unknown): number | null {
  if (typeof s !== "string") return null;
  const m = RFC3339.exec(s);
  if (!m) return null;
  const [year, month, day, hour, minute, second] = [m[1], m[2], m[3], m[4], m[5], m[6]].map(Number) as [number, number, number, number, number, number];
  if (month < 1 || month > 12 || hour > 23 || minute > 59 || second > 59) return null;
  const daysInMonth = new Date(Date.UTC(2000, month, 0)).getUTCDate() - (month === 2 && !isLeap(year) ? 1 : 0);
  if (day < 1 || day > daysInMonth) return null;
  let offsetMinutes = 0;
  if (m[8] !== "Z") {
    const offHour = Number(m[10]);
    const offMinute = Number(m[11]);
    if (offHour > 23 || offMinute > 59) return null;
    offsetMinutes = (m[9] === "-" ? -1 : 1) * (offHour * 60 + offMinute);
  }
  const fractionMs = m[7] ? Math.floor(Number(`0${m[7]}`) * 1000) : 0;
  const utc = new Date(0);
  utc.setUTCFullYear(year, month - 1, day); // setUTCFullYear keeps years 0-99 as written
  utc.setUTCHours(hour, minute, second, fractionMs);
  return utc.getTime() - offsetMinutes * 60_000;
}

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

/** Whole seconds, `Z`: the form the SDKs write (Go's time.RFC3339 of a UTC time). */
export function formatRfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** A timestamp that parses and lies within ±5 min of `now`. */
export function timestampInWindow(s: unknown, now: Date): boolean {
  const at = parseRfc3339(s);
  return at !== null && Math.abs(now.getTime() - at) <= MAX_CLOCK_SKEW_MS;
}

/**
 * `https`, or `http` to localhost / 127.0.0.1 (a development allowance), with a host. Checked on
 * the text as written, printable ASCII only: a lenient parser would otherwise turn `http://127.1`
 * or a URL with spaces into something the rule never saw.
 */
export function isHttpsOrLoopbackUrl(s: unknown): boolean {
  if (typeof s !== "string" || s.length > 2048 || !/^[\x21-\x7e]+$/.test(s)) return false;
  // The scheme is case-insensitive (Go lower-cases it), the loopback host is matched as written.
  if (/^[hH][tT][tT][pP]:\/\/(localhost|127\.0\.0\.1)(:\d{1,5})?([/?#]|$)/.test(s)) return true;
  if (!/^https:\/\/[^/?#]/i.test(s)) return false;
  try {
    const url = new URL(s);
    return url.protocol === "https:" && url.hostname !== "";
  } catch {
    return false;
  }
}
