import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import type { TenantKeys } from "../tenancy/tenant-keys.js";
import type { KeyRegistry } from "../tokens/key-registry.js";
import type { Signer } from "../tokens/signer.js";
import { LedgerBodyError } from "./core/body-cipher.js";
import type { LedgerLoop } from "./store/ledger-loop.js";
import { SequencerBusyError } from "./store/sequencer.js";
import { TileCache } from "./store/tile-cache.js";

/** How long a proof request waits for another process's sequencing pass. */
const ON_DEMAND_WAIT_MS = 2_000;
import {
  checkpointById,
  consistencyPath,
  consistencyPlan,
  findEvent,
  firstAndLatestCheckpoints,
  judgeEvent,
  inclusionPlan,
  proofsFromTiles,
  inclusionPath,
  latestCheckpoint,
  ledgerOrigin,
  listCheckpoints,
  listEvents,
  MAX_REQUEST_EVENTS,
  requestEvents,
  requestLedgerStatus,
  type RequestLedgerStatus,
} from "./store/ledger-proofs.js";
import { verifierKeyString } from "./core/signed-note.js";
import { formatTlogProof } from "./core/tlog-proof.js";
import type { CheckpointWire, ConsistencyProofWire, InclusionProofWire, KeyVersionWire, LedgerEntryWire, ProofBundleWire } from "./core/wire.js";
import { enrolmentEvents, enrolmentUuids } from "./store/passkey-enrolment-events.js";
import { checkpointWire, entryWire, servedNote, storedEvent, type CheckpointRow, type EventRow } from "./store/wire-rows.js";
import type { CheckpointWitnessing } from "./witnessing/checkpoint-witnessing.js";
import { ledgerWitnesses, type LedgerWitnessesView } from "./witnessing/witness-status.js";

export type Redaction = "auto" | "none";

/** One tenant's ledger: its id (caches and origins are per tenant) and its database, opened once per request. */
export interface TenantLedger {
  tenantId: string;
  sql: Sql;
}

/** The tenant-scoped read side of the ledger: listings and proofs, shaped as protocol §2.7–2.11. */
export class LedgerService {
  constructor(
    private readonly deps: {
      keys: KeyRegistry;
      ledgerSigner: Signer;
      loop: LedgerLoop;
      /** Opens entry bodies: the tenant's ledger keys, then the vault's (VAULT_TRANSPORT_KEY_BASE64). */
      tenantKeys: TenantKeys;
      intervalMs: number;
      /** The configured witnesses (VAULT_LEDGER_WITNESSES), for GET /ledger/witnesses. */
      witnessing?: CheckpointWitnessing;
    },
  ) {}

  async entries({ tenantId, sql }: TenantLedger, q: { limit: number; afterLeaf: number; descending: boolean; redact: Redaction }): Promise<LedgerEntryWire[]> {
    const rows = await listEvents(sql, q.limit, q.afterLeaf, q.descending);
    return rows.map((row) => this.entry(tenantId, row, q.redact));
  }

  async checkpoints({ sql }: TenantLedger, q: { limit: number; afterId: number; descending: boolean }): Promise<CheckpointWire[]> {
    return (await listCheckpoints(sql, q.limit, q.afterId, q.descending)).map(checkpointWire);
  }

  async inclusion({ tenantId, sql }: TenantLedger, requestId: string | undefined, eventUuid?: string): Promise<InclusionProofWire> {
    const { row, latest } = await this.coveredEvent(tenantId, sql, requestId, eventUuid);
    return this.inclusionIn(sql, row, latest);
  }

  async consistency({ sql }: TenantLedger, fromId: number, toId: number): Promise<ConsistencyProofWire> {
    if (fromId > toId) throw new AppError("bad_request", "from must not be a later checkpoint than to");
    const [from, to] = [await checkpointById(sql, fromId), await checkpointById(sql, toId)];
    return { from_checkpoint: checkpointWire(from), to_checkpoint: checkpointWire(to), path: await consistencyPath(sql, Number(from.tree_size), Number(to.tree_size)) };
  }

  /**
   * §4.8's recommended layout: inclusion in the newest checkpoint (the newest witnessed one when one
   * holds every event of the bundle), consistency from the first checkpoint that covered the event
   * (omitted when that is the same), and the keys of both signatures. The C2SP note of the same tree
   * head rides along for tlog tooling, with its witnesses' cosignatures.
   */
  async bundle({ tenantId, sql }: TenantLedger, requestId: string | undefined, eventUuid: string | undefined, redact: Redaction): Promise<ProofBundleWire> {
    // Four round trips whatever the tree size: the event, the request's other events, both checkpoints,
    // and every tile the proofs touch.
    const row = await this.sequencedEvent(tenantId, sql, requestId, eventUuid);
    const others = await this.sequencedRequestEvents(tenantId, sql, row.request_id, row.event_uuid);
    // Proven in the newest witnessed checkpoint that holds every leaf of the bundle, when there is one.
    const maxLeaf = Math.max(Number(row.leaf_index), ...others.map((e) => Number(e.leaf_index)));
    const { first, latest } = await firstAndLatestCheckpoints(sql, Number(row.checkpoint_id), maxLeaf);
    if (!latest) throw this.pending(row);
    const leaf = Number(row.leaf_index);
    const size = Number(latest.tree_size);
    const plans = first ? [inclusionPlan(leaf, size), consistencyPlan(Number(first.tree_size), size)] : [inclusionPlan(leaf, size)];
    // The passkey.enrolled events of the votes' passkey signatures, proven in the same tree head (docs/passkeys.md).
    const enrolments = (await this.passkeyEnrolments(tenantId, sql, [row, ...others])).filter((e) => Number(e.leaf_index) < size);
    const proven = [...others, ...enrolments];
    const paths = await proofsFromTiles(sql, [...plans, ...proven.map((e) => inclusionPlan(Number(e.leaf_index), size))], size, { scope: tenantId, tiles: this.tiles });
    const [inclusionPath, consistencyPath] = paths;
    const otherPaths = paths.slice(plans.length);
    const bundle: ProofBundleWire = {
      event: this.entry(tenantId, row, redact),
      inclusion: { ...this.inclusionFields(row, latest), path: inclusionPath! },
      keys: await this.keyVersions([row.receipt_key_id, latest.signer_key_id, first?.signer_key_id ?? latest.signer_key_id, ...proven.map((e) => e.receipt_key_id)]),
    };
    // §2.11: consistency is omitted, never null, when the event's first checkpoint is the newest.
    if (first) bundle.consistency = { from_checkpoint: checkpointWire(first), to_checkpoint: checkpointWire(latest), path: consistencyPath! };
    // With its witnesses' cosignatures once they reached the quorum: verifiers check them with --witness.
    bundle.c2sp_checkpoint = servedNote(latest);
    bundle.c2sp_verifier_key = await this.checkpointKey({ tenantId, sql });
    // The request's other events, proven in the same tree head: one bundle shows approval, burn and execution.
    if (others.length > 0) {
      bundle.request_events = others.map((e, i) => ({ event: this.entry(tenantId, e, redact), inclusion: { ...this.inclusionFields(e, latest), path: otherPaths[i]! } }));
    }
    if (enrolments.length > 0) {
      bundle.passkey_enrolments = enrolments.map((e, i) => ({ event: this.entry(tenantId, e, redact), inclusion: { ...this.inclusionFields(e, latest), path: otherPaths[others.length + i]! } }));
    }
    return bundle;
  }

  /** The enrolment events named by the passkey chunks of `rows` (their bodies opened to read the chunks). */
  private async passkeyEnrolments(tenantId: string, sql: Sql, rows: EventRow[]): Promise<EventRow[]> {
    return enrolmentEvents(sql, enrolmentUuids(rows.map((r) => this.entry(tenantId, r, "none").evidence_chunks)));
  }

  /** The event's inclusion in the newest checkpoint as a C2SP tlog-proof@v1 text. */
  async tlogProof({ tenantId, sql }: TenantLedger, requestId: string | undefined, eventUuid?: string): Promise<string> {
    const { row, latest } = await this.coveredEvent(tenantId, sql, requestId, eventUuid);
    const proof = await inclusionPath(sql, Number(row.leaf_index), Number(latest.tree_size));
    return formatTlogProof({ index: Number(row.leaf_index), proof: proof.map((h) => Buffer.from(h, "hex")), checkpointNote: servedNote(latest) });
  }

  /**
   * How many ledger events a request has and whether a signed checkpoint holds them all (the review
   * console's ledger line). Takes the caller's tenant `sql` (it already has one) rather than a tenantId.
   */
  async requestLedgerStatus(sql: Sql, requestId: string): Promise<RequestLedgerStatus> {
    return requestLedgerStatus(sql, requestId);
  }

  /**
   * The judge's reason as its clearance.* event recorded it: a reviewer's decision later replaces the
   * request's own reason, and the review console shows both. Null when the judge never decided (a
   * reviewer denied first) or the body cannot be opened (a display, so it must not fail the page).
   */
  async judgeReason({ tenantId, sql }: TenantLedger, requestId: string): Promise<string | null> {
    const row = await judgeEvent(sql, requestId);
    if (!row) return null;
    try {
      return storedEvent(row, this.deps.tenantKeys.sealingKeysFor(tenantId, "ledger").open).reason;
    } catch (err) {
      if (err instanceof LedgerBodyError) return null;
      throw err;
    }
  }

  async latestNote({ sql }: TenantLedger): Promise<string> {
    const latest = await latestCheckpoint(sql);
    if (!latest) throw new AppError("ledger_empty", "No checkpoint has been signed yet");
    return servedNote(latest);
  }

  /** The tenant's witnessing: the configured witnesses, what each last did, and who cosigned the newest checkpoints. */
  async witnesses({ sql }: TenantLedger): Promise<LedgerWitnessesView> {
    return ledgerWitnesses(sql, this.deps.witnessing);
  }

  /** `<origin>+<key id>+<base64(0x01 || public key)>`: what C2SP note verifiers are configured with. */
  async checkpointKey({ tenantId, sql }: TenantLedger): Promise<string> {
    let origin = this.origins.get(tenantId);
    if (!origin) {
      const stored = await ledgerOrigin(sql);
      // Fixed at the first checkpoint and never changed after, so it is safe to keep.
      if (stored) this.origins.set(tenantId, stored);
      origin = stored ?? this.deps.loop.origin(tenantId);
    }
    return verifierKeyString(origin, Buffer.from(this.deps.ledgerSigner.publicJwk.x, "base64url"));
  }

  private readonly origins = new Map<string, string>();
  private readonly tiles = new TileCache();

  private entry(tenantId: string, row: EventRow, redact: Redaction): LedgerEntryWire {
    try {
      return entryWire(row, storedEvent(row, this.deps.tenantKeys.sealingKeysFor(tenantId, "ledger").open), redact);
    } catch (err) {
      if (err instanceof LedgerBodyError) throw new AppError("ledger_key_unavailable", `Ledger event ${row.event_uuid}: ${err.message}`);
      throw err;
    }
  }

  private async inclusionIn(sql: Sql, row: EventRow, checkpoint: CheckpointRow): Promise<InclusionProofWire> {
    return { ...this.inclusionFields(row, checkpoint), path: await inclusionPath(sql, Number(row.leaf_index), Number(checkpoint.tree_size)) };
  }

  private inclusionFields(row: EventRow, checkpoint: CheckpointRow): Omit<InclusionProofWire, "path"> {
    return {
      event_uuid: row.event_uuid,
      request_id: row.request_id,
      event_hash: row.event_hash,
      leaf_hash: row.leaf_hash,
      leaf_index: Number(row.leaf_index),
      tree_size: Number(checkpoint.tree_size),
      checkpoint: checkpointWire(checkpoint),
    };
  }

  /**
   * The event (named by request_id, event_uuid or both; the tenant's database holds only its own
   * events, so another tenant's uuid is not found) once a checkpoint covers it, sequencing on
   * demand once if none does yet.
   */
  private async sequencedEvent(tenantId: string, sql: Sql, requestId: string | undefined, eventUuid?: string): Promise<EventRow> {
    let row = await findEvent(sql, requestId, eventUuid);
    if (row.checkpoint_id === null) {
      // Waits for another process's pass rather than failing: the SDK does not retry a 4xx.
      await this.deps.loop.sequenceNow(tenantId, ON_DEMAND_WAIT_MS).catch((err) => {
        if (!(err instanceof SequencerBusyError)) throw err;
      });
      // Re-read through the request_id index, whichever way the event was named.
      row = await findEvent(sql, row.request_id, row.event_uuid);
    }
    if (row.checkpoint_id === null) throw this.pending(row);
    return row;
  }

  /**
   * The request's events other than `except` (the bundle's own event) that a checkpoint covers, at
   * most MAX_REQUEST_EVENTS, in write order, sequencing on demand once when a
   * newer one (the burn or execution just recorded) is not yet covered; one still waiting is left out.
   */
  private async sequencedRequestEvents(tenantId: string, sql: Sql, requestId: string, except: string): Promise<EventRow[]> {
    let rows = await requestEvents(sql, requestId);
    if (rows.some((r) => r.checkpoint_id === null)) {
      await this.deps.loop.sequenceNow(tenantId, ON_DEMAND_WAIT_MS).catch((err) => {
        if (!(err instanceof SequencerBusyError)) throw err;
      });
      rows = await requestEvents(sql, requestId);
    }
    const covered = rows.filter((r) => r.checkpoint_id !== null && r.event_uuid !== except);
    // Over the cap, votes go first: the approval, burn and execution are what a bundle is asked to prove.
    const votes = covered.filter((r) => r.event_type === "review.vote");
    const kept = new Set([...covered.filter((r) => r.event_type !== "review.vote"), ...votes].slice(0, MAX_REQUEST_EVENTS));
    return covered.filter((r) => kept.has(r));
  }

  /** The event and the newest checkpoint, sequencing on demand once if the event is not yet covered. */
  private async coveredEvent(tenantId: string, sql: Sql, requestId: string | undefined, eventUuid?: string): Promise<{ row: EventRow; latest: CheckpointRow }> {
    const row = await this.sequencedEvent(tenantId, sql, requestId, eventUuid);
    const latest = await latestCheckpoint(sql);
    if (!latest) throw this.pending(row);
    return { row, latest };
  }

  /** 503 with a short Retry-After: the SDK retries a 5xx with backoff, but never a 4xx (protocol §1.4). */
  private pending(row: EventRow): AppError {
    return new AppError("ledger_event_pending", `Ledger event ${row.event_uuid} is not yet in a signed checkpoint; retry shortly`, {
      retryAfterSeconds: 1,
    });
  }

  private async keyVersions(kids: string[]): Promise<KeyVersionWire[]> {
    const unique = [...new Set(kids)];
    return (await this.deps.keys.versions(unique)).map((k) => {
      const jwk = { kty: k.public_jwk.kty, crv: k.public_jwk.crv, x: k.public_jwk.x, kid: k.kid, use: "sig", alg: "EdDSA" };
      const version: KeyVersionWire = {
        key_id: k.kid,
        algorithm: "Ed25519",
        public_jwk: Buffer.from(JSON.stringify(jwk), "utf8").toString("base64url"),
        active_from: new Date(k.created_at).toISOString(),
        attestation_payload: "",
        attestation_signature: "",
        attestation_key_id: "",
        attestation_status: "",
      };
      if (k.retired_at) version.retired_at = new Date(k.retired_at).toISOString();
      return version;
    });
  }
}
