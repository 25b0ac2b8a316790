import { createHash } from "node:crypto";
/**
 * RFC 8785 (JCS) canonical JSON. Primitives use ECMAScript JSON.stringify, which is exactly the
 * serialisation §3.2.2 prescribes (shortest round-trip numbers, minimal string escaping); object
 * members are sorted by UTF-16 code units (§3.2.3), which is JavaScript's default string order.
 * Inputs come from JSON.parse of depth-limited bodies, so recursion depth is bounded.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== "object") {
    if (typeof value === "number" && !Number.isFinite(value)) throw new TypeError("non-finite number has no JSON form");
    const text = JSON.stringify(value);
    if (text === undefined) throw new TypeError(`${typeof value} has no JSON form`);
    return text;
  }
  if (Array.isArray(value)) return `[${value.map((v) => canonicalJson(v === undefined ? null : v)).join(",")}]`;
  const members = Object.keys(value)
    .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
    .sort()
    .map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`);
  return `{${members.join(",")}}`;
}

export function sha256Hex(text: string): string {
  return createHash("sha256").update(text, "utf8").digest("hex");
}

/** The A-JWT's tool_args_hash: lowercase hex SHA-256 of the canonical JSON of the arguments. */
export function toolArgsHash(args: unknown): string {
  return sha256Hex(canonicalJson(args));
}

/**
 * The key conversion the Ledgix SDK applies to request bodies (every uppercase X becomes _x,
 * recursively, including objects directly inside arrays but not arrays within arrays).
 * Used so a gateway can present the caller's original arguments and still match the hash of
 * the snake_cased arguments the vault approved.
 */
export function ledgixSnakeKeys(value: unknown, insideArray = false): unknown {
  if (Array.isArray(value)) return insideArray ? value : value.map((v) => ledgixSnakeKeys(v, true));
  if (value !== null && typeof value === "object") {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const key = k.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
      // Two keys that collapse into one (amountCents and amount_cents) would let a value the
      // vault never approved ride along under the approved one: no match through conversion.
      if (Object.hasOwn(out, key)) throw new SnakeKeyCollision(key);
      out[key] = ledgixSnakeKeys(v);
    }
    return out;
  }
  return value;
}

export class SnakeKeyCollision extends Error {}

/** True when args hash to the approved hash as given, or after the SDK's key conversion without collisions. */
export function argsMatchHash(args: unknown, approvedHash: string): boolean {
  if (toolArgsHash(args) === approvedHash) return true;
  try {
    return toolArgsHash(ledgixSnakeKeys(args)) === approvedHash;
  } catch (err) {
    if (err instanceof SnakeKeyCollision) return false;
    throw err;
  }
}
