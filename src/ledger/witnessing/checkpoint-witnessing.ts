import type { Logger } from "pino";
import type { Clock } from "../../clock.js";
import type { Sql } from "../../db/sql.js";
import { fromHex } from "../core/bytes.js";
import { parseCheckpoint } from "../core/tlog-checkpoint.js";
import { parseCosignatureVerifierKey, verifyCosignatures, type CosignatureVerifier } from "../core/tlog-cosignature.js";
import { withCosignatures } from "../core/tlog-witness.js";
import { consistencyPath } from "../store/ledger-proofs.js";
import { addCheckpoint, type RefusalReason } from "./witness-client.js";
import { witnessMetrics } from "./witness-metrics.js";
import {
  claimNewest,
  finishAttempt,
  haveCheckpointOfSize,
  markSuperseded,
  recordCosigned,
  recordRefusal,
  recordSize,
  recordUnavailable,
  witnessStates,
  type ClaimedCheckpoint,
} from "./witness-store.js";

/**
 * The vault side of C2SP tlog-witness: submits a tenant's newest checkpoint to every configured
 * witness at once, each with a consistency proof from the size that witness last held, and stores
 * the cosigned note once `quorum` witnesses have cosigned. Below the quorum the checkpoint stays
 * published as it is (vault-signed only), marked unwitnessed, and is tried again with backoff while
 * it is the newest. Runs beside sequencing and export (LedgerLoop), never in front of them.
 *
 * A refusal (a fork, an inconsistent tree, an untrusted key...) is logged as an error, counted, and
 * handed to `onRefusal` inside the transaction that records it: the composition root turns it into
 * the `ledger.witness_refused` webhook. The ledger itself knows nothing of the outbox.
 */

export interface ConfiguredWitness {
  url: string;
  /** The verifier key string, the witness's identity in ledger_witness_state. */
  key: string;
  name: string;
  verifier: CosignatureVerifier;
}

/** What a `ledger.witness_refused` alert carries. */
export interface WitnessRefusal {
  witness: string;
  witness_key: string;
  reason: RefusalReason;
  /** The witness's HTTP status; null when the vault itself found the answer unacceptable ("ahead"). */
  http_status: number | null;
  detail: string;
  checkpoint_id: number;
  tree_size: number;
  origin: string;
  at: string;
}

/** Called in the transaction that records a new refusal (one per change of a witness's refusal, not per retry). */
export type WitnessRefusalHandler = (tx: Sql, tenantId: string, refusal: WitnessRefusal) => Promise<void>;

export interface WitnessingSettings {
  witnesses: { url: string; key: string; name: string }[];
  quorum: number;
  timeoutMs: number;
}

const FIRST_BACKOFF_MS = 1_000;
const MAX_BACKOFF_MS = 60_000;

interface Asked {
  witness: ConfiguredWitness;
  lines: string[];
  /** Why it did not cosign, for the checkpoint's witness_error. */
  problem?: string;
}

export class CheckpointWitnessing {
  readonly witnesses: ConfiguredWitness[];
  private onRefusal: WitnessRefusalHandler | undefined;
  private readonly stopping = new AbortController();

  constructor(
    private readonly settings: WitnessingSettings,
    private readonly deps: { clock: Clock; log: Logger; onRefusal?: WitnessRefusalHandler },
  ) {
    // Parsed again with the ledger's own code (config checked the format): a key that fails here stops the start.
    this.witnesses = settings.witnesses.map((w) => ({ ...w, verifier: parseCosignatureVerifierKey(w.key) }));
    this.onRefusal = deps.onRefusal;
  }

  get quorum(): number {
    return this.settings.quorum;
  }

  /** Cuts every exchange in flight short (shutdown): they end as unavailable and are retried by the next process. */
  stop(): void {
    this.stopping.abort();
  }

  /** The composition root sets it once the outbox exists (it is built after the ledger). */
  setRefusalHandler(handler: WitnessRefusalHandler): void {
    this.onRefusal = handler;
  }

  /**
   * One attempt on the tenant's newest checkpoint if it is due. `witnessed`: it reached the quorum now
   * (below it, next_witness_at says when it is due again).
   */
  async run(tenantId: string, sql: Sql): Promise<{ attempted: boolean; witnessed: boolean }> {
    const now = this.deps.clock.now();
    // Long enough for two exchanges per witness (one 409 resync) and the database work around them.
    if (this.stopping.signal.aborted) return { attempted: false, witnessed: false };
    const cp = await claimNewest(sql, now, 2 * this.settings.timeoutMs + 10_000);
    if (!cp) return { attempted: false, witnessed: false };
    await markSuperseded(sql, cp.checkpoint_id);
    const states = await witnessStates(sql);
    const have = this.verifiedLines(cp.note, lines(cp.witness_cosignatures));
    const ask = this.witnesses.filter((w) => !have.has(w.key));
    const asked = await Promise.all(ask.map((w) => this.submit(tenantId, sql, cp, w, states.get(w.key)?.tree_size ?? 0)));
    const all = this.verifiedLines(cp.note, [...have.values(), ...asked.flatMap((a) => a.lines)]);
    const cosignatures = [...all.values()].map((l) => `${l}\n`).join("");
    const finished = this.deps.clock.now();
    if (all.size >= this.settings.quorum) {
      await finishAttempt(sql, cp.checkpoint_id, { cosignatures, cosignedNote: withCosignatures(cp.note, [...all.values()]) }, finished);
      witnessMetrics.lag.set({ tenant: tenantId }, 0);
      return { attempted: true, witnessed: true };
    }
    const backoff = Math.min(MAX_BACKOFF_MS, FIRST_BACKOFF_MS * 2 ** Math.min(cp.witness_attempts, 16));
    const problems = asked.filter((a) => a.problem).map((a) => `${a.witness.name}: ${a.problem}`);
    const error = `${all.size} of ${this.settings.quorum} required cosignatures${problems.length ? `; ${problems.join("; ")}` : ""}`;
    await finishAttempt(sql, cp.checkpoint_id, { cosignatures, error, nextAttemptAt: new Date(finished.getTime() + backoff) }, finished);
    witnessMetrics.lag.set({ tenant: tenantId }, Math.max(0, (finished.getTime() - Date.parse(cp.signed_at)) / 1000));
    this.deps.log.warn({ tenantId, checkpointId: cp.checkpoint_id, retryInMs: backoff, error }, "checkpoint below the witness quorum; published unwitnessed, retrying");
    return { attempted: true, witnessed: false };
  }

  /**
   * The configured witness each line is a valid cosignature of (by key), one line per witness. Lines
   * of witnesses no longer configured, or that no longer verify, are dropped.
   */
  private verifiedLines(note: string, candidates: readonly string[]): Map<string, string> {
    const out = new Map<string, string>();
    for (const line of candidates) {
      for (const w of this.witnesses) {
        if (out.has(w.key)) continue;
        try {
          if (verifyCosignatures(withCosignatures(note, [line]), [w.verifier]).cosigned.length > 0) out.set(w.key, line);
        } catch {
          // Not this witness's valid line.
        }
      }
    }
    return out;
  }

  /** One witness: add-checkpoint from its known size, resyncing once on a 409 that names another size. */
  private async submit(tenantId: string, sql: Sql, cp: ClaimedCheckpoint, w: ConfiguredWitness, knownSize: number): Promise<Asked> {
    let old = knownSize;
    for (let attempt = 0; attempt < 2; attempt++) {
      if (old > cp.tree_size) {
        // It holds a larger tree: fine if we signed one that large (another process got there first).
        if (await haveCheckpointOfSize(sql, old)) return { witness: w, lines: [], problem: `holds a newer checkpoint (tree size ${old})` };
        return this.refuse(tenantId, sql, cp, w, "ahead", null, `holds a tree of ${old} leaves of this log, larger than any checkpoint it signed`);
      }
      const proof = old === 0 || old === cp.tree_size ? [] : (await consistencyPath(sql, old, cp.tree_size)).map((h) => fromHex(h));
      const answer = await addCheckpoint({ url: w.url, verifier: w.verifier, oldSize: old, proof, note: cp.note, timeoutMs: this.settings.timeoutMs, signal: this.stopping.signal });
      const now = this.deps.clock.now();
      switch (answer.kind) {
        case "cosigned":
          witnessMetrics.cosignatures.inc({ witness: w.name });
          await recordCosigned(sql, w, cp.checkpoint_id, cp.tree_size, now);
          return { witness: w, lines: answer.lines };
        case "size":
          await recordSize(sql, w, answer.size, now);
          if (answer.size === old) return this.unavailable(sql, w, `answered 409 naming the size ${old} it was sent`);
          old = answer.size;
          continue;
        case "refused":
          return this.refuse(tenantId, sql, cp, w, answer.reason, answer.status, answer.detail);
        case "unavailable":
          return this.unavailable(sql, w, answer.detail);
      }
    }
    return this.unavailable(sql, w, "its tree size changed again during the attempt");
  }

  private async unavailable(sql: Sql, w: ConfiguredWitness, detail: string): Promise<Asked> {
    witnessMetrics.unavailable.inc({ witness: w.name });
    await recordUnavailable(sql, w, detail, this.deps.clock.now());
    return { witness: w, lines: [], problem: `unavailable (${detail})` };
  }

  private async refuse(tenantId: string, sql: Sql, cp: ClaimedCheckpoint, w: ConfiguredWitness, reason: RefusalReason, status: number | null, detail: string): Promise<Asked> {
    witnessMetrics.refusals.inc({ witness: w.name, reason });
    const now = this.deps.clock.now();
    const refusal: WitnessRefusal = {
      witness: w.name,
      witness_key: w.key,
      reason,
      http_status: status,
      detail,
      checkpoint_id: cp.checkpoint_id,
      tree_size: cp.tree_size,
      origin: originOf(cp.note),
      at: now.toISOString(),
    };
    const news = await sql.transaction(async (tx) => {
      const changed = await recordRefusal(tx, w, reason, detail, now);
      if (changed && this.onRefusal) await this.onRefusal(tx, tenantId, refusal);
      return changed;
    });
    const fields = { tenantId, witness: w.name, reason, status, detail, checkpointId: cp.checkpoint_id, treeSize: cp.tree_size };
    if (news) this.deps.log.error(fields, "a witness refused the ledger's checkpoint (a fork, an inconsistent tree or a key it does not trust): investigate");
    else this.deps.log.warn(fields, "a witness still refuses the ledger's checkpoints");
    return { witness: w, lines: [], problem: `refused (${reason}${status ? `, HTTP ${status}` : ""}${detail ? `: ${detail}` : ""})` };
  }
}

function lines(block: string): string[] {
  return block.split("\n").filter((l) => l !== "");
}

function originOf(note: string): string {
  try {
    return parseCheckpoint(note.slice(0, note.indexOf("\n\n") + 1)).origin;
  } catch {
    return "";
  }
}
