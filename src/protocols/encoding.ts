import { sha256 as nobleSha256 } from "@noble/hashes/sha2.js";

/**
 * Byte encodings the seed protocols put on the wire, in plain JavaScript: this folder runs in the
 * SDK too (edge runtimes have no Buffer). The decoders are strict, because a signature is checked
 * over bytes: two spellings of one value (missing padding, stray characters, non-zero trailing
 * bits) would let a verifier and a signer disagree about what was signed.
 */

const STD = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

function encode(bytes: Uint8Array, alphabet: string, pad: boolean): string {
  let out = "";
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    out += alphabet[n >> 18]! + alphabet[(n >> 12) & 63]! + alphabet[(n >> 6) & 63]! + alphabet[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    out += alphabet[n >> 18]! + alphabet[(n >> 12) & 63]! + (pad ? "==" : "");
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    out += alphabet[n >> 18]! + alphabet[(n >> 12) & 63]! + alphabet[(n >> 6) & 63]! + (pad ? "=" : "");
  }
  return out;
}

// Reverse tables (char code -> 6-bit value, -1 elsewhere): decoding runs over every signed payload,
// and a table lookup per character is an order of magnitude faster than alphabet.indexOf.
const reverse = (alphabet: string): Int8Array => {
  const table = new Int8Array(128).fill(-1);
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = i;
  return table;
};
const STD_REVERSE = reverse(STD);
const URL_REVERSE = reverse(URL);

function decode(s: string, table: Int8Array, padded: boolean): Uint8Array | null {
  if (typeof s !== "string") return null;
  let length = s.length;
  if (padded) {
    if (length % 4 !== 0) return null;
    if (s.endsWith("==")) length -= 2;
    else if (s.endsWith("=")) length -= 1;
  } else if (length % 4 === 1) return null;
  const out = new Uint8Array(Math.floor((length * 6) / 8));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < length; i++) {
    const c = s.charCodeAt(i);
    const v = c < 128 ? table[c]! : -1;
    if (v < 0) return null;
    acc = ((acc << 6) | v) & 0xffffff; // only the low bits are ever read
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >> bits) & 0xff;
    }
  }
  // Canonical only: the bits below the last whole byte must be zero.
  if (bits > 0 && (acc & ((1 << bits) - 1)) !== 0) return null;
  return out;
}

/** Standard base64 with padding (Go's StdEncoding). */
export const toBase64 = (bytes: Uint8Array): string => encode(bytes, STD, true);
/** Standard padded base64 in its one canonical spelling, else null. */
export const fromBase64Strict = (s: string): Uint8Array | null => decode(s, STD_REVERSE, true);
/** base64url without padding (RFC 4648 §5). */
export const toBase64Url = (bytes: Uint8Array): string => encode(bytes, URL, false);
/** Unpadded base64url in its one canonical spelling, else null. */
export const fromBase64UrlStrict = (s: string): Uint8Array | null => decode(s, URL_REVERSE, false);

export const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);

/** The text of well-formed UTF-8, else null (no replacement characters: bytes that sign must decode one way). */
export function fromUtf8Strict(bytes: Uint8Array): string | null {
  try {
    return new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    return null;
  }
}

export const sha256 = (bytes: Uint8Array): Uint8Array => nobleSha256(bytes);

export const toHex = (bytes: Uint8Array): string => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
