/**
 * C2SP tlog-proof (https://c2sp.org/tlog-proof, "c2sp.org/tlog-proof@v1"): an offline-verifiable proof
 * that an entry is in a transparency log, as one text file:
 *
 *   c2sp.org/tlog-proof@v1
 *   [extra <standard base64 of opaque data>]
 *   index <decimal, no leading zeros>
 *   <standard base64 SHA-256 hash>            zero or more, RFC 6962 §2.1.1 PATH order (leaf's sibling first)
 *   <empty line>
 *   <the signed checkpoint note, verbatim>    tlog-checkpoint + signed-note, possibly cosigned
 *
 * Pure; the text is hostile. Parsing is strict (one canonical text per proof), so a proof that parses
 * here re-formats to the same bytes. Checkpoint verification is tlog-checkpoint.ts's; the inclusion
 * check is merkle.ts's RFC 9162 §2.1.3.2 verifier.
 */
import { LedgerError, type LedgerErrorCode } from "./ledger-error.js";
import { verifyInclusion } from "./merkle.js";
import { decodeBase64Strict, MAX_NOTE_BYTES, openNote, type NoteKeyRef, type NoteVerifier } from "./signed-note.js";
import { openCheckpoint, parseCheckpoint, type Checkpoint } from "./tlog-checkpoint.js";

export const TLOG_PROOF_HEADER = "c2sp.org/tlog-proof@v1";
/** The spec's extra data is opaque and unauthenticated; this bounds what we are willing to carry. */
export const MAX_EXTRA_BYTES = 64 * 1024;
/** A tree of at most 2^64 leaves has paths of at most 64 hashes (RFC 6962 §2.1.1). */
export const MAX_PROOF_HASHES = 64;
/** The note's own cap plus room for the header, the extra line and 64 hash lines. */
export const MAX_TLOG_PROOF_BYTES = MAX_NOTE_BYTES + 2 * MAX_EXTRA_BYTES;

const HASH_BYTES = 32;
// "ASCII decimal with no leading zeroes (unless the index is 0)"; 16 digits bound the work before
// the safe-integer check (2^53 - 1 has 16 digits).
const INDEX_LINE = /^index (0|[1-9][0-9]{0,15})$/;
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/**
 * A refused tlog-proof: a LedgerError whose message starts with its code, like a note's, and whose
 * cause is the note or Merkle error behind it. The codes are in ledger-error.ts (tlog-proof@v1).
 */
function proofError(code: LedgerErrorCode, detail: string, options?: { cause?: unknown }): LedgerError {
  return new LedgerError(code, `${code}: ${detail}`, options);
}

export interface TlogProofInput {
  index: number;
  proof: readonly Uint8Array[];
  /** The whole signed note (text, blank line, signature lines), exactly as the log served it. */
  checkpointNote: string;
  /** Opaque, unauthenticated application data. Omit it rather than pass an empty array. */
  extra?: Uint8Array;
}

export interface ParsedTlogProof {
  index: number;
  proof: Uint8Array[];
  checkpointNote: string;
  extra?: Uint8Array;
}

export interface VerifiedTlogProof {
  index: number;
  checkpoint: Checkpoint;
  verifiedBy: NoteKeyRef[];
  /** Still unauthenticated: the spec says applications MUST NOT implicitly trust it. */
  extra?: Uint8Array;
}

/**
 * Structural check of the note without trusting any key: opening it with no verifiers runs every
 * signed-note syntax rule (text rules, last blank line, "— name base64" lines) and can then only fail
 * with no_verified_signature; any other failure means the note itself is malformed.
 */
function checkNoteShape(note: string): void {
  if (note.length === 0) throw proofError("missing_checkpoint", "no checkpoint after the empty line");
  try {
    openNote(note, []);
  } catch (err) {
    if (!(err instanceof LedgerError)) throw err;
    if (err.code !== "no_verified_signature") throw proofError("bad_checkpoint", err.message, { cause: err });
  }
  try {
    // signed-note: "the text is separated from the signatures by the last empty line in the note".
    parseCheckpoint(note.slice(0, note.lastIndexOf("\n\n") + 1));
  } catch (err) {
    throw proofError("bad_checkpoint", err instanceof Error ? err.message : "not a checkpoint", { cause: err });
  }
}

function checkIndex(index: unknown): number {
  if (typeof index !== "number" || !Number.isSafeInteger(index) || index < 0) {
    throw proofError("bad_index", "index must be a non-negative safe integer");
  }
  return index;
}

/** The exact `c2sp.org/tlog-proof@v1` text. Throws LedgerError on anything it could not parse back. */
export function formatTlogProof(input: TlogProofInput): string {
  const index = checkIndex(input.index);
  if (!Array.isArray(input.proof)) throw proofError("bad_hash", "proof must be an array of hashes");
  if (input.proof.length > MAX_PROOF_HASHES) throw proofError("too_many_hashes", `${input.proof.length} hashes, at most ${MAX_PROOF_HASHES}`);
  const hashLines = input.proof.map((h, i) => {
    if (!(h instanceof Uint8Array) || h.length !== HASH_BYTES) throw proofError("bad_hash", `proof hash ${i} must be ${HASH_BYTES} bytes`);
    return Buffer.from(h).toString("base64");
  });
  const lines = [TLOG_PROOF_HEADER];
  if (input.extra !== undefined) {
    // "If no extra data is present, this line is omitted": an empty extra would be a second spelling.
    if (!(input.extra instanceof Uint8Array) || input.extra.length === 0) throw proofError("bad_extra", "extra must be non-empty bytes (omit it otherwise)");
    if (input.extra.length > MAX_EXTRA_BYTES) throw proofError("too_large", `extra over ${MAX_EXTRA_BYTES} bytes`);
    lines.push(`extra ${Buffer.from(input.extra).toString("base64")}`);
  }
  lines.push(`index ${index}`, ...hashLines);
  if (typeof input.checkpointNote !== "string") throw proofError("bad_checkpoint", "checkpointNote must be a string");
  checkNoteShape(input.checkpointNote);
  const text = `${lines.join("\n")}\n\n${input.checkpointNote}`;
  if (Buffer.byteLength(text, "utf8") > MAX_TLOG_PROOF_BYTES) throw proofError("too_large", `proof over ${MAX_TLOG_PROOF_BYTES} bytes`);
  return text;
}

function toText(input: string | Uint8Array): string {
  if (input instanceof Uint8Array) {
    if (input.length > MAX_TLOG_PROOF_BYTES) throw proofError("too_large", `proof over ${MAX_TLOG_PROOF_BYTES} bytes`);
    try {
      return utf8.decode(input);
    } catch {
      throw proofError("invalid_input", "proof is not valid UTF-8");
    }
  }
  if (typeof input !== "string") throw proofError("invalid_input", "proof must be a string or bytes");
  // Length first (cheap, and UTF-16 length <= UTF-8 length), then the exact byte count.
  if (input.length > MAX_TLOG_PROOF_BYTES || Buffer.byteLength(input, "utf8") > MAX_TLOG_PROOF_BYTES) {
    throw proofError("too_large", `proof over ${MAX_TLOG_PROOF_BYTES} bytes`);
  }
  return input;
}

/** Reads lines one at a time, so the checkpoint (after the first empty line) stays verbatim. */
class LineReader {
  private pos = 0;
  constructor(private readonly text: string) {}
  /** The next line without its "\n", or null when no complete line is left. */
  next(): string | null {
    const end = this.text.indexOf("\n", this.pos);
    if (end < 0) return null;
    const line = this.text.slice(this.pos, end);
    this.pos = end + 1;
    return line;
  }
  rest(): string {
    return this.text.slice(this.pos);
  }
}

/** Parses a tlog-proof strictly. Does not verify anything: see verifyTlogProof. */
export function parseTlogProof(input: string | Uint8Array): ParsedTlogProof {
  const reader = new LineReader(toText(input));
  if (reader.next() !== TLOG_PROOF_HEADER) throw proofError("bad_header", `first line must be exactly ${TLOG_PROOF_HEADER}`);

  let line = reader.next();
  let extra: Uint8Array | undefined;
  // "The second line MAY start with the string extra followed by a space and base64-encoded ... data."
  if (line !== null && line.startsWith("extra")) {
    const decoded = line.startsWith("extra ") ? decodeBase64Strict(line.slice("extra ".length)) : null;
    if (!decoded || decoded.length === 0) throw proofError("bad_extra", "extra line must be \"extra \" and non-empty canonical standard base64");
    if (decoded.length > MAX_EXTRA_BYTES) throw proofError("too_large", `extra over ${MAX_EXTRA_BYTES} bytes`);
    extra = new Uint8Array(decoded);
    line = reader.next();
  }

  const m = line === null ? null : INDEX_LINE.exec(line);
  if (!m) throw proofError("bad_index", 'expected "index N" (decimal, no leading zeros)');
  const index = Number(m[1]);
  if (!Number.isSafeInteger(index)) throw proofError("bad_index", "index is above 2^53 - 1");

  // "The next zero or more non-empty lines are the base64-encoded Merkle inclusion proof ... one
  // SHA-256 hash per line"; the first empty line ends them.
  const proof: Uint8Array[] = [];
  for (;;) {
    const hashLine = reader.next();
    if (hashLine === null) throw proofError("missing_checkpoint", "no empty line before the checkpoint");
    if (hashLine === "") break;
    if (proof.length === MAX_PROOF_HASHES) throw proofError("too_many_hashes", `more than ${MAX_PROOF_HASHES} proof hashes`);
    const hash = decodeBase64Strict(hashLine);
    if (!hash || hash.length !== HASH_BYTES) {
      throw proofError("bad_hash", `proof line ${proof.length + 1} is not canonical standard base64 of ${HASH_BYTES} bytes`);
    }
    proof.push(new Uint8Array(hash));
  }

  // "After the inclusion proof lines and an empty line, the checkpoint ... is included verbatim."
  const checkpointNote = reader.rest();
  checkNoteShape(checkpointNote);
  return extra === undefined ? { index, proof, checkpointNote } : { index, proof, checkpointNote, extra };
}

/**
 * Parses `text`, opens its checkpoint with `verifiers` (at least one must sign; unknown signers such
 * as witnesses we do not track are ignored, as signed-note requires) and checks that `leafHash` is at
 * the proof's index in the checkpointed tree. Pin `origin` when the caller knows which log to expect.
 * Throws LedgerError on any failure; returns what was verified.
 */
export function verifyTlogProof(
  text: string | Uint8Array,
  leafHash: Uint8Array,
  verifiers: readonly NoteVerifier[],
  options: { origin?: string } = {},
): VerifiedTlogProof {
  if (!(leafHash instanceof Uint8Array) || leafHash.length !== HASH_BYTES) throw proofError("bad_leaf_hash", `leaf hash must be ${HASH_BYTES} bytes`);
  const parsed = parseTlogProof(text);
  let checkpoint: Checkpoint;
  let verifiedBy: NoteKeyRef[];
  try {
    ({ checkpoint, verifiedBy } = openCheckpoint(parsed.checkpointNote, verifiers, options));
  } catch (err) {
    if (err instanceof LedgerError) throw proofError("checkpoint_rejected", err.message, { cause: err });
    throw err;
  }
  if (parsed.index >= checkpoint.size) {
    throw proofError("index_out_of_range", `index ${parsed.index} is not below the checkpoint's tree size ${checkpoint.size}`);
  }
  let included: boolean;
  try {
    included = verifyInclusion(leafHash, parsed.index, checkpoint.size, parsed.proof, checkpoint.rootHash);
  } catch (err) {
    // Index and hash lengths were checked above, so what is left is a wrong number of hashes.
    if (err instanceof LedgerError) throw proofError("bad_proof", err.message, { cause: err });
    throw err;
  }
  if (!included) throw proofError("root_mismatch", `the proof does not lead from the leaf to the root of tree size ${checkpoint.size}`);
  const verified: VerifiedTlogProof = { index: parsed.index, checkpoint, verifiedBy };
  if (parsed.extra !== undefined) verified.extra = parsed.extra;
  return verified;
}
