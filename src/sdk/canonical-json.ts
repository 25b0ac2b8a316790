/**
 * RFC 8785 (JCS) canonical JSON and the A-JWT's tool_args_hash, for any runtime (WebCrypto only).
 * The same rules as the vault's src/tokens/canonical-json.ts (which uses node:crypto and so cannot be
 * imported here); test/unit/sdk-canonical-json.test.ts checks that both agree. Primitives use
 * ECMAScript JSON.stringify, which is what RFC 8785 §3.2.2 prescribes; object members are sorted by
 * UTF-16 code units (§3.2.3), JavaScript's default sort order.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) throw new TypeError("non-finite number has no JSON form");
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError(`${typeof value} has no JSON form`);
    return text;
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(",")}]`;
  const record = value as Record<string, unknown>;
  const members = Object.keys(record)
    .filter((k) => record[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson(record[k])}`);
  return `{${members.join(",")}}`;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

export function toHex(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) out += HEX[b];
  return out;
}

/** Lowercase hex SHA-256 of the UTF-8 text, via WebCrypto. */
export async function sha256Hex(text: string | Uint8Array): Promise<string> {
  const data = typeof text === "string" ? new TextEncoder().encode(text) : text;
  return toHex(new Uint8Array(await globalThis.crypto.subtle.digest("SHA-256", data)));
}

/**
 * The A-JWT's tool_args_hash of `args`: lowercase hex SHA-256 of their RFC 8785 canonical JSON.
 * Keys are hashed exactly as given (never rewritten).
 */
export async function argsHash(args: unknown): Promise<string> {
  return sha256Hex(canonicalJson(args));
}
