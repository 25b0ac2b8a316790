/**
 * C2SP transparency-log checkpoints (https://c2sp.org/tlog-checkpoint, v1.0.0): the note text of a
 * signed note (./signed-note.ts) that commits to an RFC 6962 Merkle tree head. Pure; input is hostile.
 *
 *   <origin>\n<tree size, decimal, no leading zeros>\n<base64 root hash>\n[<extension line>\n...]
 */
import { toBase64, utf8Length } from "./bytes.js";
import type { LedgerError } from "./ledger-error.js";
import {
  decodeBase64Strict,
  isValidKeyName,
  MAX_NOTE_BYTES,
  noteError,
  noteTextProblem,
  openNote,
  type NoteKeyRef,
  type NoteVerifier,
  type OpenNoteOptions,
} from "./signed-note.js";

export interface Checkpoint {
  /** Log identity; our logs use a schema-less URL that is also the signing key's name. */
  readonly origin: string;
  /** Number of leaves, a safe integer (checkpoints above 2^53 - 1 are refused). */
  readonly size: number;
  /** RFC 6962 Merkle tree hash (SHA-256) of the first `size` leaves. */
  readonly rootHash: Uint8Array;
  /** Opaque, non-empty extension lines; NOT RECOMMENDED by the spec (monitors cannot audit them). */
  readonly extensions: readonly string[];
}

export interface CheckpointInput {
  origin: string;
  size: number;
  rootHash: Uint8Array;
  extensions?: readonly string[];
}

const HASH_BYTES = 32;
// "ASCII decimal ... with no leading zeroes (unless the tree is empty ...)". 16 digits bound the work
// before the safe-integer check; 2^53 - 1 has 16 digits.
const SIZE = /^(?:0|[1-9][0-9]{0,15})$/;

function bad(detail: string): LedgerError {
  return noteError("malformed_checkpoint", detail);
}

function checkLine(line: string, what: string): void {
  if (typeof line !== "string" || line.length === 0) throw bad(`${what} must be a non-empty string`);
  if (line.includes("\n")) throw bad(`${what} must not contain a newline`);
  const problem = noteTextProblem(line);
  if (problem) throw bad(`${what} ${problem.detail}`);
}

/**
 * The checkpoint note text. Stricter than the parser on what we emit: the origin must also be a
 * valid key name (no Unicode spaces, no "+"), since our log's key name equals its origin.
 */
export function formatCheckpoint(cp: CheckpointInput): string {
  checkLine(cp.origin, "origin");
  if (!isValidKeyName(cp.origin)) throw bad('origin must contain neither spaces nor "+"');
  if (!Number.isSafeInteger(cp.size) || cp.size < 0) throw bad("tree size must be a non-negative safe integer");
  if (!(cp.rootHash instanceof Uint8Array) || cp.rootHash.length !== HASH_BYTES) throw bad(`root hash must be ${HASH_BYTES} bytes`);
  const extensions = cp.extensions ?? [];
  extensions.forEach((line, i) => checkLine(line, `extension line ${i + 1}`));
  const lines = [cp.origin, String(cp.size), toBase64(cp.rootHash), ...extensions];
  const text = lines.join("\n") + "\n";
  if (utf8Length(text) > MAX_NOTE_BYTES) throw bad(`checkpoint over ${MAX_NOTE_BYTES} bytes`);
  return text;
}

/**
 * Parses checkpoint note text (e.g. OpenedNote.body) with the spec's rules: at least three
 * non-empty lines, each newline-terminated; a canonical decimal size; a 32-byte standard-base64
 * root hash; extension lines non-empty. The origin may be any non-empty line: "clients MUST NOT
 * assume that the origin is following this format".
 */
export function parseCheckpoint(text: string): Checkpoint {
  if (typeof text !== "string") throw bad("checkpoint must be a string");
  if (text.length > MAX_NOTE_BYTES || utf8Length(text) > MAX_NOTE_BYTES) throw bad(`checkpoint over ${MAX_NOTE_BYTES} bytes`);
  const problem = noteTextProblem(text);
  if (problem) throw bad(`checkpoint ${problem.detail}`);
  if (!text.endsWith("\n")) throw bad("checkpoint text must end with a newline");
  const lines = text.slice(0, -1).split("\n");
  if (lines.length < 3) throw bad(`checkpoint has ${lines.length} lines, needs origin, tree size and root hash`);
  const [origin, sizeText, rootText, ...extensions] = lines as [string, string, string, ...string[]];
  if (origin.length === 0) throw bad("origin line is empty");
  if (!SIZE.test(sizeText)) throw bad(`tree size ${JSON.stringify(sizeText.slice(0, 40))} is not a decimal without leading zeros`);
  const size = Number(sizeText);
  if (!Number.isSafeInteger(size)) throw bad(`tree size ${sizeText} is above 2^53 - 1`);
  const rootHash = decodeBase64Strict(rootText);
  if (!rootHash) throw bad("root hash is not standard padded base64");
  if (rootHash.length !== HASH_BYTES) throw bad(`root hash is ${rootHash.length} bytes, not ${HASH_BYTES}`);
  extensions.forEach((line, i) => {
    if (line.length === 0) throw bad(`extension line ${i + 1} is empty`);
  });
  return { origin, size, rootHash: new Uint8Array(rootHash), extensions };
}

export interface OpenedCheckpoint {
  readonly checkpoint: Checkpoint;
  readonly body: string;
  readonly verifiedBy: NoteKeyRef[];
  readonly unverified: NoteKeyRef[];
}

/**
 * Opens a signed checkpoint: verifies the note with `verifiers` (openNote rules), parses its text
 * and, when `origin` is given, requires it. Clients must pin the origin they expect: a key trusted
 * for one log must not make another log's checkpoint acceptable.
 */
export function openCheckpoint(
  note: string | Uint8Array,
  verifiers: readonly NoteVerifier[],
  options: OpenNoteOptions & { origin?: string } = {},
): OpenedCheckpoint {
  const opened = openNote(note, verifiers, options);
  const checkpoint = parseCheckpoint(opened.body);
  if (options.origin !== undefined && checkpoint.origin !== options.origin) {
    throw noteError("origin_mismatch", `checkpoint origin ${JSON.stringify(checkpoint.origin.slice(0, 200))} is not ${JSON.stringify(options.origin)}`);
  }
  return { checkpoint, body: opened.body, verifiedBy: opened.verifiedBy, unverified: opened.unverified };
}
