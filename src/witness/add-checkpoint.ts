/**
 * The add-checkpoint call of C2SP tlog-witness, independent of HTTP: a request body in, a status and
 * body out. The checks run in the order of the spec, each with the status it prescribes:
 *
 *   400  malformed body; old size above the checkpoint's size; a size-0 checkpoint whose root is not
 *        the empty tree's
 *   404  the checkpoint's origin is not a log this witness was told to trust
 *   403  no signature by a trusted key of that log verifies (or a trusted key's signature is bad)
 *   409  old size is not the size of the latest checkpoint cosigned for the origin: body "<size>\n",
 *        Content-Type text/x.tlog.size, so the log can retry with it
 *   409  old size equals the checkpoint's size but the root hashes differ: a FORK. Plain text, never
 *        x.tlog.size, so a client cannot mistake it for a size to retry with
 *   422  the consistency proof from the stored checkpoint to this one does not verify
 *   200  persisted first, then one cosignature line timestamped now
 *
 * Check-then-persist runs under a per-origin lock (the spec's rollback race: two requests checked
 * against the same old size must not both be stored); signature checks run outside it.
 */
import { bytesEqual, toBase64 } from "../ledger/core/bytes.js";
import { isLedgerError } from "../ledger/core/ledger-error.js";
import { emptyRoot, verifyConsistency } from "../ledger/core/merkle.js";
import { parseSignatureLine } from "../ledger/core/signed-note.js";
import { openCheckpoint, type OpenedCheckpoint } from "../ledger/core/tlog-checkpoint.js";
import { signCosignature } from "../ledger/core/tlog-cosignature.js";
import { formatAddCheckpoint, formatSizeResponse, parseAddCheckpoint, TLOG_SIZE_CONTENT_TYPE, type AddCheckpointRequest } from "../ledger/core/tlog-witness.js";
import type { Clock } from "../clock.js";
import type { TrustedLogs } from "./witness-logs.js";
import type { WitnessKey } from "./witness-key.js";
import type { WitnessStateStore } from "./witness-state.js";

/** Why a request ended as it did: a stable word for logs and tests. */
export type WitnessOutcome = "cosigned" | "malformed" | "unknown_log" | "bad_signature" | "old_size_too_large" | "size_mismatch" | "fork" | "bad_proof";

export interface WitnessAnswer {
  readonly status: 200 | 400 | 403 | 404 | 409 | 422;
  readonly contentType: string;
  readonly body: string;
  readonly outcome: WitnessOutcome;
  /** What the log can be told (never secret): origin and sizes when known. */
  readonly origin?: string;
  readonly oldSize?: number;
  readonly size?: number;
  /** Where a refused-but-signed request was kept, if it was. */
  readonly evidence?: string;
}

const TEXT = "text/plain; charset=utf-8";

function refuse(status: WitnessAnswer["status"], outcome: WitnessOutcome, message: string, extra: Partial<WitnessAnswer> = {}): WitnessAnswer {
  return { status, contentType: TEXT, body: `${message}\n`, outcome, ...extra };
}

/**
 * What a refused request proves, and only that: the checkpoint with the signature lines of the log's
 * trusted keys (its own statement), and the proof as submitted. Lines of unknown keys are dropped: anyone
 * can add them, and they would let an outsider who replays a public checkpoint fill the disk.
 */
function evidenceOf(request: AddCheckpointRequest, opened: OpenedCheckpoint): string {
  const trusted = new Set(opened.verifiedBy.map((k) => `${k.name}\n${k.keyId}`));
  const lines = request.note
    .slice(request.note.lastIndexOf("\n\n") + 2)
    .split("\n")
    .filter((line) => {
      if (line === "") return false;
      const { name, keyId } = parseSignatureLine(line, "signature line");
      return trusted.has(`${name}\n${keyId}`);
    });
  return formatAddCheckpoint({ oldSize: request.oldSize, proof: request.proof, note: `${opened.body}\n${[...new Set(lines)].join("\n")}\n` });
}

/** One chain of promises per key: fn runs after every earlier fn of the same key has settled. */
class KeyedSerializer {
  private readonly tails = new Map<string, Promise<void>>();

  async run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const before = this.tails.get(key) ?? Promise.resolve();
    let release!: () => void;
    const mine = new Promise<void>((resolve) => (release = resolve));
    const tail = before.then(() => mine);
    this.tails.set(key, tail);
    await before;
    try {
      return await fn();
    } finally {
      release();
      if (this.tails.get(key) === tail) this.tails.delete(key);
    }
  }
}

export interface WitnessDeps {
  key: WitnessKey;
  logs: TrustedLogs;
  state: WitnessStateStore;
  clock: Clock;
}

export class Witness {
  private readonly serial = new KeyedSerializer();

  constructor(private readonly deps: WitnessDeps) {}

  get name(): string {
    return this.deps.key.name;
  }

  get vkey(): string {
    return this.deps.key.vkey;
  }

  async addCheckpoint(body: Uint8Array | string): Promise<WitnessAnswer> {
    let request: AddCheckpointRequest;
    try {
      request = parseAddCheckpoint(body);
    } catch (err) {
      if (isLedgerError(err)) return refuse(400, "malformed", err.message);
      throw err;
    }
    // The origin is the note's first line; it picks the keys, so it is read before anything is verified.
    const newline = request.note.indexOf("\n");
    if (newline <= 0) return refuse(400, "malformed", "the checkpoint does not start with an origin line");
    const origin = request.note.slice(0, newline);
    const keys = this.deps.logs.get(origin);
    if (!keys) return refuse(404, "unknown_log", `unknown log: this witness does not witness ${JSON.stringify(origin.slice(0, 200))}`);
    let opened: OpenedCheckpoint;
    try {
      opened = openCheckpoint(request.note, keys, { origin });
    } catch (err) {
      if (!isLedgerError(err)) throw err;
      if (isLedgerError(err, "no_verified_signature", "bad_signature", "ambiguous_verifier")) return refuse(403, "bad_signature", `${err.message}`, { origin });
      return refuse(400, "malformed", err.message, { origin });
    }
    const { size, rootHash } = opened.checkpoint;
    const facts = { origin, oldSize: request.oldSize, size };
    if (request.oldSize > size) return refuse(400, "old_size_too_large", `old size ${request.oldSize} is larger than the checkpoint's size ${size}`, facts);
    if (size === 0 && !bytesEqual(rootHash, emptyRoot())) return refuse(400, "malformed", "a checkpoint of size 0 must carry the empty tree's root hash", facts);

    return this.serial.run(origin, async () => {
      const stored = this.deps.state.get(origin);
      const known = stored?.size ?? 0;
      if (request.oldSize !== known) {
        return { status: 409, contentType: TLOG_SIZE_CONTENT_TYPE, body: formatSizeResponse(known), outcome: "size_mismatch", ...facts } satisfies WitnessAnswer;
      }
      if (stored && stored.size > 0) {
        if (size === stored.size && !bytesEqual(rootHash, stored.rootHash)) {
          const evidence = await this.deps.state.keepEvidence(origin, "fork", opened.body, evidenceOf(request, opened));
          return refuse(409, "fork", `fork: the witness cosigned size ${size} with root ${toBase64(stored.rootHash)}, this checkpoint has root ${toBase64(rootHash)}`, { ...facts, evidence });
        }
        if (!this.consistent(stored.size, size, request.proof, stored.rootHash, rootHash)) {
          const evidence = await this.deps.state.keepEvidence(origin, "bad-proof", opened.body, evidenceOf(request, opened));
          return refuse(422, "bad_proof", `the consistency proof from size ${stored.size} to ${size} does not verify`, { ...facts, evidence });
        }
      }
      // Same tree head again: nothing new to persist, the cosignature is just fresher.
      if (!stored || stored.size !== size || !bytesEqual(stored.rootHash, rootHash)) {
        await this.deps.state.put({ origin, size, rootHash, note: request.note, updatedAt: this.deps.clock.now().toISOString() });
      }
      const body200 = await this.cosign(request.note);
      return { status: 200, contentType: TEXT, body: body200, outcome: "cosigned", ...facts } satisfies WitnessAnswer;
    });
  }

  /** RFC 6962 consistency; a malformed proof (wrong length) is as inconsistent as a wrong one. */
  private consistent(oldSize: number, size: number, proof: readonly Uint8Array[], oldRoot: Uint8Array, newRoot: Uint8Array): boolean {
    try {
      return verifyConsistency(oldSize, size, proof, oldRoot, newRoot);
    } catch (err) {
      if (isLedgerError(err)) return false;
      throw err;
    }
  }

  private async cosign(note: string): Promise<string> {
    const body = note.slice(0, note.lastIndexOf("\n\n") + 1);
    const timestamp = Math.floor(this.deps.clock.nowMs() / 1000);
    return signCosignature(body, this.deps.key.name, timestamp, this.deps.key.sign, this.deps.key.publicKey);
  }
}
