import type { Sql } from "../../db/sql.js";
import type { Signer } from "../../tokens/signer.js";
import { checkpointHash, checkpointPayload } from "../core/event-hash.js";
import { signNote } from "../core/signed-note.js";
import { formatCheckpoint } from "../core/tlog-checkpoint.js";
import type { CheckpointRow } from "./wire-rows.js";

/**
 * Signs a tree head in both forms over the same size and root: the Ledgix CBOR checkpoint
 * (protocol §4.5), chained to the previous one by prev_checkpoint_hash, and the C2SP
 * tlog-checkpoint signed note whose key name is the log's origin.
 */

export interface CheckpointHead {
  treeSize: number;
  rootHash: Uint8Array;
  origin: string;
  exportTarget: string;
  mmdSeconds: number;
}

/** A checkpoint row as signed, before any export bookkeeping. */
export type SignedCheckpoint = Omit<CheckpointRow, "export_status" | "export_uri" | "exported_at">;

export interface CheckpointTip {
  checkpoint_id: number;
  tree_size: number;
  root_hash: string;
  checkpoint_hash: string;
}

export async function lastCheckpoint(sql: Sql): Promise<CheckpointTip | undefined> {
  const rows = await sql.query<CheckpointTip>(
    "SELECT checkpoint_id, tree_size, root_hash, checkpoint_hash FROM ledger_checkpoints ORDER BY checkpoint_id DESC LIMIT 1",
  );
  return rows[0] && { ...rows[0], checkpoint_id: Number(rows[0].checkpoint_id), tree_size: Number(rows[0].tree_size) };
}

export async function signCheckpoint(
  signer: Signer,
  head: CheckpointHead,
  previous: { checkpoint_id: number; checkpoint_hash: string } | undefined,
  signedAt: Date,
): Promise<SignedCheckpoint> {
  const root = Buffer.from(head.rootHash).toString("hex");
  const fields = {
    signer_key_id: signer.kid,
    tree_size: head.treeSize,
    root_hash: root,
    signed_at: signedAt.toISOString(),
    mmd_seconds: head.mmdSeconds,
    export_target: head.exportTarget,
    prev_checkpoint_hash: previous?.checkpoint_hash ?? "",
  };
  const payload = checkpointPayload(fields);
  const publicKey = Buffer.from(signer.publicJwk.x, "base64url");
  const note = await signNote(formatCheckpoint({ origin: head.origin, size: head.treeSize, rootHash: head.rootHash }), head.origin, (m) => signer.sign(m), publicKey);
  return {
    ...fields,
    checkpoint_id: (previous?.checkpoint_id ?? 0) + 1,
    checkpoint_hash: checkpointHash(payload),
    payload,
    signature: Buffer.from(await signer.sign(payload)).toString("base64url"),
    note,
  };
}

export async function insertCheckpoint(sql: Sql, cp: SignedCheckpoint, now: Date): Promise<void> {
  await sql.query(
    `INSERT INTO ledger_checkpoints (checkpoint_id, tree_size, root_hash, checkpoint_hash, prev_checkpoint_hash, signer_key_id,
       payload, signature, signed_at, mmd_seconds, export_target, note, next_export_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)`,
    [
      cp.checkpoint_id, cp.tree_size, cp.root_hash, cp.checkpoint_hash, cp.prev_checkpoint_hash, cp.signer_key_id,
      Buffer.from(cp.payload), cp.signature, cp.signed_at, cp.mmd_seconds, cp.export_target, cp.note, now,
    ],
  );
}
