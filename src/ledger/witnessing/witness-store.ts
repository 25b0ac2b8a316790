import type { Sql } from "../../db/sql.js";

/**
 * SQL of witnessing (tenant migration 0013): the witness columns of ledger_checkpoints and the
 * per-witness ledger_witness_state. The database refuses to change a cosigned note once set.
 */

/** The newest checkpoint, claimed for one witnessing attempt. */
export interface ClaimedCheckpoint {
  checkpoint_id: number;
  tree_size: number;
  note: string;
  signed_at: string;
  /** Verified cosignature lines gathered by earlier attempts, newline-terminated. */
  witness_cosignatures: string;
  witness_attempts: number;
}

export interface WitnessStateRow {
  witness_key: string;
  witness_name: string;
  tree_size: number;
  last_cosigned_checkpoint: number | null;
  last_cosigned_at: Date | null;
  last_attempt_at: Date | null;
  last_error: string | null;
  refusal: string | null;
  refused_at: Date | null;
}

/**
 * Claims the newest checkpoint when it is not witnessed and its next attempt is due, by moving
 * next_witness_at past the attempt's longest run: a conditional UPDATE, so of several vault processes
 * on one database exactly one submits it, and a process that dies mid-attempt frees it when the claim
 * runs out, without holding a connection or a transaction across the witnesses' round trips.
 */
export async function claimNewest(sql: Sql, now: Date, claimMs: number): Promise<ClaimedCheckpoint | undefined> {
  const rows = await sql.query<ClaimedCheckpoint>(
    `UPDATE ledger_checkpoints
        SET witness_status = CASE WHEN witness_status = 'none' THEN 'pending' ELSE witness_status END,
            next_witness_at = $1::timestamptz + make_interval(secs => $2::float8 / 1000)
      WHERE checkpoint_id = (SELECT max(checkpoint_id) FROM ledger_checkpoints)
        AND witness_status <> 'witnessed'
        AND (next_witness_at IS NULL OR next_witness_at <= $1)
      RETURNING checkpoint_id, tree_size, note, signed_at, witness_cosignatures, witness_attempts`,
    [now, claimMs],
  );
  const row = rows[0];
  return row && { ...row, checkpoint_id: Number(row.checkpoint_id), tree_size: Number(row.tree_size), witness_attempts: Number(row.witness_attempts) };
}

/** Older checkpoints still waiting are left unwitnessed: witnesses take tree heads in order, so only the newest is worth asking. */
export async function markSuperseded(sql: Sql, newestId: number): Promise<void> {
  await sql.query(
    `UPDATE ledger_checkpoints SET witness_status = 'unwitnessed', next_witness_at = NULL,
            witness_error = 'superseded by checkpoint ' || $1::text || ' before it reached the quorum'
      WHERE checkpoint_id < $1 AND witness_status IN ('pending', 'unwitnessed') AND next_witness_at IS NOT NULL`,
    [newestId],
  );
}

export async function witnessStates(sql: Sql): Promise<Map<string, WitnessStateRow>> {
  const rows = await sql.query<WitnessStateRow>("SELECT * FROM ledger_witness_state");
  return new Map(rows.map((r) => [r.witness_key, { ...r, tree_size: Number(r.tree_size), last_cosigned_checkpoint: r.last_cosigned_checkpoint === null ? null : Number(r.last_cosigned_checkpoint) }]));
}

export async function haveCheckpointOfSize(sql: Sql, size: number): Promise<boolean> {
  return (await sql.query("SELECT 1 FROM ledger_checkpoints WHERE tree_size = $1 LIMIT 1", [size])).length > 0;
}

const ensureRow = (sql: Sql, key: string, name: string) =>
  sql.query("INSERT INTO ledger_witness_state (witness_key, witness_name) VALUES ($1, $2) ON CONFLICT (witness_key) DO UPDATE SET witness_name = EXCLUDED.witness_name", [key, name]);

/** A cosignature of checkpoint `checkpointId` (tree `size`): the witness now holds that size, and any refusal is over. */
export async function recordCosigned(sql: Sql, w: { key: string; name: string }, checkpointId: number, size: number, now: Date): Promise<void> {
  await ensureRow(sql, w.key, w.name);
  await sql.query(
    `UPDATE ledger_witness_state SET tree_size = $2, last_cosigned_checkpoint = $3, last_cosigned_at = $4, last_attempt_at = $4,
            last_error = NULL, refusal = NULL, refused_at = NULL
      WHERE witness_key = $1`,
    [w.key, size, checkpointId, now],
  );
}

/** The size a witness says it holds for our log (409 text/x.tlog.size), used as the next `old`. */
export async function recordSize(sql: Sql, w: { key: string; name: string }, size: number, now: Date): Promise<void> {
  await ensureRow(sql, w.key, w.name);
  await sql.query("UPDATE ledger_witness_state SET tree_size = $2, last_attempt_at = $3 WHERE witness_key = $1", [w.key, size, now]);
}

export async function recordUnavailable(sql: Sql, w: { key: string; name: string }, detail: string, now: Date): Promise<void> {
  await ensureRow(sql, w.key, w.name);
  await sql.query("UPDATE ledger_witness_state SET last_error = $2, last_attempt_at = $3 WHERE witness_key = $1", [w.key, detail.slice(0, 2000), now]);
}

/**
 * Records a refusal inside the caller's transaction and says whether it is news: a witness that was
 * not refusing, or refused for another reason. The alert is raised in the same transaction, so it is
 * written exactly when the refusal is, and a witness that keeps refusing is alerted on once.
 */
export async function recordRefusal(tx: Sql, w: { key: string; name: string }, reason: string, detail: string, now: Date): Promise<boolean> {
  await ensureRow(tx, w.key, w.name);
  const [before] = await tx.query<{ refusal: string | null }>("SELECT refusal FROM ledger_witness_state WHERE witness_key = $1 FOR UPDATE", [w.key]);
  const news = before?.refusal !== reason;
  await tx.query(
    `UPDATE ledger_witness_state SET refusal = $2, refused_at = CASE WHEN $4 THEN $3 ELSE refused_at END, last_error = $5, last_attempt_at = $3
      WHERE witness_key = $1`,
    [w.key, reason, now, news, detail.slice(0, 2000)],
  );
  return news;
}

export interface AttemptOutcome {
  /** Every verified cosignature line of configured witnesses, newline-terminated. */
  cosignatures: string;
  /** Set when the quorum is met: note || cosignatures. */
  cosignedNote?: string;
  error?: string;
  nextAttemptAt?: Date;
}

/** Ends an attempt: witnessed with its cosigned note, or unwitnessed with what it gathered and when to try again. */
export async function finishAttempt(sql: Sql, checkpointId: number, outcome: AttemptOutcome, now: Date): Promise<void> {
  if (outcome.cosignedNote !== undefined) {
    await sql.query(
      `UPDATE ledger_checkpoints SET witness_status = 'witnessed', cosigned_note = $2, witness_cosignatures = $3, witnessed_at = $4,
              witness_attempts = witness_attempts + 1, witness_error = NULL, next_witness_at = NULL
        WHERE checkpoint_id = $1 AND witness_status <> 'witnessed'`,
      [checkpointId, outcome.cosignedNote, outcome.cosignatures, now],
    );
    return;
  }
  await sql.query(
    `UPDATE ledger_checkpoints SET witness_status = 'unwitnessed', witness_cosignatures = $2, witness_attempts = witness_attempts + 1,
            witness_error = $3, next_witness_at = $4
      WHERE checkpoint_id = $1 AND witness_status <> 'witnessed'`,
    [checkpointId, outcome.cosignatures, (outcome.error ?? "").slice(0, 2000), outcome.nextAttemptAt ?? null],
  );
}

/** The newest checkpoint's witnessing, and the newest witnessed one: what status pages show. */
export interface CheckpointWitnessRow {
  checkpoint_id: number;
  tree_size: number;
  signed_at: string;
  witness_status: "none" | "pending" | "witnessed" | "unwitnessed";
  witness_attempts: number;
  next_witness_at: Date | null;
  witness_error: string | null;
  witness_cosignatures: string;
  note: string;
  cosigned_note: string | null;
  witnessed_at: Date | null;
}

export async function witnessView(sql: Sql): Promise<{ newest?: CheckpointWitnessRow; witnessed?: CheckpointWitnessRow }> {
  const rows = await sql.query<CheckpointWitnessRow & { which: string }>(
    `(SELECT 'newest' AS which, checkpoint_id, tree_size, signed_at, witness_status, witness_attempts, next_witness_at, witness_error,
             witness_cosignatures, note, cosigned_note, witnessed_at
        FROM ledger_checkpoints ORDER BY checkpoint_id DESC LIMIT 1)
     UNION ALL
     (SELECT 'witnessed', checkpoint_id, tree_size, signed_at, witness_status, witness_attempts, next_witness_at, witness_error,
             witness_cosignatures, note, cosigned_note, witnessed_at
        FROM ledger_checkpoints WHERE witness_status = 'witnessed' ORDER BY checkpoint_id DESC LIMIT 1)`,
  );
  const shaped = (r: (typeof rows)[number] | undefined): CheckpointWitnessRow | undefined =>
    r && { ...r, checkpoint_id: Number(r.checkpoint_id), tree_size: Number(r.tree_size), witness_attempts: Number(r.witness_attempts) };
  return { newest: shaped(rows.find((r) => r.which === "newest")), witnessed: shaped(rows.find((r) => r.which === "witnessed")) };
}
