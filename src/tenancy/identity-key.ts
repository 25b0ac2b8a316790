// Invisible code points (zero-width space and joiners, soft hyphen, BOM, variation selectors...):
// Unicode's NFKC_Casefold drops them too, and they would let "car\u200Bol" pass for someone else.
// Control characters too (C0 and C1, e.g. U+0085, U+0007): they render as nothing in most browsers.
const INVISIBLE = /[\p{Default_Ignorable_Code_Point}\p{Cc}]/gu;
const SPACES = /\s+/gu;

/**
 * The form two identities (emails, names, ids) are compared in, for separation-of-duties checks:
 * "ｃarol@example.com", " Carol@Example.COM " and "carol@example.com" are one person.
 *
 * - NFKC first, so compatibility forms (fullwidth letters, ligatures like "ﬁ", "Ⅸ", no-break and
 *   ideographic spaces) become their plain letters before case is folded.
 * - Case: toUpperCase().toLowerCase() rather than toLowerCase() alone, because JS lowercasing is
 *   not Unicode full case folding: "Straße".toLowerCase() keeps "ß" while "STRASSE" gives "ss", and
 *   final "ς" stays apart from "σ". Upper-then-lower maps both like CaseFolding.txt's full (F) folds.
 *   It also folds a little more than CaseFolding (Turkish dotless "ı" becomes "i"); these checks only
 *   ever refuse, so matching too much fails closed and matching too little is the bug.
 * - NFKC again: case mapping can leave decomposed sequences ("ǰ" upper-cases to "J" + U+030C).
 * - Invisible code points removed, runs of Unicode white space collapsed to one space, ends trimmed.
 *
 * Not covered: cross-script look-alikes (Cyrillic "с" for Latin "c"), which need the UTS #39
 * confusables table, not normalisation.
 */
export function identityKey(value: string): string {
  // White space first (tabs and newlines are control characters too, but they separate words).
  return value.normalize("NFKC").replace(SPACES, " ").replace(INVISIBLE, "").toUpperCase().toLowerCase().normalize("NFKC").replace(SPACES, " ").trim();
}

/** Whether two identities are the same after identityKey; an empty identity matches nothing. */
export function sameIdentity(a: string, b: string): boolean {
  const ka = identityKey(a);
  return ka !== "" && ka === identityKey(b);
}
