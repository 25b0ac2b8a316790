/**
 * The logs a witness trusts: origin → the note verifier keys whose signatures make a checkpoint of that
 * origin acceptable. Given on the command line as `--log "<vkey>"` (the origin is the key's name, as for
 * Countersign ledgers and Tessera logs) or `--log "<origin> <vkey>"` (a log whose origin differs from
 * its key name). Several keys for one origin are all trusted (a log rotating its key).
 */
import { bytesEqual } from "../ledger/core/bytes.js";
import { isLedgerError } from "../ledger/core/ledger-error.js";
import { noteTextProblem, parseVerifierKey, type NoteVerifier } from "../ledger/core/signed-note.js";

export class WitnessLogError extends Error {}

export type TrustedLogs = ReadonlyMap<string, readonly NoteVerifier[]>;

const MAX_ORIGIN = 1024;

/** Parses the --log values; a wrong one is a WitnessLogError that says which and why. */
export function parseTrustedLogs(specs: readonly string[]): TrustedLogs {
  const logs = new Map<string, NoteVerifier[]>();
  for (const spec of specs) {
    const text = spec.trim();
    // A vkey has no spaces (key names cannot hold one, base64 has none): the last space separates an origin.
    const space = text.lastIndexOf(" ");
    const vkey = text.slice(space + 1);
    let verifier: NoteVerifier;
    try {
      verifier = parseVerifierKey(vkey);
    } catch (err) {
      if (!isLedgerError(err)) throw err;
      throw new WitnessLogError(`--log ${JSON.stringify(spec.slice(0, 200))}: ${err.message}`);
    }
    const origin = space < 0 ? verifier.name : text.slice(0, space).trim();
    if (origin.length === 0 || origin.length > MAX_ORIGIN || origin.includes("\n") || noteTextProblem(origin)) {
      throw new WitnessLogError(`--log ${JSON.stringify(spec.slice(0, 200))}: the origin must be one non-empty line of at most ${MAX_ORIGIN} characters`);
    }
    const keys = logs.get(origin) ?? [];
    if (!keys.some((k) => k.name === verifier.name && k.keyId === verifier.keyId && bytesEqual(k.publicKey, verifier.publicKey))) keys.push(verifier);
    logs.set(origin, keys);
  }
  if (logs.size === 0) throw new WitnessLogError("give at least one --log: a witness cosigns only the logs it is told to trust");
  return logs;
}
