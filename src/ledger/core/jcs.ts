/**
 * RFC 8785 (JCS) canonical JSON for the pure core: the same serialisation as
 * src/tokens/canonical-json.ts (which uses node:crypto for its hash and so cannot be reached by the
 * SDK's offline verifier). Primitives use ECMAScript JSON.stringify, exactly what §3.2.2 prescribes;
 * object members are sorted by UTF-16 code units (§3.2.3), JavaScript's default string order.
 * Callers pass small values they built themselves or validated, so recursion depth is bounded by them.
 */
export function jcs(value: unknown): string {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) throw new TypeError("non-finite number has no JSON form");
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError(`${typeof value} has no JSON form`);
    return text;
  }
  if (Array.isArray(value)) return `[${value.map((v) => jcs(v === undefined ? null : v)).join(",")}]`;
  const record = value as Record<string, unknown>;
  const members = Object.keys(record)
    .filter((k) => record[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${jcs(record[k])}`);
  return `{${members.join(",")}}`;
}
