import type { Logger } from "pino";
import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { fromUtf8Strict } from "../protocols/encoding.js";
import { validateAuthorizationRequest } from "../protocols/stepauth/authorization-request.js";
import { unlinkedRequests, type StepAuthRequestRow } from "./request-store.js";
import { mapped, type StepAuthSubmitter } from "./submit-service.js";

/** A row this much older than its insert, and still unlinked, was left by a crash (a submit takes milliseconds). */
const UNLINKED_AFTER_MS = 30_000;
const BATCH = 50;

/**
 * Finishes StepAuth submits that a crash interrupted between storing the request and creating its
 * clearance request: the request was accepted (202) or its retry got duplicate_request, so it must
 * be decided. The clearance submit is idempotent (its key is derived from sender and requestId), so
 * running it again is safe whichever side of the crash it reached. A request the sender cancelled
 * meanwhile is cancelled as soon as its clearance request exists.
 */
export class StepAuthLinkSweeper {
  private timer: NodeJS.Timeout | undefined;
  private chain: Promise<void> = Promise.resolve();
  private stopped = true;

  constructor(
    private readonly deps: {
      tenantIds: () => Promise<string[]>;
      tenantSql: (tenantId: string) => Promise<Sql>;
      submitter: StepAuthSubmitter;
      clock: Clock;
      log: Logger;
      intervalMs: number;
    },
  ) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.chain;
  }

  /** One pass over every tenant, after any pass in progress (tests never sleep). */
  drain(): Promise<void> {
    const pass = this.chain.then(() => this.sweep());
    this.chain = pass.catch(() => {});
    return pass;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => void this.drain().finally(() => this.schedule()), this.deps.intervalMs);
    this.timer.unref();
  }

  private async sweep(): Promise<void> {
    for (const tenantId of await this.deps.tenantIds()) {
      try {
        const sql = await this.deps.tenantSql(tenantId);
        const before = new Date(this.deps.clock.nowMs() - UNLINKED_AFTER_MS);
        for (const row of await unlinkedRequests(sql, before, BATCH)) await this.relink(sql, tenantId, row);
      } catch (err) {
        this.deps.log.error({ err, tenantId }, "StepAuth link sweep failed; retrying next interval");
      }
    }
  }

  private async relink(sql: Sql, tenantId: string, row: StepAuthRequestRow): Promise<void> {
    const where = { tenantId, sender: row.sender_id, requestId: row.request_id };
    // Checked again as it was on arrival: the same clock and the hub entity it was addressed to.
    const text = fromUtf8Strict(row.payload);
    const recipient = text === null ? "" : String((JSON.parse(text) as { recipientId?: unknown }).recipientId ?? "");
    const checked = validateAuthorizationRequest(row.payload, { hubEntity: recipient, now: row.created_at });
    if (!checked.ok) {
      this.deps.log.error({ ...where, code: checked.code }, "a stored StepAuth request no longer validates; left unlinked");
      return;
    }
    try {
      await this.deps.submitter.toClearance(sql, tenantId, checked.request, mapped(tenantId, checked.request, row.request_digest), { refused: "keep" });
      this.deps.log.warn(where, "StepAuth request linked to its clearance request after an interrupted submit");
    } catch (err) {
      this.deps.log.error({ err, ...where }, "StepAuth request could not be linked; retrying next interval");
    }
  }
}
