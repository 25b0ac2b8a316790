/**
 * C2SP tlog-cosignature (https://c2sp.org/tlog-cosignature), the Ed25519 type: a witness's timestamped
 * statement that, as of that time, the checkpoint is the largest consistent tree head it has seen for
 * the log. Pure: no I/O, no clock (the caller passes the timestamp); all input is hostile.
 *
 *   key ID   = SHA-256(<name> || "\n" || 0x04 || 32-byte public key)[:4]
 *   vkey     = <name>+<hex key ID>+<base64(0x04 || public key)>
 *   message  = "cosignature/v1\n" "time <unix seconds>\n" <checkpoint body, final newline included>
 *   line     = "— <name> " base64(key ID || u64 big-endian timestamp || 64-byte Ed25519 signature) "\n"
 *
 * The message commits to the checkpoint body but not to the cosigner's name, so one key must never
 * serve two cosigners (the spec says so); the key ID binds the name for lookup only.
 * Timestamps are JavaScript numbers: the spec allows up to 2^63 - 1, we take up to 2^53 - 1 (the year
 * 285 million), and refuse more as `bad_timestamp` (verifiers MAY reject future timestamps).
 */
import { bytesEqual, concatBytes, fromHex, toBase64, toHex, utf8 } from "./bytes.js";
import { ed25519Verify, sha256 } from "./crypto.js";
import { LedgerError } from "./ledger-error.js";
import {
  decodeBase64Strict,
  isValidKeyName,
  noteError,
  parseSignatureLine,
  splitNote,
  type OpenNoteOptions,
  type SignFn,
} from "./signed-note.js";
import { parseCheckpoint, type Checkpoint } from "./tlog-checkpoint.js";

/** signed-note signature type of Ed25519 cosignatures (tlog-cosignature "Format"). */
export const SIG_TYPE_COSIGNATURE_V1 = 0x04;
const HEADER = "cosignature/v1\n";
const SIG_PREFIX = "\u2014 ";
const HEX8 = /^[0-9a-fA-F]{8}$/;
const MAX_KEY_STRING = 4096;
const TWO_32 = 2 ** 32;

/** A trusted cosigner (witness): its name, key ID (8 lowercase hex) and raw 32-byte Ed25519 key. */
export interface CosignatureVerifier {
  readonly name: string;
  readonly keyId: string;
  readonly publicKey: Uint8Array;
}

/** A cosignature that verified: whose, and when the witness made it (Unix seconds). */
export interface Cosigned {
  readonly name: string;
  readonly keyId: string;
  readonly timestamp: number;
}

export interface VerifiedCosignatures {
  /** The checkpoint text the cosignatures cover (the note body). */
  readonly body: string;
  readonly checkpoint: Checkpoint;
  /** Each trusted witness with a valid cosignature once (latest timestamp), in note order. */
  readonly cosigned: Cosigned[];
}

function checkName(name: string): void {
  if (!isValidKeyName(name)) throw noteError("invalid_key_name", `cosigner name ${JSON.stringify(String(name).slice(0, 80))} must be non-empty without spaces or "+"`);
}

function checkPublicKey(publicKey: Uint8Array): void {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== 32) throw noteError("invalid_key", "an Ed25519 public key is 32 bytes");
}

function checkTimestamp(timestamp: number): void {
  if (typeof timestamp !== "number" || !Number.isSafeInteger(timestamp) || timestamp < 0) {
    throw new LedgerError("bad_timestamp", `bad_timestamp: a cosignature timestamp is an integer from 0 to 2^53 - 1, got ${String(timestamp).slice(0, 40)}`);
  }
}

/** The checkpoint a cosignature may cover: tlog-checkpoint text, which parseCheckpoint checks canonically. */
function checkpointOf(body: string): Checkpoint {
  return parseCheckpoint(body);
}

/** Key ID of an Ed25519 cosigner: SHA-256(name || 0x0A || 0x04 || public key)[:4], lowercase hex. */
export function cosignatureKeyId(name: string, publicKey: Uint8Array): string {
  checkName(name);
  checkPublicKey(publicKey);
  return toHex(sha256(utf8(name), Uint8Array.of(0x0a, SIG_TYPE_COSIGNATURE_V1), publicKey).subarray(0, 4));
}

/** "<name>+<hex key ID>+<base64(0x04 || public key)>": what a witness hands to the logs and verifiers that trust it. */
export function cosignatureVerifierKey(name: string, publicKey: Uint8Array): string {
  const id = cosignatureKeyId(name, publicKey);
  return `${name}+${id}+${toBase64(concatBytes([Uint8Array.of(SIG_TYPE_COSIGNATURE_V1), publicKey]))}`;
}

export function cosignatureVerifier(name: string, publicKey: Uint8Array): CosignatureVerifier {
  return { name, keyId: cosignatureKeyId(name, publicKey), publicKey: Uint8Array.from(publicKey) };
}

/**
 * Parses a cosigner vkey, checking its key ID against the name and key. A note (log) key, type 0x01,
 * is refused with a message saying so: confusing the two would make a log key "cosign".
 */
export function parseCosignatureVerifierKey(vkey: string): CosignatureVerifier {
  if (typeof vkey !== "string" || vkey.length > MAX_KEY_STRING) throw noteError("invalid_key", "cosigner key: not a key string");
  const first = vkey.indexOf("+");
  const second = first < 0 ? -1 : vkey.indexOf("+", first + 1);
  if (second < 0) throw noteError("invalid_key", 'cosigner key: expected "<name>+<hex id>+<base64 key>"');
  const name = vkey.slice(0, first);
  const hexId = vkey.slice(first + 1, second);
  const key = decodeBase64Strict(vkey.slice(second + 1));
  if (!isValidKeyName(name)) throw noteError("invalid_key", "cosigner key: invalid key name");
  if (!HEX8.test(hexId)) throw noteError("invalid_key", "cosigner key: key ID must be 8 hex digits");
  if (!key || key.length === 0) throw noteError("invalid_key", "cosigner key: key is not standard base64");
  const id = toHex(sha256(utf8(name), Uint8Array.of(0x0a), key).subarray(0, 4));
  if (id !== hexId.toLowerCase()) throw noteError("key_id_mismatch", `cosigner key: ID ${hexId} does not match the name and key`);
  if (key[0] !== SIG_TYPE_COSIGNATURE_V1) {
    const hint = key[0] === 0x01 ? " (0x01 is a log's note key; a witness key has type 0x04)" : "";
    throw noteError("unsupported_algorithm", `cosigner key: signature type 0x${key[0]!.toString(16).padStart(2, "0")}, only Ed25519 cosignatures (0x04)${hint}`);
  }
  if (key.length !== 33) throw noteError("invalid_key", "cosigner key: an Ed25519 public key is 32 bytes");
  return { name, keyId: id, publicKey: Uint8Array.from(key.subarray(1)) };
}

/** The signed message: "cosignature/v1\ntime <ts>\n" followed by the checkpoint body (which must be one). */
export function cosignatureMessage(checkpointBody: string, timestamp: number): Uint8Array {
  checkTimestamp(timestamp);
  checkpointOf(checkpointBody);
  return utf8(`${HEADER}time ${timestamp}\n${checkpointBody}`);
}

function u64be(value: number): Uint8Array {
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint32(0, Math.floor(value / TWO_32));
  view.setUint32(4, value % TWO_32);
  return out;
}

/** Reads a big-endian u64; above 2^53 - 1 it is a bad_timestamp (see the file comment). */
function readU64be(bytes: Uint8Array, where: string): number {
  const view = new DataView(bytes.buffer, bytes.byteOffset, 8);
  const value = view.getUint32(0) * TWO_32 + view.getUint32(4);
  if (!Number.isSafeInteger(value)) throw new LedgerError("bad_timestamp", `bad_timestamp: ${where}: timestamp above 2^53 - 1`);
  return value;
}

/**
 * Cosigns `checkpointBody` (the note text of a checkpoint, final newline included) as `name` at
 * `timestamp` and returns the signature line, "— <name> <base64>\n", to append after the note's
 * other signatures. The signature is checked against `publicKey` before it is emitted.
 */
export async function signCosignature(checkpointBody: string, name: string, timestamp: number, sign: SignFn, publicKey: Uint8Array): Promise<string> {
  const id = cosignatureKeyId(name, publicKey);
  const message = cosignatureMessage(checkpointBody, timestamp);
  const signature = await sign(message);
  if (!(signature instanceof Uint8Array) || signature.length !== 64) throw noteError("signer_mismatch", "the signer did not return a 64-byte Ed25519 signature");
  if (!ed25519Verify(publicKey, message, signature)) throw noteError("signer_mismatch", `the signer's signature does not verify with the public key of ${name}+${id}`);
  return `${SIG_PREFIX}${name} ${toBase64(concatBytes([fromHex(id), u64be(timestamp), signature]))}\n`;
}

/**
 * The cosignatures of trusted `witnesses` on a signed checkpoint note. Lines from other keys (the log's
 * own signature, unknown witnesses) are ignored, as the spec requires; a line from a trusted witness
 * that does not verify (or whose timestamp is out of range) refuses the whole note (bad_signature,
 * bad_timestamp). The log's signature is NOT checked here: open the note with openCheckpoint too.
 * The result may list no witness: the caller decides how many it needs.
 */
export function verifyCosignatures(note: string | Uint8Array, witnesses: readonly CosignatureVerifier[], options: OpenNoteOptions = {}): VerifiedCosignatures {
  const { body, lines } = splitNote(note, options);
  const checkpoint = checkpointOf(body);
  const byRef = new Map<string, CosignatureVerifier>();
  for (const w of witnesses) {
    const ref = `${w.name}\n${w.keyId}`;
    const other = byRef.get(ref);
    if (other && !bytesEqual(other.publicKey, w.publicKey)) throw noteError("ambiguous_verifier", `two different trusted cosigner keys are named ${w.name}+${w.keyId}`);
    byRef.set(ref, w);
  }
  const found = new Map<string, Cosigned>();
  lines.forEach((line, i) => {
    const where = `signature line ${i + 1}`;
    const { name, keyId, signature } = parseSignatureLine(line, where);
    const witness = byRef.get(`${name}\n${keyId}`);
    if (!witness) return;
    if (signature.length !== 8 + 64) throw noteError("bad_signature", `${where}: cosignature by ${name}+${keyId} is ${signature.length} bytes, not 72`);
    const timestamp = readU64be(signature, where);
    if (!ed25519Verify(witness.publicKey, cosignatureMessage(body, timestamp), signature.subarray(8))) {
      throw noteError("bad_signature", `${where}: cosignature by trusted witness ${name}+${keyId} does not verify`);
    }
    const ref = `${name}\n${keyId}`;
    const before = found.get(ref);
    if (!before || before.timestamp < timestamp) found.set(ref, { name, keyId, timestamp });
  });
  return { body, checkpoint, cosigned: [...found.values()] };
}
