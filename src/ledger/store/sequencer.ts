import type { Clock } from "../../clock.js";
import { sqlState, type Sql } from "../../db/sql.js";
import type { Signer } from "../../tokens/signer.js";
import { insertCheckpoint, lastCheckpoint, signCheckpoint, type CheckpointTip } from "./checkpoint-writer.js";
import { checkRightEdge, edgeRootHex, readRightEdge, readTreeState, writeTiles } from "./ledger-tables.js";
import { appendLeaves } from "../core/tiles.js";

/**
 * Gives unsequenced events their leaf index, in batches, and signs a checkpoint over the new tree.
 * One sequencer per tenant at a time, across every vault process: each batch runs in a transaction
 * holding a transaction-level advisory lock (per database, and each tenant has its own database), so
 * two processes can never append different leaves at the same index and fork the tree.
 */

// Arbitrary constant: "ledg" in ASCII. Advisory locks are scoped to the current database.
const SEQUENCER_LOCK = 0x6c656467;
const LOCK_NOT_AVAILABLE = "55P03";

/** Another process kept the sequencer lock for longer than the caller would wait. */
export class SequencerBusyError extends Error {}

export interface SequencerSettings {
  batchSize: number;
  /** Sign a checkpoint at least this often while draining a long backlog. */
  checkpointEveryMs: number;
  mmdSeconds: number;
}

export interface SequenceResult {
  /** False when another process held the tenant's sequencer lock. */
  ran: boolean;
  sequenced: number;
  checkpointId?: number;
  treeSize: number;
}

export interface TenantLog {
  tenantId: string;
  sql: Sql;
  /** The log's origin for a tenant that has none yet (fixed at its first checkpoint). */
  origin: string;
  exportTarget: string;
}

export class LedgerSequencer {
  constructor(
    private readonly signer: Signer,
    private readonly clock: Clock,
    private readonly settings: SequencerSettings,
  ) {}

  /**
   * Drains the tenant's backlog; signs a checkpoint when the tree grew past the last one. With
   * `waitMs`, waits that long for another process's pass to finish instead of skipping the tenant
   * (a proof asked for an event that is not yet in a checkpoint).
   */
  async run(log: TenantLog, waitMs = 0): Promise<SequenceResult> {
    const started = this.clock.nowMs();
    let sequenced = 0;
    let lastCheckpointAt = started;
    for (;;) {
      const timeForCheckpoint = this.clock.nowMs() - lastCheckpointAt >= this.settings.checkpointEveryMs;
      const batch = await this.batch(log, timeForCheckpoint, waitMs);
      if (!batch.ran) return { ran: sequenced > 0, sequenced, treeSize: batch.treeSize };
      sequenced += batch.sequenced;
      if (batch.checkpointId !== undefined) lastCheckpointAt = this.clock.nowMs();
      if (batch.sequenced < this.settings.batchSize) return { ran: true, sequenced, checkpointId: batch.checkpointId, treeSize: batch.treeSize };
    }
  }

  /**
   * One transaction: lock, append up to batchSize leaves, and sign a checkpoint when the backlog is
   * drained (a short batch) or `forceCheckpoint` says a long drain has gone on long enough.
   *
   * Independent statements are issued together: on PostgreSQL the pool's connections run in pg's
   * pipeline mode (pg-database.ts), so they go out in one write and come back in one round trip
   * instead of one each, with no query overlapping another on the client (pg@9 refuses that); PGlite
   * runs them back to back. Under load those round trips and event-loop turns, not the statements,
   * are most of a pass, and a pass is most of checkpoint lag. Statements run in the order issued;
   * the first failure aborts the transaction, and every later one then fails too (25P02) and rejects.
   */
  private async batch(log: TenantLog, forceCheckpoint: boolean, waitMs: number): Promise<SequenceResult> {
    return log.sql.transaction(async (tx) => {
      if (!(await this.lock(tx, waitMs))) return { ran: false, sequenced: 0, treeSize: -1 };
      const state = await readTreeState(tx);
      const [pending, edge, previous] = await Promise.all([
        tx.query<{ seq: number; leaf_hash: string }>("SELECT seq, leaf_hash FROM ledger_events WHERE leaf_index IS NULL ORDER BY seq LIMIT $1", [
          this.settings.batchSize,
        ]),
        readRightEdge(tx, state.treeSize),
        lastCheckpoint(tx),
      ]);
      await checkRightEdge(tx, edge, previous);
      const appended = appendLeaves(edge, pending.map((p) => Buffer.from(p.leaf_hash, "hex")));
      const origin = state.origin ?? log.origin;
      const drained = pending.length < this.settings.batchSize;
      const checkpoint = drained || forceCheckpoint ? await this.checkpoint(log, origin, appended, previous) : undefined;
      const writes: Promise<unknown>[] = [];
      if (pending.length > 0) {
        writes.push(
          writeTiles(tx, appended.changed, appended.rightEdgeTiles),
          tx.query(
            "UPDATE ledger_events e SET leaf_index = v.leaf_index FROM unnest($1::bigint[], $2::bigint[]) AS v(seq, leaf_index) WHERE e.seq = v.seq",
            [pending.map((p) => p.seq), pending.map((_, i) => state.treeSize + i)],
          ),
        );
      }
      writes.push(tx.query("UPDATE ledger_state SET tree_size = $1, origin = $2", [appended.treeSize, origin]));
      if (checkpoint) writes.push(insertCheckpoint(tx, checkpoint.signed, checkpoint.signedAt));
      await Promise.all(writes);
      return { ran: true, sequenced: pending.length, checkpointId: checkpoint?.signed.checkpoint_id, treeSize: appended.treeSize };
    });
  }

  private async lock(tx: Sql, waitMs: number): Promise<boolean> {
    if (waitMs <= 0) {
      const [lock] = await tx.query<{ locked: boolean }>("SELECT pg_try_advisory_xact_lock($1) AS locked", [SEQUENCER_LOCK]);
      return lock?.locked === true;
    }
    // lock_timeout bounds the wait on the advisory lock; SET LOCAL ends with this transaction.
    await tx.query(`SET LOCAL lock_timeout = '${Math.ceil(waitMs)}ms'`);
    try {
      await tx.query("SELECT pg_advisory_xact_lock($1)", [SEQUENCER_LOCK]);
      return true;
    } catch (err) {
      if (sqlState(err) === LOCK_NOT_AVAILABLE) throw new SequencerBusyError();
      throw err;
    }
  }

  /** Signs the checkpoint over the grown tree; undefined when the tree has not grown since the last one. */
  private async checkpoint(log: TenantLog, origin: string, tree: ReturnType<typeof appendLeaves>, previous: CheckpointTip | undefined) {
    if (tree.treeSize === 0 || Number(previous?.tree_size) === tree.treeSize) return undefined;
    const root = Buffer.from(edgeRootHex(tree), "hex");
    const signedAt = this.clock.now();
    const signed = await signCheckpoint(
      this.signer,
      { treeSize: tree.treeSize, rootHash: root, origin, exportTarget: log.exportTarget, mmdSeconds: this.settings.mmdSeconds },
      previous,
      signedAt,
    );
    return { signed, signedAt };
  }
}
