/**
 * A small CBOR (RFC 8949) decoder for the one CBOR structure an offline verifier reads: a COSE_Key
 * (RFC 9052 §7) as WebAuthn authenticators produce it. cbor.ts is the ledger's encoder and writes a
 * different profile; this reads only what a COSE key needs and refuses everything else.
 *
 * Supported: unsigned and negative integers (within ±2^53), byte strings, text strings, arrays and
 * maps of definite length. Refused: tags, floats, simple values other than false/true/null,
 * indefinite lengths, duplicate map keys, nesting deeper than MAX_DEPTH and (for decodeCborExact)
 * trailing bytes. Input is hostile: lengths are checked against the bytes left before anything is
 * allocated, and every failure is a LedgerError with code invalid_cbor, never another exception.
 */
import { LedgerError } from "./ledger-error.js";

export type CborValue = number | Uint8Array | string | boolean | null | CborValue[] | Map<number | string, CborValue>;

/** Every refusal: the ledger core's one error type (ledger-error.ts), code invalid_cbor. */
const refuse = (message: string): LedgerError => new LedgerError("invalid_cbor", message);

const MAX_DEPTH = 16;
const MAX_ITEMS = 1024;

class Reader {
  at = 0;
  items = 0;
  constructor(readonly bytes: Uint8Array) {}

  byte(): number {
    if (this.at >= this.bytes.length) throw refuse("unexpected end of CBOR");
    return this.bytes[this.at++]!;
  }

  take(n: number): Uint8Array {
    if (n > this.bytes.length - this.at) throw refuse("CBOR length runs past the end");
    const out = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  /** The argument of an initial byte (RFC 8949 §3): the value itself, or the 1/2/4/8 bytes after it. */
  argument(info: number): number {
    if (info < 24) return info;
    const width = info === 24 ? 1 : info === 25 ? 2 : info === 26 ? 4 : info === 27 ? 8 : 0;
    if (width === 0) throw refuse(info === 31 ? "indefinite lengths are not supported" : `reserved additional information ${info}`);
    let n = 0;
    for (const b of this.take(width)) n = n * 256 + b;
    if (!Number.isSafeInteger(n)) throw refuse("CBOR integer beyond 2^53");
    return n;
  }
}

function item(r: Reader, depth: number): CborValue {
  if (depth > MAX_DEPTH) throw refuse(`CBOR nested deeper than ${MAX_DEPTH}`);
  if (++r.items > MAX_ITEMS) throw refuse(`CBOR holds more than ${MAX_ITEMS} items`);
  const initial = r.byte();
  const major = initial >> 5;
  const info = initial & 0x1f;
  switch (major) {
    case 0:
      return r.argument(info);
    case 1:
      return -1 - r.argument(info);
    case 2:
      return r.take(r.argument(info)).slice();
    case 3: {
      const bytes = r.take(r.argument(info));
      try {
        return new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      } catch {
        throw refuse("CBOR text is not UTF-8");
      }
    }
    case 4: {
      const n = r.argument(info);
      if (n > r.bytes.length - r.at) throw refuse("CBOR array longer than its bytes");
      const out: CborValue[] = [];
      for (let i = 0; i < n; i++) out.push(item(r, depth + 1));
      return out;
    }
    case 5: {
      const n = r.argument(info);
      if (n * 2 > r.bytes.length - r.at) throw refuse("CBOR map longer than its bytes");
      const out = new Map<number | string, CborValue>();
      for (let i = 0; i < n; i++) {
        const key = item(r, depth + 1);
        if (typeof key !== "number" && typeof key !== "string") throw refuse("CBOR map key is not an integer or text");
        if (out.has(key)) throw refuse(`CBOR map repeats key ${String(key)}`);
        out.set(key, item(r, depth + 1));
      }
      return out;
    }
    case 7:
      if (info === 20) return false;
      if (info === 21) return true;
      if (info === 22) return null;
      throw refuse("CBOR floats and simple values are not supported");
    default:
      throw refuse("CBOR tags are not supported");
  }
}

/** The first CBOR item of `bytes` and how many bytes it took. */
export function decodeCborPrefix(bytes: Uint8Array): { value: CborValue; length: number } {
  const r = new Reader(bytes);
  const value = item(r, 0);
  return { value, length: r.at };
}

/** Exactly one CBOR item filling `bytes`. */
export function decodeCborExact(bytes: Uint8Array): CborValue {
  const { value, length } = decodeCborPrefix(bytes);
  if (length !== bytes.length) throw refuse(`${bytes.length - length} bytes after the CBOR item`);
  return value;
}
