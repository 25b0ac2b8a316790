/**
 * C2SP signed notes (https://c2sp.org/signed-note, v1.0.0) with Ed25519 keys: key IDs, verifier key
 * strings, signing and opening notes. Pure: no I/O, no clock; all input is hostile.
 *
 * Behaviour follows the spec and its reference implementation, golang.org/x/mod/sumdb/note, so notes
 * interoperate with Go tooling (Tessera, witnesses, sumdb). Deliberate differences, all stricter:
 *  - base64 must be canonical (RFC 4648 §3.5: zero pad bits), as every real encoder writes it;
 *  - every signature line from a known key is verified, repeated ones included (Go skips repeats);
 *  - the note has a byte limit on top of the 100-signature limit.
 */
import { bytesEqual, concatBytes, fromBase64, fromHex, toBase64, toHex, utf8, utf8Length } from "./bytes.js";
import { ed25519Verify, sha256 } from "./crypto.js";
import { LedgerError, type LedgerErrorCode } from "./ledger-error.js";

/** signed-note "Signature types": 0x01 = Ed25519. */
export const SIG_TYPE_ED25519 = 0x01;
/** signed-note: verifiers SHOULD cap the signature count and MUST accept at least 16; Go uses 100. */
export const MAX_SIGNATURES = 100;
/** Our cap on a whole note (a checkpoint is ~200 bytes; 100 post-quantum signatures fit well within). */
export const MAX_NOTE_BYTES = 1 << 20;
const MAX_KEY_STRING = 4096;

/**
 * A refused note, key or checkpoint: a LedgerError whose message starts with its code
 * ("bad_signature: ..."), as note errors always have, since callers show the message as is.
 * The codes and what they mean are in ledger-error.ts (signed notes and checkpoints).
 */
export function noteError(code: LedgerErrorCode, detail: string): LedgerError {
  return new LedgerError(code, `${code}: ${detail}`);
}

/** A key as a note names it: key name and key ID as 8 lowercase hex characters (big-endian uint32). */
export interface NoteKeyRef {
  readonly name: string;
  readonly keyId: string;
}

/** A trusted Ed25519 note key with its raw 32-byte public key. */
export interface NoteVerifier extends NoteKeyRef {
  readonly publicKey: Uint8Array;
}

export interface OpenedNote {
  /** The signed text, final newline included, separating blank line excluded. */
  readonly body: string;
  /** Known keys whose signatures verified, in note order, each once. Never empty. */
  readonly verifiedBy: NoteKeyRef[];
  /** Signatures from unknown keys, ignored as the spec requires, each distinct line once. */
  readonly unverified: NoteKeyRef[];
}

export type SignFn = (message: Uint8Array) => Uint8Array | Promise<Uint8Array>;

// ---- text rules -----------------------------------------------------------------------------------------

// Lone surrogates cannot be encoded as UTF-8 (with the u flag, a proper pair is one code point).
const LONE_SURROGATE = /\p{Cs}/u;
// signed-note "Format": no ASCII control characters (below U+0020) other than newline.
const CONTROL = /[\u0000-\u0009\u000b-\u001f]/;
// Go's unicode.IsSpace is exactly the Unicode White_Space property.
const SPACE_OR_PLUS = /[\p{White_Space}+]/u;
const SIG_PREFIX = "\u2014 "; // em dash, space
const HEX8 = /^[0-9a-fA-F]{8}$/;
const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The first signed-note text-rule violation in a decoded string, or null. */
export function noteTextProblem(text: string): { code: "invalid_utf8" | "control_character"; detail: string } | null {
  if (LONE_SURROGATE.test(text)) return { code: "invalid_utf8", detail: "is not valid UTF-8 (lone surrogate)" };
  const m = CONTROL.exec(text);
  if (!m) return null;
  const c = m[0].charCodeAt(0);
  const hint = c === 0x0d ? " (carriage return: CRLF line endings are not allowed)" : "";
  return { code: "control_character", detail: `contains control character U+${c.toString(16).padStart(4, "0")}${hint}` };
}

/** signed-note: key names are non-empty and contain no Unicode spaces and no "+". */
export function isValidKeyName(name: string): boolean {
  return typeof name === "string" && name.length > 0 && name.length <= MAX_KEY_STRING && !SPACE_OR_PLUS.test(name) && !CONTROL.test(name) && !LONE_SURROGATE.test(name);
}

/** Standard base64 (RFC 4648 §4), padded and canonical, or null. */
export function decodeBase64Strict(s: string): Uint8Array | null {
  if (!B64.test(s)) return null;
  const bytes = fromBase64(s);
  return bytes && toBase64(bytes) === s ? bytes : null;
}

function assertName(name: string): void {
  if (!isValidKeyName(name)) throw noteError("invalid_key_name", `key name ${JSON.stringify(String(name).slice(0, 80))} must be non-empty without spaces or "+"`);
}

function assertPublicKey(publicKey: Uint8Array): void {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) throw noteError("invalid_key", "an Ed25519 public key is 32 bytes");
}

// ---- keys -----------------------------------------------------------------------------------------------

/** signed-note: key ID = SHA-256(key name || 0x0A || type || key)[:4], as 8 hex characters. */
function keyHash(name: string, typedKey: Uint8Array): string {
  return toHex(sha256(utf8(name), Uint8Array.of(0x0a), typedKey).subarray(0, 4));
}

/** Ed25519 key ID: SHA-256(name || 0x0A || 0x01 || 32-byte public key)[:4], lowercase hex. */
export function keyId(name: string, publicKey: Uint8Array): string {
  assertName(name);
  assertPublicKey(publicKey);
  return keyHash(name, concatBytes([Uint8Array.of(SIG_TYPE_ED25519), publicKey]));
}

/** "<name>+<hex key ID>+<base64(0x01 || public key)>" (the vkey format of Go's sumdb/note). */
export function verifierKeyString(name: string, publicKey: Uint8Array): string {
  const id = keyId(name, publicKey);
  return `${name}+${id}+${toBase64(concatBytes([Uint8Array.of(SIG_TYPE_ED25519), publicKey]))}`;
}

/** A verifier for a raw 32-byte Ed25519 public key. */
export function noteVerifier(name: string, publicKey: Uint8Array): NoteVerifier {
  return { name, keyId: keyId(name, publicKey), publicKey: Uint8Array.from(publicKey) };
}

/** Splits at the first `count` "+" only: base64 contains "+". */
function splitPlus(s: string, count: number): string[] | null {
  const parts: string[] = [];
  let rest = s;
  for (let i = 0; i < count; i++) {
    const at = rest.indexOf("+");
    if (at < 0) return null;
    parts.push(rest.slice(0, at));
    rest = rest.slice(at + 1);
  }
  parts.push(rest);
  return parts;
}

function parseTypedKey(name: string, hexId: string, b64: string, what: string): Uint8Array {
  if (!isValidKeyName(name)) throw noteError("invalid_key", `${what}: invalid key name`);
  if (!HEX8.test(hexId)) throw noteError("invalid_key", `${what}: key ID must be 8 hex digits`);
  const key = decodeBase64Strict(b64);
  if (!key || key.length === 0) throw noteError("invalid_key", `${what}: key is not standard base64`);
  return key;
}

/** Parses "<name>+<hex id>+<base64(0x01 || key)>", checking the ID against the name and key. */
export function parseVerifierKey(str: string): NoteVerifier {
  if (typeof str !== "string" || str.length > MAX_KEY_STRING) throw noteError("invalid_key", "verifier key: not a key string");
  const parts = splitPlus(str, 2);
  if (!parts) throw noteError("invalid_key", 'verifier key: expected "<name>+<hex id>+<base64 key>"');
  const [name, hexId, b64] = parts as [string, string, string];
  const key = parseTypedKey(name, hexId, b64, "verifier key");
  if (keyHash(name, key) !== hexId.toLowerCase()) throw noteError("key_id_mismatch", `verifier key: ID ${hexId} does not match the name and key`);
  if (key[0] !== SIG_TYPE_ED25519) throw noteError("unsupported_algorithm", `verifier key: signature type 0x${key[0]!.toString(16).padStart(2, "0")}, only Ed25519 (0x01)`);
  if (key.length !== 33) throw noteError("invalid_key", "verifier key: an Ed25519 public key is 32 bytes");
  return { name, keyId: hexId.toLowerCase(), publicKey: Uint8Array.from(key.subarray(1)) };
}

/** Ed25519 verification by a raw 32-byte key (crypto.ts: node:crypto where the runtime has it). */
function verifiesWith(publicKey: Uint8Array, message: Uint8Array, signature: Uint8Array): boolean {
  assertPublicKey(publicKey);
  return ed25519Verify(publicKey, message, signature);
}

// ---- notes ----------------------------------------------------------------------------------------------

/**
 * Signs `body` (the note text, ending in "\n") with one Ed25519 key and returns the whole note:
 * body, blank line, "— <name> <base64(key ID || signature)>\n". The signature is checked against
 * `publicKey` before it is emitted, so a signer/key mix-up cannot publish an unverifiable note.
 */
export async function signNote(body: string, name: string, sign: SignFn, publicKey: Uint8Array): Promise<string> {
  if (typeof body !== "string" || !body.endsWith("\n")) throw noteError("invalid_text", "note text must end with a newline");
  if (utf8Length(body) > MAX_NOTE_BYTES) throw noteError("too_large", `note text over ${MAX_NOTE_BYTES} bytes`);
  const problem = noteTextProblem(body);
  if (problem) throw noteError("invalid_text", `note text ${problem.detail}`);
  const id = keyId(name, publicKey);
  const message = utf8(body);
  const signature = await sign(message);
  if (!(signature instanceof Uint8Array) || signature.length !== 64) throw noteError("signer_mismatch", "the signer did not return a 64-byte Ed25519 signature");
  if (!verifiesWith(publicKey, message, signature)) {
    throw noteError("signer_mismatch", `the signer's signature does not verify with the public key of ${name}+${id}`);
  }
  return `${body}\n${SIG_PREFIX}${name} ${toBase64(concatBytes([fromHex(id), signature]))}\n`;
}

export interface OpenNoteOptions {
  maxSignatures?: number;
  maxBytes?: number;
}

/** A signed note cut at its last blank line, before any signature is checked. */
export interface SplitNote {
  /** The signed text, final newline included, separating blank line excluded. */
  readonly body: string;
  /** The signature lines without their newline, in note order (at least one). */
  readonly lines: readonly string[];
}

/** One signature line read: key name, key ID (8 lowercase hex) and the bytes after the key ID. */
export interface SignatureLine {
  readonly name: string;
  readonly keyId: string;
  readonly signature: Uint8Array;
}

/**
 * The framing of a signed note, shared by openNote and the cosignature verifier (tlog-cosignature.ts):
 * size bound, UTF-8, text rules, the split at the last blank line, newline-terminated signature lines
 * and their count. Throws LedgerError (noteError) on any failure.
 */
export function splitNote(note: string | Uint8Array, options: OpenNoteOptions = {}): SplitNote {
  const maxBytes = options.maxBytes ?? MAX_NOTE_BYTES;
  const maxSignatures = options.maxSignatures ?? MAX_SIGNATURES;
  let text: string;
  if (note instanceof Uint8Array) {
    if (note.length > maxBytes) throw noteError("too_large", `note is over ${maxBytes} bytes`);
    try {
      text = utf8Decoder.decode(note);
    } catch {
      throw noteError("invalid_utf8", "note is not valid UTF-8");
    }
  } else if (typeof note === "string") {
    if (note.length > maxBytes || utf8Length(note) > maxBytes) throw noteError("too_large", `note is over ${maxBytes} bytes`);
    text = note;
  } else {
    throw noteError("malformed_note", "note must be a string or bytes");
  }
  const problem = noteTextProblem(text);
  if (problem) throw noteError(problem.code, `note ${problem.detail}`);

  // "the text is separated from the signatures by the last empty line in the note"
  const split = text.lastIndexOf("\n\n");
  if (split < 0) throw noteError("malformed_note", "no blank line before the signatures");
  const body = text.slice(0, split + 1);
  const block = text.slice(split + 2);
  if (block.length === 0) throw noteError("malformed_note", "no signature lines");
  if (!block.endsWith("\n")) throw noteError("malformed_note", "signature block must end with a newline");
  const lines = block.slice(0, -1).split("\n");
  if (lines.length > maxSignatures) throw noteError("too_many_signatures", `${lines.length} signature lines, at most ${maxSignatures}`);
  return { body, lines };
}

/** Reads "— <name> <base64(key ID || signature)>" (no newline); `where` names the line in errors. */
export function parseSignatureLine(line: string, where: string): SignatureLine {
  if (!line.startsWith(SIG_PREFIX)) throw noteError("malformed_signature_line", `${where} does not start with "\u2014 "`);
  const rest = line.slice(SIG_PREFIX.length);
  const space = rest.indexOf(" ");
  if (space < 0) throw noteError("malformed_signature_line", `${where} has no signature after the key name`);
  const name = rest.slice(0, space);
  const b64 = rest.slice(space + 1);
  if (!isValidKeyName(name)) throw noteError("malformed_signature_line", `${where} has an invalid key name`);
  const sig = decodeBase64Strict(b64);
  if (!sig) throw noteError("malformed_signature_line", `${where}: signature is not standard base64`);
  if (sig.length < 5) throw noteError("malformed_signature_line", `${where}: signature shorter than key ID + 1 byte`);
  return { name, keyId: toHex(sig.subarray(0, 4)), signature: sig.subarray(4) };
}

/**
 * Parses and verifies a signed note. Signatures from keys not in `verifiers` (by name and key ID)
 * are ignored; at least one known key must verify; a known key whose signature fails rejects the
 * whole note. Throws LedgerError (noteError) with a specific code on any failure.
 */
export function openNote(note: string | Uint8Array, verifiers: readonly NoteVerifier[], options: OpenNoteOptions = {}): OpenedNote {
  const { body, lines } = splitNote(note, options);

  const byRef = new Map<string, NoteVerifier[]>();
  for (const v of verifiers) {
    const ref = `${v.name}\n${v.keyId}`;
    const list = byRef.get(ref) ?? [];
    if (!list.some((o) => bytesEqual(o.publicKey, v.publicKey))) list.push(v);
    byRef.set(ref, list);
  }

  const message = utf8(body);
  const verifiedBy: NoteKeyRef[] = [];
  const unverified: NoteKeyRef[] = [];
  const seenVerified = new Set<string>();
  const seenUnknown = new Set<string>();
  lines.forEach((line, i) => {
    const where = `signature line ${i + 1}`;
    const { name, keyId: id, signature: raw } = parseSignatureLine(line, where);
    const ref = `${name}\n${id}`;
    const known = byRef.get(ref);
    if (!known) {
      if (!seenUnknown.has(line)) unverified.push({ name, keyId: id });
      seenUnknown.add(line);
      return;
    }
    if (known.length > 1) throw noteError("ambiguous_verifier", `${known.length} different known keys are named ${name}+${id}`);
    if (raw.length !== 64 || !verifiesWith(known[0]!.publicKey, message, raw)) {
      throw noteError("bad_signature", `${where}: signature by known key ${name}+${id} does not verify`);
    }
    if (!seenVerified.has(ref)) verifiedBy.push({ name, keyId: id });
    seenVerified.add(ref);
  });
  if (verifiedBy.length === 0) {
    throw noteError("no_verified_signature", `no signature from a known key (${unverified.length} from unknown keys ignored)`);
  }
  return { body, verifiedBy, unverified };
}
