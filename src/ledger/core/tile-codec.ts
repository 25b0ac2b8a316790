/**
 * C2SP tlog-tiles (https://c2sp.org/tlog-tiles) wire forms: tile and entry-bundle paths, and their bodies. This is
 * what the anchor store holds and what standard tlog tools read. Pure functions, no I/O.
 */
import { checkCount } from "./merkle-proofs.js";
import { HASH_SIZE } from "./merkle.js";
import { LedgerError } from "./ledger-error.js";
import { checkHash, checkLevel, checkWidth, MAX_TILE_LEVEL, TILE_WIDTH, type TileRef } from "./tiles.js";

/** Entry bundles prefix each entry with a 2-byte big-endian length. */
export const MAX_ENTRY_SIZE = 0xffff;

export type ParsedTilePath = ({ readonly kind: "hashes"; readonly level: number } | { readonly kind: "entries" }) &
  Omit<TileRef, "level">;

/** tlog-tiles: N as 3-digit groups, every group but the last prefixed "x" (1234067 -> x001/x234/067). */
function encodeIndex(n: number): string {
  let out = String(n % 1000).padStart(3, "0");
  for (n = Math.floor(n / 1000); n > 0; n = Math.floor(n / 1000)) out = `x${String(n % 1000).padStart(3, "0")}/${out}`;
  return out;
}

function suffix(width: number): string {
  return width === TILE_WIDTH ? "" : `.p/${width}`;
}

/** `tile/<L>/<N>[.p/<W>]`; width undefined or 256 gives the full tile's path. */
export function tilePath(level: number, index: number, width?: number): string {
  return `tile/${checkLevel(level)}/${encodeIndex(checkCount("tile index", index))}${suffix(checkWidth(width))}`;
}

/** `tile/entries/<N>[.p/<W>]`: the entry bundle for leaves [256·N, 256·N + W). */
export function entriesPath(index: number, width?: number): string {
  return `tile/entries/${encodeIndex(checkCount("bundle index", index))}${suffix(checkWidth(width))}`;
}

const PATH_RE = /^tile\/(entries|0|[1-9][0-9]?)\/((?:x[0-9]{3}\/)*[0-9]{3})(?:\.p\/([1-9][0-9]{0,2}))?$/;

/** Parses a canonical tile or bundle path; anything else (leading zeros, x000 groups, .p/256) is bad_path. */
export function parseTilePath(path: string): ParsedTilePath {
  const m = typeof path === "string" && path.length <= 80 ? PATH_RE.exec(path) : null;
  if (!m) throw new LedgerError("bad_path", "not a tlog-tiles tile path");
  const [, kind, digits, w] = m as unknown as [string, string, string, string | undefined];
  const index = digits.split("/").reduce((acc, g) => acc * 1000 + Number(g.replace("x", "")), 0);
  const width = w === undefined ? TILE_WIDTH : Number(w);
  // Re-encoding rejects non-canonical indices such as x000/001 and anything past 2^53 - 1.
  if (!Number.isSafeInteger(index) || encodeIndex(index) !== digits || (w !== undefined && width >= TILE_WIDTH)) {
    throw new LedgerError("bad_path", `non-canonical tile path ${JSON.stringify(path)}`);
  }
  if (kind === "entries") return { kind: "entries", index, width };
  const level = Number(kind);
  if (level > MAX_TILE_LEVEL) throw new LedgerError("bad_path", `tile level ${level} is above ${MAX_TILE_LEVEL}`);
  return { kind: "hashes", level, index, width };
}

/** A tile's body is its hashes concatenated (tlog-tiles: "W × 32 bytes"). */
export function encodeTile(hashes: readonly Uint8Array[]): Uint8Array {
  if (!Array.isArray(hashes) || hashes.length < 1 || hashes.length > TILE_WIDTH) {
    throw new LedgerError("bad_tile", `a tile holds 1..${TILE_WIDTH} hashes`);
  }
  const out = new Uint8Array(hashes.length * HASH_SIZE);
  hashes.forEach((h, i) => out.set(checkHash(`tile hash ${i}`, h), i * HASH_SIZE));
  return out;
}

/** Splits a tile body into hashes; `width`, when given, is the width its path promises. */
export function decodeTile(bytes: Uint8Array, width?: number): Uint8Array[] {
  if (!(bytes instanceof Uint8Array)) throw new LedgerError("bad_tile", "tile body must be a Uint8Array");
  const n = bytes.length / HASH_SIZE;
  if (!Number.isInteger(n) || n < 1 || n > TILE_WIDTH) {
    throw new LedgerError("bad_tile", `tile body of ${bytes.length} bytes is not 1..${TILE_WIDTH} hashes`);
  }
  if (width !== undefined && n !== checkWidth(width)) throw new LedgerError("bad_tile", `tile has ${n} hashes, expected ${width}`);
  return Array.from({ length: n }, (_, i) => bytes.slice(i * HASH_SIZE, (i + 1) * HASH_SIZE));
}

/** tlog-tiles entry bundle: each entry as a 2-byte big-endian length then its bytes. */
export function encodeEntryBundle(entries: readonly Uint8Array[]): Uint8Array {
  if (!Array.isArray(entries) || entries.length < 1 || entries.length > TILE_WIDTH) {
    throw new LedgerError("bad_bundle", `a bundle holds 1..${TILE_WIDTH} entries`);
  }
  if (!entries.every((e) => e instanceof Uint8Array && e.length <= MAX_ENTRY_SIZE)) {
    throw new LedgerError("bad_bundle", `entries must be Uint8Arrays of at most ${MAX_ENTRY_SIZE} bytes`);
  }
  const out = new Uint8Array(entries.reduce((n, e) => n + 2 + e.length, 0));
  let pos = 0;
  for (const e of entries) {
    out.set([e.length >> 8, e.length & 0xff], pos);
    out.set(e, pos + 2);
    pos += 2 + e.length;
  }
  return out;
}

/** Splits an entry bundle (1..256 entries); `width`, when given, is the count its path promises. */
export function decodeEntryBundle(bytes: Uint8Array, width?: number): Uint8Array[] {
  if (!(bytes instanceof Uint8Array)) throw new LedgerError("bad_bundle", "bundle must be a Uint8Array");
  const entries: Uint8Array[] = [];
  for (let pos = 0; pos < bytes.length; ) {
    if (entries.length === TILE_WIDTH) throw new LedgerError("bad_bundle", `bundle has more than ${TILE_WIDTH} entries`);
    const len = pos + 2 <= bytes.length ? bytes[pos]! * 256 + bytes[pos + 1]! : 0;
    if (pos + 2 + len > bytes.length) throw new LedgerError("bad_bundle", "truncated entry or length");
    entries.push(bytes.slice(pos + 2, pos + 2 + len));
    pos += 2 + len;
  }
  if (entries.length === 0) throw new LedgerError("bad_bundle", "empty bundle");
  if (width !== undefined && entries.length !== checkWidth(width)) throw new LedgerError("bad_bundle", `expected ${width} entries`);
  return entries;
}
