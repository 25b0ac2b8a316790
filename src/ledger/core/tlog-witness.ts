/**
 * The wire texts of C2SP tlog-witness (https://c2sp.org/tlog-witness), used by both sides: the log
 * (the vault) formats an add-checkpoint request and reads the witness's answer; the witness
 * (src/witness/) parses the request and formats the answer. Pure; all input is hostile, bounded and
 * parsed strictly (what we would never send is refused, not guessed at).
 *
 *   POST <submission prefix>/add-checkpoint
 *   old <size>\n                      decimal, no leading zeros ("0" for a first submission)
 *   <base64 hash>\n ...               RFC 6962 consistency proof old -> new, at most 63 lines, none if old is 0
 *   \n                                an empty line
 *   <signed checkpoint note>          body, blank line, signature lines
 *
 *   200  body: one or more cosignature lines "— <name> <base64>\n"
 *   409  Content-Type text/x.tlog.size, body "<size>\n": the witness's size for this log (old was wrong)
 */
import { toBase64 } from "./bytes.js";
import { LedgerError } from "./ledger-error.js";
import { decodeBase64Strict, MAX_NOTE_BYTES, MAX_SIGNATURES, parseSignatureLine } from "./signed-note.js";

export const ADD_CHECKPOINT_PATH = "/add-checkpoint";
/** The media type of a 409 answer whose body is the witness's tree size for the log. */
export const TLOG_SIZE_CONTENT_TYPE = "text/x.tlog.size";
/** "The client MUST NOT send more than 63 consistency proof lines." */
export const MAX_PROOF_LINES = 63;
/** A whole request: the old line, 63 proof lines (45 bytes each) and a note of at most MAX_NOTE_BYTES. */
export const MAX_ADD_CHECKPOINT_BYTES = MAX_NOTE_BYTES + 4096;
/** A 200 answer: MAX_SIGNATURES lines of a few hundred bytes each is far below this. */
export const MAX_COSIGNATURE_RESPONSE_BYTES = 64 * 1024;

export interface AddCheckpointRequest {
  /** The size of the witness's latest cosigned checkpoint, as the log believes it (0 for none). */
  readonly oldSize: number;
  /** RFC 6962 consistency proof from oldSize to the checkpoint's size. */
  readonly proof: readonly Uint8Array[];
  /** The signed checkpoint note, unverified: the witness opens it with the log's keys. */
  readonly note: string;
}

const SIZE = /^(?:0|[1-9][0-9]{0,15})$/;
const utf8Decoder = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

function malformed(detail: string): LedgerError {
  return new LedgerError("malformed_add_checkpoint", `malformed_add_checkpoint: ${detail}`);
}

function badResponse(detail: string): LedgerError {
  return new LedgerError("malformed_witness_response", `malformed_witness_response: ${detail}`);
}

/** A canonical decimal size as a safe integer, or null. */
function readSize(text: string): number | null {
  if (!SIZE.test(text)) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : null;
}

function decode(body: string | Uint8Array, max: number, fail: (detail: string) => LedgerError): string {
  if (typeof body === "string") {
    if (body.length > max) throw fail(`over ${max} bytes`);
    return body;
  }
  if (!(body instanceof Uint8Array)) throw fail("not text or bytes");
  if (body.length > max) throw fail(`over ${max} bytes`);
  try {
    return utf8Decoder.decode(body);
  } catch {
    throw fail("not valid UTF-8");
  }
}

/** The request body. Refuses what the spec forbids: a proof with old size 0, more than 63 hashes. */
export function formatAddCheckpoint(req: { oldSize: number; proof: readonly Uint8Array[]; note: string }): string {
  if (!Number.isSafeInteger(req.oldSize) || req.oldSize < 0) throw malformed("old size must be a non-negative safe integer");
  if (!Array.isArray(req.proof) || req.proof.length > MAX_PROOF_LINES) throw malformed(`a proof has at most ${MAX_PROOF_LINES} hashes`);
  if (req.oldSize === 0 && req.proof.length > 0) throw malformed("the proof must be empty when the old size is 0");
  for (const h of req.proof) if (!(h instanceof Uint8Array) || h.length !== 32) throw malformed("proof hashes are 32 bytes");
  if (typeof req.note !== "string" || !req.note.endsWith("\n") || req.note.startsWith("\n")) throw malformed("the note must be a signed note text");
  return [`old ${req.oldSize}`, ...req.proof.map(toBase64), "", req.note].join("\n");
}

/**
 * Parses a request body: the old size line, at most 63 canonical base64 32-byte hashes, an empty line,
 * then everything else as the note (checked later, by openCheckpoint with the log's keys). The first
 * empty line ends the proof: proof lines are never empty, and the note has its own blank line.
 */
export function parseAddCheckpoint(body: string | Uint8Array): AddCheckpointRequest {
  const text = decode(body, MAX_ADD_CHECKPOINT_BYTES, malformed);
  const cut = text.indexOf("\n\n");
  if (cut < 0) throw malformed("no empty line between the proof and the checkpoint");
  // At most the old line and 63 proof lines: bounded before splitting.
  if (cut > 64 * 64) throw malformed(`more than ${MAX_PROOF_LINES} proof lines`);
  const [oldLine, ...proofLines] = text.slice(0, cut).split("\n") as [string, ...string[]];
  if (!oldLine.startsWith("old ")) throw malformed('the first line must be "old <size>"');
  const oldSize = readSize(oldLine.slice(4));
  if (oldSize === null) throw malformed("the old size is not a decimal without leading zeros below 2^53");
  if (proofLines.length > MAX_PROOF_LINES) throw malformed(`${proofLines.length} proof lines, at most ${MAX_PROOF_LINES}`);
  if (oldSize === 0 && proofLines.length > 0) throw malformed("the proof must be empty when the old size is 0");
  const proof = proofLines.map((line, i) => {
    const hash = decodeBase64Strict(line);
    if (!hash || hash.length !== 32) throw malformed(`proof line ${i + 1} is not standard base64 of 32 bytes`);
    return hash;
  });
  const note = text.slice(cut + 2);
  if (note.length === 0) throw malformed("no checkpoint after the empty line");
  return { oldSize, proof, note };
}

/** The body of a 409 answer: the witness's size for the log, "<size>\n". */
export function formatSizeResponse(size: number): string {
  if (!Number.isSafeInteger(size) || size < 0) throw badResponse("size must be a non-negative safe integer");
  return `${size}\n`;
}

/** Reads a 409 answer's text/x.tlog.size body. */
export function parseSizeResponse(body: string | Uint8Array): number {
  const text = decode(body, 64, badResponse);
  if (!text.endsWith("\n")) throw badResponse("the size line must end with a newline");
  const size = readSize(text.slice(0, -1));
  if (size === null) throw badResponse("not a decimal size without leading zeros below 2^53");
  return size;
}

/**
 * Reads a 200 answer: one or more newline-terminated note signature lines. Returns the lines without
 * their newline. Whether any of them is a valid cosignature is for verifyCosignatures to say, over the
 * note they are appended to (withCosignatures).
 */
export function parseCosignatureResponse(body: string | Uint8Array): string[] {
  const text = decode(body, MAX_COSIGNATURE_RESPONSE_BYTES, badResponse);
  if (text.length === 0 || !text.endsWith("\n")) throw badResponse("expected newline-terminated signature lines");
  const lines = text.slice(0, -1).split("\n");
  if (lines.length > MAX_SIGNATURES) throw badResponse(`more than ${MAX_SIGNATURES} signature lines`);
  lines.forEach((line, i) => {
    try {
      parseSignatureLine(line, `line ${i + 1}`);
    } catch (err) {
      throw badResponse((err as Error).message);
    }
  });
  return lines;
}

/**
 * The note with the given signature lines appended after its own (each once: a line already in the
 * note, or repeated, is not added again). "The client MAY concatenate [the response] to the
 * checkpoint, and use a note verification function configured with the witness keys it trusts."
 */
export function withCosignatures(note: string, lines: readonly string[]): string {
  if (typeof note !== "string" || !note.endsWith("\n") || !note.includes("\n\n")) throw badResponse("the note must be a signed note text");
  const present = new Set(note.slice(note.lastIndexOf("\n\n") + 2).split("\n"));
  let out = note;
  for (const line of lines) {
    parseSignatureLine(line, "cosignature line");
    if (present.has(line)) continue;
    present.add(line);
    out += `${line}\n`;
  }
  return out;
}
