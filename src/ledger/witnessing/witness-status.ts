import type { Sql } from "../../db/sql.js";
import { verifyCosignatures } from "../core/tlog-cosignature.js";
import { withCosignatures } from "../core/tlog-witness.js";
import type { CheckpointWitnessing } from "./checkpoint-witnessing.js";
import { witnessStates, witnessView, type CheckpointWitnessRow } from "./witness-store.js";

/**
 * Witnessing as operators and tenants see it: /readyz (per tenant, a summary) and GET /ledger/witnesses
 * (the tenant's own, in full). Who cosigned is re-derived from the stored lines with the configured
 * keys, never taken from a column, so a status page cannot claim a cosignature that does not verify.
 */

/** The summary in /readyz. */
export interface TenantWitnessStatus {
  checkpoint_id: number;
  status: CheckpointWitnessRow["witness_status"];
  cosignatures: number;
  quorum: number;
  attempts: number;
  next_attempt_at: string | null;
  error?: string;
  /** The newest checkpoint that reached the quorum (null before any). */
  witnessed_checkpoint_id: number | null;
}

export interface CheckpointWitnessView {
  checkpoint_id: number;
  tree_size: number;
  signed_at: string;
  status: CheckpointWitnessRow["witness_status"];
  /** Names of the configured witnesses whose cosignature verifies, in note order. */
  cosigned_by: string[];
  attempts: number;
  next_attempt_at: string | null;
  error: string | null;
  witnessed_at: string | null;
}

/** GET /ledger/witnesses. */
export interface LedgerWitnessesView {
  quorum: number;
  witnesses: {
    name: string;
    key: string;
    tree_size: number;
    last_cosigned_checkpoint: number | null;
    last_cosigned_at: string | null;
    last_attempt_at: string | null;
    last_error: string | null;
    refusal: string | null;
    refused_at: string | null;
  }[];
  latest: CheckpointWitnessView | null;
  latest_witnessed: CheckpointWitnessView | null;
}

const iso = (d: Date | string | null): string | null => (d === null ? null : new Date(d).toISOString());

/** The configured witnesses whose cosignature on `row` verifies. */
export function cosignedBy(row: Pick<CheckpointWitnessRow, "note" | "cosigned_note" | "witness_cosignatures">, witnessing: CheckpointWitnessing): string[] {
  const lines = (row.cosigned_note ?? row.note + row.witness_cosignatures).slice(row.note.length).split("\n").filter(Boolean);
  const names: string[] = [];
  for (const w of witnessing.witnesses) {
    const ok = lines.some((line) => {
      try {
        return verifyCosignatures(withCosignatures(row.note, [line]), [w.verifier]).cosigned.length > 0;
      } catch {
        return false;
      }
    });
    if (ok) names.push(w.name);
  }
  return names;
}

function view(row: CheckpointWitnessRow | undefined, witnessing: CheckpointWitnessing): CheckpointWitnessView | null {
  if (!row) return null;
  return {
    checkpoint_id: row.checkpoint_id,
    tree_size: row.tree_size,
    signed_at: row.signed_at,
    status: row.witness_status,
    cosigned_by: cosignedBy(row, witnessing),
    attempts: row.witness_attempts,
    next_attempt_at: iso(row.next_witness_at),
    error: row.witness_error,
    witnessed_at: iso(row.witnessed_at),
  };
}

export async function tenantWitnessStatus(sql: Sql, witnessing: CheckpointWitnessing): Promise<TenantWitnessStatus | undefined> {
  const { newest, witnessed } = await witnessView(sql);
  if (!newest) return undefined;
  const status: TenantWitnessStatus = {
    checkpoint_id: newest.checkpoint_id,
    status: newest.witness_status,
    cosignatures: cosignedBy(newest, witnessing).length,
    quorum: witnessing.quorum,
    attempts: newest.witness_attempts,
    next_attempt_at: iso(newest.next_witness_at),
    witnessed_checkpoint_id: witnessed?.checkpoint_id ?? null,
  };
  if (newest.witness_error) status.error = newest.witness_error;
  return status;
}

export async function ledgerWitnesses(sql: Sql, witnessing: CheckpointWitnessing | undefined): Promise<LedgerWitnessesView> {
  if (!witnessing) return { quorum: 0, witnesses: [], latest: null, latest_witnessed: null };
  const [{ newest, witnessed }, states] = await Promise.all([witnessView(sql), witnessStates(sql)]);
  return {
    quorum: witnessing.quorum,
    witnesses: witnessing.witnesses.map((w) => {
      const s = states.get(w.key);
      return {
        name: w.name,
        key: w.key,
        tree_size: s?.tree_size ?? 0,
        last_cosigned_checkpoint: s?.last_cosigned_checkpoint ?? null,
        last_cosigned_at: iso(s?.last_cosigned_at ?? null),
        last_attempt_at: iso(s?.last_attempt_at ?? null),
        last_error: s?.last_error ?? null,
        refusal: s?.refusal ?? null,
        refused_at: iso(s?.refused_at ?? null),
      };
    }),
    latest: view(newest, witnessing),
    latest_witnessed: view(witnessed, witnessing),
  };
}
