/**
 * Number literals that JSON.parse reads as a different number than the one written. The gateway
 * hashes the parsed value (an IEEE double), while the upstream may parse the same bytes exactly
 * (Python ints, Go json.Number, BigDecimal): an approval for 9007199254740992 would then cover a body
 * saying 9007199254740993, and 1e400 would have no value at all. Such a body has two meanings, so it
 * is refused, as a body that repeats a member name is. Every literal that names exactly the decimal
 * its double prints as (5, 5.0, 1e2, 0.1, 2.5e-3) is accepted.
 *
 * Run only on text JSON.parse accepted. Iterative and linear: strings are skipped with stringEnd (the
 * one the duplicate-key scanners share, src/protocols/json-string-end.ts).
 */
import { stringEnd } from "../../protocols/json-string-end.js";

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/** The first number literal whose double is not the number it writes, or null. */
export function findInexactNumber(text: string): string | null {
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      i = stringEnd(text, i) + 1;
      continue;
    }
    if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      NUMBER.lastIndex = i;
      const literal = NUMBER.exec(text)![0];
      if (!isExactNumber(literal)) return literal;
      i += literal.length;
      continue;
    }
    i++;
  }
  return null;
}

/** True when the double JSON.parse (or Number) makes of this decimal literal is the number it writes. */
export function isExactNumber(literal: string): boolean {
  const value = Number(literal);
  return Number.isFinite(value) && decimalOf(literal) === decimalOf(String(value));
}

/** A decimal in one spelling: sign, significant digits, exponent ("5.0", "5" and "0.5e1" agree). */
function decimalOf(text: string): string {
  const m = /^(-?)(\d+)(?:\.(\d+))?(?:[eE]([+-]?\d+))?$/.exec(text)!;
  const digits = `${m[2]}${m[3] ?? ""}`;
  const lead = digits.length - digits.replace(/^0+/, "").length;
  const significant = digits.replace(/^0+/, "").replace(/0+$/, "");
  if (significant === "") return "0"; // -0 and 0 are the same number to RFC 8785
  const exponent = Number(m[4] ?? 0) + m[2]!.length - lead;
  return `${m[1]}${significant}e${exponent}`;
}

