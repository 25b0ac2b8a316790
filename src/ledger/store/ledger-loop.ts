import os from "node:os";
import type { Logger } from "pino";
import type { Clock } from "../../clock.js";
import type { Sql } from "../../db/sql.js";
import type { AnchorStore } from "../anchor/anchor-store.js";
import type { AnchorExporter } from "../anchor/anchor-exporter.js";
import type { CheckpointWitnessing } from "../witnessing/checkpoint-witnessing.js";
import type { TenantWitnessStatus } from "../witnessing/witness-status.js";
import { WitnessingRunner } from "../witnessing/witnessing-runner.js";
import { ledgerMetrics } from "./ledger-metrics.js";
import type { LedgerSequencer, SequenceResult } from "./sequencer.js";

/** What operators see in /readyz for one tenant's ledger. */
export interface TenantLedgerStatus {
  tree_size: number;
  unsequenced_events: number;
  unexported_checkpoints: number;
  anchor_lag_seconds: number;
  last_export_error?: string;
  /** With witnesses configured: the newest checkpoint's witnessing. */
  witnessing?: TenantWitnessStatus;
}

export interface LedgerStatus {
  interval_ms: number;
  anchor: AnchorStore["kind"];
  last_tick_at: string | null;
  /** Configured witnesses (names) and the quorum; absent when witnessing is off. */
  witnesses?: { names: string[]; quorum: number };
  tenants: Record<string, TenantLedgerStatus>;
}

/**
 * The background loop of every vault process: each interval, for every tenant, sequence the backlog
 * and sign a checkpoint, then export due checkpoints to the anchor store. Ticks never overlap; a
 * failing tenant is logged and retried next tick without holding the others back.
 */
export class LedgerLoop {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private stopped = true;
  private lastTickAt: Date | null = null;
  private readonly statuses = new Map<string, TenantLedgerStatus>();

  constructor(
    private readonly deps: {
      tenantIds: () => Promise<string[]>;
      tenantSql: (tenantId: string) => Promise<Sql>;
      sequencer: LedgerSequencer;
      exporter: AnchorExporter;
      anchor: AnchorStore;
      clock: Clock;
      log: Logger;
      intervalMs: number;
      originBase?: string;
      /** Submits checkpoints to C2SP witnesses (VAULT_LEDGER_WITNESSES); absent when none are configured. */
      witnessing?: CheckpointWitnessing;
    },
  ) {
    this.witnesses = deps.witnessing && new WitnessingRunner(deps.witnessing, { tenantSql: deps.tenantSql, clock: deps.clock, log: deps.log, onWitnessed: (t) => this.startExport(t) });
  }

  private readonly witnesses: WitnessingRunner | undefined;

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    // Witnesses that are slow or down must not hold the shutdown for their timeouts.
    const witnessesStopped = this.witnesses?.stop();
    await this.running;
    await witnessesStopped;
    await this.exportsSettled();
  }

  /** Runs one complete pass now, exports included (after any pass in progress): tests never sleep. */
  async drain(): Promise<void> {
    await this.running;
    await this.witnesses?.running();
    await this.exportsSettled();
    this.running = this.tick(true);
    await this.running;
  }

  /**
   * Sequences one tenant right away (a proof asked for an event not yet in a checkpoint), waiting up
   * to `waitMs` for a pass another process is running. Throws SequencerBusyError after that.
   */
  async sequenceNow(tenantId: string, waitMs = 0): Promise<SequenceResult> {
    const result = await this.deps.sequencer.run(await this.tenantLog(tenantId), waitMs);
    // A checkpoint signed on demand is witnessed now, not at the next tick.
    if (result.checkpointId !== undefined) this.witnesses?.kick(tenantId);
    return result;
  }

  origin(tenantId: string): string {
    // A C2SP key name may contain neither spaces nor "+"; a host name never should, but be sure.
    const base = (this.deps.originBase ?? os.hostname()).replace(/[^A-Za-z0-9._~:/-]/g, "-");
    return `${base}/ledger/${tenantId}`;
  }

  status(): LedgerStatus {
    const w = this.deps.witnessing;
    const tenants = Object.fromEntries(
      [...this.statuses].map(([id, s]) => {
        const witnessing = this.witnesses?.status(id);
        return [id, witnessing ? { ...s, witnessing } : s];
      }),
    );
    return {
      interval_ms: this.deps.intervalMs,
      anchor: this.deps.anchor.kind,
      last_tick_at: this.lastTickAt?.toISOString() ?? null,
      ...(w ? { witnesses: { names: w.witnesses.map((x) => x.name), quorum: w.quorum } } : {}),
      tenants,
    };
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => this.schedule(this.deps.intervalMs));
    }, delayMs);
    this.timer.unref();
  }

  /**
   * Sequencing and checkpoints for every tenant. Exports run beside it, one at a time per tenant, so
   * a slow anchor store (fsyncs, S3 round trips) never delays the next checkpoint.
   */
  private async tick(awaitExports = false): Promise<void> {
    let tenantIds: string[];
    try {
      tenantIds = await this.deps.tenantIds();
    } catch (err) {
      this.deps.log.error({ err }, "ledger loop could not list tenants");
      return;
    }
    for (const tenantId of tenantIds) {
      await this.sequenceTenant(tenantId).catch((err) => this.deps.log.error({ err, tenantId }, "ledger sequencing failed; retrying next interval"));
      if (!this.exports.has(tenantId)) this.startExport(tenantId);
      this.witnesses?.kick(tenantId);
      if (awaitExports) {
        await this.witnesses?.running(tenantId);
        await this.exportsSettled(tenantId);
      }
    }
    this.lastTickAt = this.deps.clock.now();
  }

  private readonly exports = new Map<string, Promise<void>>();
  /** Tenants whose checkpoint was witnessed while an export ran: that export may have read the plain note. */
  private readonly exportAgain = new Set<string>();

  private startExport(tenantId: string): void {
    if (this.exports.has(tenantId)) {
      this.exportAgain.add(tenantId);
      return;
    }
    const exporting = this.exportTenant(tenantId)
      .catch((err) => this.deps.log.error({ err, tenantId }, "anchor export pass failed; retrying next interval"))
      .finally(() => {
        this.exports.delete(tenantId);
        if (this.exportAgain.delete(tenantId) && !this.stopped) this.startExport(tenantId);
      });
    this.exports.set(tenantId, exporting);
  }

  /** Until no export of the tenant (or of any tenant) is running or queued behind one. */
  private async exportsSettled(tenantId?: string): Promise<void> {
    for (;;) {
      const running = tenantId === undefined ? [...this.exports.values()] : [this.exports.get(tenantId)].filter((p) => p !== undefined);
      if (running.length === 0) return;
      await Promise.all(running);
    }
  }

  private async sequenceTenant(tenantId: string): Promise<void> {
    const result = await this.deps.sequencer.run(await this.tenantLog(tenantId));
    ledgerMetrics.sequenced.inc(result.sequenced);
    if (result.checkpointId !== undefined) ledgerMetrics.checkpoints.inc();
  }

  private async exportTenant(tenantId: string): Promise<void> {
    const log = await this.tenantLog(tenantId);
    const exported = await this.deps.exporter.run(tenantId, log.sql);
    if (exported.failed) {
      ledgerMetrics.exportFailures.inc();
      this.deps.log.warn({ tenantId, checkpointId: exported.failed.checkpointId, error: exported.failed.error }, "anchor export failed; retrying with backoff");
    }
    await this.refreshStatus(tenantId, log.sql, exported.failed?.error);
  }

  private async tenantLog(tenantId: string) {
    return {
      tenantId,
      sql: await this.deps.tenantSql(tenantId),
      origin: this.origin(tenantId),
      exportTarget: this.deps.anchor.target(tenantId),
    };
  }

  private async refreshStatus(tenantId: string, sql: Sql, exportError: string | undefined): Promise<void> {
    const [row] = await sql.query<{ tree_size: number; unsequenced: number; unexported: number; oldest: string | null; last_error: string | null }>(
      `SELECT (SELECT tree_size FROM ledger_state) AS tree_size,
              (SELECT count(*) FROM ledger_events WHERE leaf_index IS NULL) AS unsequenced,
              (SELECT count(*) FROM ledger_checkpoints WHERE export_status <> 'exported') AS unexported,
              (SELECT min(signed_at) FROM ledger_checkpoints WHERE export_status <> 'exported') AS oldest,
              (SELECT export_error FROM ledger_checkpoints WHERE export_status = 'failed' ORDER BY checkpoint_id LIMIT 1) AS last_error`,
    );
    if (!row) return;
    const lag = row.oldest ? Math.max(0, (this.deps.clock.nowMs() - Date.parse(row.oldest)) / 1000) : 0;
    const status: TenantLedgerStatus = {
      tree_size: Number(row.tree_size),
      unsequenced_events: Number(row.unsequenced),
      unexported_checkpoints: Number(row.unexported),
      anchor_lag_seconds: Math.round(lag * 1000) / 1000,
    };
    const error = exportError ?? row.last_error ?? undefined;
    if (error) status.last_export_error = error;
    this.statuses.set(tenantId, status);
    ledgerMetrics.anchorLag.set({ tenant: tenantId }, status.anchor_lag_seconds);
    ledgerMetrics.unsequenced.set({ tenant: tenantId }, status.unsequenced_events);
  }
}
