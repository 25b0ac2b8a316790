/**
 * Index of the quote closing the JSON string that opens at `start`, in text JSON.parse accepted.
 * A quote is escaped when an odd number of backslashes precede it. Each backslash run ends at a
 * quote, so every character is counted at most once: the scan stays linear. Shared by the scanners
 * that walk signed JSON after JSON.parse (tokens/duplicate-keys.ts, protocols/stepauth/strict-json.ts).
 */
export function stringEnd(text: string, start: number): number {
  let q = text.indexOf('"', start + 1);
  for (;;) {
    let backslashes = 0;
    for (let k = q - 1; text.charCodeAt(k) === 0x5c; k--) backslashes++;
    if (backslashes % 2 === 0) return q;
    q = text.indexOf('"', q + 1);
  }
}
