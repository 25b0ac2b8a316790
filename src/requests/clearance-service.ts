import type { Logger } from "pino";
import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import { failClosedVerdict, type Judge, type JudgeInput } from "../judge/judge.js";
import type { Principal } from "../tenancy/api-keys.js";
import { newRequestId } from "../tenancy/ids.js";
import { canonicalJson, sha256Hex, toolArgsHash } from "../tokens/canonical-json.js";
import { applyConfidenceThreshold, DEFAULT_MINIMUM_BUCKET, rulesFor, type ReviewSettingsCache } from "./review-settings.js";
import type { ClearanceRequest, DecisionFields } from "./clearance-request.js";
import type { RequestLifecycle } from "./lifecycle.js";
import { decisionFromVerdict } from "./decisions.js";
import type { LeaseSweeper } from "./lease-sweeper.js";
import type { ClearanceQueue, ClearanceJob } from "./queue.js";
import { extraFieldNames, type ClearanceRequestBody } from "./request-schema.js";
import {
  claimRequest,
  countAttempt,
  getRequest,
  getRequestByIdempotencyKey,
  type NewClearanceRequest,
} from "./store/request-store.js";
import { clearanceResponse, type ClearanceResponse } from "./response.js";
import type { TokenIssuer } from "./token-issuer.js";
import type { DecisionWaiters } from "./waiters.js";

export interface ClearanceSettings {
  /** Decide in the request handler (one commit) when the judge needs no I/O; else queue. */
  inline: boolean;
  syncWaitMs: number;
  highWatermark: number;
  maxJobAttempts: number;
}

export interface ClearanceReply {
  httpStatus: 200 | 202;
  body: ClearanceResponse;
}

export class ClearanceService {
  constructor(
    private readonly deps: {
      tenantSql: (tenantId: string) => Promise<Sql>;
      judge: Judge;
      queue: ClearanceQueue;
      /** Leases on this process's unfinished requests; a dead process's requests are taken over. */
      leases: LeaseSweeper;
      waiters: DecisionWaiters;
      issuer: TokenIssuer;
      lifecycle: RequestLifecycle;
      clock: Clock;
      log: Logger;
      reviewSettings: ReviewSettingsCache;
      settings: ClearanceSettings;
    },
  ) {}

  /** `sql` is the principal's tenant database. */
  async submit(sql: Sql, principal: Principal, body: ClearanceRequestBody, rawBody: unknown, idempotencyKey?: string): Promise<ClearanceReply> {
    const { settings, queue } = this.deps;
    const bodyHash = sha256Hex(canonicalJson(rawBody));
    if (idempotencyKey) {
      const existing = await getRequestByIdempotencyKey(sql, idempotencyKey);
      if (existing) return this.replay(principal, sql, existing, bodyHash);
    }
    if (!settings.inline && queue.depth() >= settings.highWatermark) {
      throw new AppError("queue_saturated", `Clearance queue is near capacity (${queue.depth()} waiting); retry shortly`, {
        retryAfterSeconds: 1,
      });
    }
    const row = this.newRow(principal, body, bodyHash, idempotencyKey);
    if (settings.inline) return this.decideInline(principal, sql, row, bodyHash);

    const woken = this.deps.waiters.wait(row.id, settings.syncWaitMs);
    // Leased to this process from the start: a peer takes it over only if this process dies.
    if (!(await this.deps.lifecycle.open(sql, row, this.deps.leases.lease))) {
      return this.replay(principal, sql, (await getRequestByIdempotencyKey(sql, idempotencyKey!))!, bodyHash);
    }
    const job = { tenantId: principal.tenantId, requestId: row.id };
    this.deps.leases.hold(job);
    queue.enqueue(job);
    await woken;
    return this.reply(principal, sql, (await getRequest(sql, row.id))!);
  }

  /**
   * The request as it stands. With `waitMs`, an undecided request is held until its status changes
   * or the time is up (a long poll): woken at once by this process, and re-read every second for
   * changes another vault process made.
   */
  async status(sql: Sql, principal: Principal, requestId: string, waitMs = 0): Promise<ClearanceReply> {
    let row = await getRequest(sql, requestId);
    if (!row) throw new AppError("request_not_found", `No clearance request ${requestId}`);
    const initial = row.status;
    // Slices of at most a second of real waiting each, so the budget holds whatever the clock does.
    for (let left = waitMs; left > 0 && (initial === "processing" || initial === "pending_review") && row.status === initial; left -= 1000) {
      await this.deps.waiters.wait(requestId, Math.min(left, 1000));
      row = (await getRequest(sql, requestId)) ?? row;
    }
    return this.reply(principal, sql, row);
  }

  /**
   * The worker: claim the request's lease, judge, then the decision through the lifecycle (its
   * ledger event, token and reports commit with it; waiters wake after the commit). The lease stays renewed (LeaseSweeper) while this runs,
   * however long the judge takes, and is let go when the job ends, unless a retry is scheduled.
   */
  async processJob(job: ClearanceJob): Promise<void> {
    let retrying = false;
    try {
      const sql = await this.deps.tenantSql(job.tenantId);
      try {
        await this.decide(job, sql);
      } catch (err) {
        retrying = await this.retryLater(sql, job, err);
      }
    } catch (err) {
      // The tenant database could not be opened: the job is let go, its lease lapses, and a later
      // sweep (in this process or a peer) claims it again.
      this.deps.log.error({ err, requestId: job.requestId, tenantId: job.tenantId }, "clearance job failed: tenant database unavailable");
    } finally {
      if (!retrying) this.deps.leases.release(job);
    }
  }

  private async decide(job: ClearanceJob, sql: Sql): Promise<void> {
    // Decided already, or held by another live process: nothing to do here.
    const row = await claimRequest(sql, job.requestId, this.deps.leases.lease);
    if (!row) return;
    const fields = await this.judge(job.tenantId, sql, row);
    const { lifecycle } = this.deps;
    const decision = await lifecycle.prepareDecision(row, fields);
    await lifecycle.commit(sql, row.id, (tx) => lifecycle.decide(tx, job.tenantId, decision));
  }

  /**
   * Start-up recovery: claims what a previous process left in `processing` and nobody holds (its
   * leases were released at a clean stop, or lapsed after a crash), up to the queue's watermark.
   * What is still leased, or did not fit, the lease sweeper takes over on a later pass.
   */
  async recover(tenantIds: string[]): Promise<number> {
    return this.deps.leases.takeOver(tenantIds);
  }

  /**
   * The answer as `viewer` may see it: the token goes only to the key that asked for the clearance
   * (or an admin). A reviewer who approves, or another agent who knows the id, sees the decision
   * but never a bearer token for someone else's action.
   */
  async reply(viewer: Principal, sql: Sql, row: ClearanceRequest): Promise<ClearanceReply> {
    const mayHoldToken = viewer.keyId === row.api_key_id || viewer.scope === "admin";
    const token = mayHoldToken ? await this.deps.issuer.forRequest(sql, row) : null;
    return {
      httpStatus: row.status === "processing" ? 202 : 200,
      body: clearanceResponse(row, token?.token ?? null, token?.expiresAt ?? null),
    };
  }

  /** Judged in the handler: the decision, its token and its ledger event commit together (group commit). */
  private async decideInline(principal: Principal, sql: Sql, row: NewClearanceRequest, bodyHash: string): Promise<ClearanceReply> {
    const tenantId = principal.tenantId;
    const decided: NewClearanceRequest = { ...row, ...(await this.judge(tenantId, sql, row)), decided_at: this.deps.clock.now() };
    const token = decided.status === "approved" ? this.deps.issuer.prepare(decided, tenantId) : null;
    const { lifecycle, issuer } = this.deps;
    // Both signatures (the ledger receipt and the token) at once, on the thread pool, before the
    // batch: a batch that rolls back and runs again re-uses them.
    const [ledger, rendered] = await Promise.all([lifecycle.decidedEvent(decided), token ? issuer.render(token) : null]);
    const inserted = await lifecycle.commit(sql, decided.id, (tx) => lifecycle.insertDecided(tx, tenantId, decided, token, ledger));
    if (!inserted) return this.replay(principal, sql, (await getRequestByIdempotencyKey(sql, row.idempotency_key!))!, bodyHash);
    return { httpStatus: 200, body: clearanceResponse(decided, rendered, token?.expires_at ?? null) };
  }

  /** The judge's verdict, held to the tenant's confidence threshold whatever judge gave it. */
  private async judge(tenantId: string, sql: Sql, row: NewClearanceRequest): Promise<DecisionFields> {
    const verdict = await this.deps.judge.evaluate(judgeInput(tenantId, row));
    const settings = await this.deps.reviewSettings.get(tenantId, sql);
    const minimum = settings.minimum_confidence_bucket;
    return decisionFromVerdict(applyConfidenceThreshold(verdict, minimum), minimum, { rules: rulesFor(settings, verdict.policy_id), now: this.deps.clock.now() });
  }

  /** Same Idempotency-Key: the same body gets the original request's answer, another body a 422. */
  private async replay(principal: Principal, sql: Sql, existing: ClearanceRequest, bodyHash: string): Promise<ClearanceReply> {
    if (existing.body_hash !== bodyHash) {
      throw new AppError("idempotency_key_reused", "This Idempotency-Key was used with a different request body");
    }
    // Keys are per tenant; another API key replaying them must not receive the first key's token.
    if (existing.api_key_id !== principal.keyId) {
      throw new AppError("idempotency_key_reused", "This Idempotency-Key was used by another API key");
    }
    if (existing.status === "processing") {
      await this.deps.waiters.wait(existing.id, this.deps.settings.syncWaitMs);
      return this.reply(principal, sql, (await getRequest(sql, existing.id))!);
    }
    return this.reply(principal, sql, existing);
  }

  private newRow(principal: Principal, body: ClearanceRequestBody, bodyHash: string, idempotencyKey?: string): NewClearanceRequest {
    const extras: Record<string, unknown> = {};
    for (const name of extraFieldNames) if (body[name] !== undefined) extras[name] = body[name];
    return {
      id: newRequestId(),
      kind: "clearance",
      idempotency_key: idempotencyKey ?? null,
      body_hash: bodyHash,
      api_key_id: principal.keyId,
      tool_name: body.tool_name,
      tool_args: body.tool_args,
      tool_args_hash: toolArgsHash(body.tool_args),
      agent_id: body.agent_id,
      session_id: body.session_id,
      human_principal: body.human_principal ?? null,
      parent_jti: body.parent_jti ?? null,
      context: body.context,
      extras,
      status: "processing",
      decision_status: null,
      reason: "",
      reason_code: null,
      confidence_bucket: "none",
      policy_id: null,
      policy_version_id: null,
      policy_content_hash: null,
      applied_policies: [],
      matched_condition_ids: [],
      minimum_confidence_bucket: DEFAULT_MINIMUM_BUCKET,
      citations: [],
      evidence_chunks: [],
      judge_trace: {},
      review_rules: null,
      expires_at: null,
      original_request_id: null,
      created_at: this.deps.clock.now(),
      decided_at: null,
    };
  }

  /** True when a retry is scheduled (the job stays held, its lease renewed); false when it is finished. */
  private async retryLater(sql: Sql, job: ClearanceJob, err: unknown): Promise<boolean> {
    const { log, settings, queue } = this.deps;
    log.error({ err, requestId: job.requestId, tenantId: job.tenantId }, "clearance job failed");
    // If even counting fails (database down), keep retrying rather than give up on the request.
    const attempts = await countAttempt(sql, job.requestId).catch(() => 1);
    if (attempts < settings.maxJobAttempts) {
      setTimeout(() => queue.enqueue(job), Math.min(30_000, 250 * 2 ** attempts)).unref();
      return true;
    }
    // Out of attempts: fail closed to human review rather than leave the client polling forever.
    const verdict = failClosedVerdict("processing_failed", "The decision could not be completed; sent to human review");
    // The tenant's rules if they can be read; the defaults otherwise (the database may be the problem).
    const review = await this.deps.reviewSettings.get(job.tenantId, sql).catch(() => undefined);
    const fields = decisionFromVerdict(verdict, DEFAULT_MINIMUM_BUCKET, { rules: review?.rules, now: this.deps.clock.now() });
    const { lifecycle } = this.deps;
    await lifecycle
      .commit(sql, job.requestId, async (tx) => {
        // Read again here: the attempt that failed may have been anywhere. (A rare path: it signs
        // inside the batch rather than read the request twice.)
        const stored = await getRequest(tx, job.requestId);
        if (stored?.status !== "processing") return undefined;
        return lifecycle.decide(tx, job.tenantId, await lifecycle.prepareDecision(stored, fields));
      })
      .catch((e) => log.error({ err: e, requestId: job.requestId }, "could not mark failed request for review"));
    // Whatever happened, a long poll on it re-reads now rather than at its next slice.
    this.deps.waiters.notify(job.requestId);
    return false;
  }
}

function judgeInput(tenantId: string, row: NewClearanceRequest): JudgeInput {
  return {
    tenantId,
    requestId: row.id,
    tool: row.tool_name,
    args: row.tool_args,
    context: row.context,
    agentId: row.agent_id,
    sessionId: row.session_id,
    humanPrincipal: row.human_principal,
  };
}
