import type { Logger } from "pino";
import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { AppError, isAppError } from "../errors.js";
import { failClosedVerdict, type Judge, type Verdict } from "../judge/judge.js";
import type { Principal } from "../tenancy/api-keys.js";
import { canonicalJson, sha256Hex } from "../tokens/canonical-json.js";
import { SignerUnavailableError } from "../tokens/signer.js";
import { applyConfidenceThreshold, DEFAULT_MINIMUM_BUCKET, rulesForRequest, withReviewDeadline, type ReviewSettingsCache } from "./review-settings.js";
import type { ClearanceRequest, DecisionFields } from "./clearance-request.js";
import type { RequestLifecycle } from "./lifecycle.js";
import { decisionFromVerdict } from "./decisions.js";
import type { LeaseSweeper } from "./lease-sweeper.js";
import type { ClearanceQueue, ClearanceJob, JobDelivery, JobOutcome } from "./queue.js";
import type { ClearanceRequestBody } from "./request-schema.js";
import {
  claimRequest,
  countAttempt,
  getRequest,
  getRequestByIdempotencyKey,
  QUEUED_LEASE_OWNER,
  type NewClearanceRequest,
} from "./store/request-store.js";
import { judgeInput, newClearanceRow } from "./new-clearance-row.js";
import { clearanceResponse, type ClearanceResponse } from "./response.js";
import type { TokenIssuer } from "./token-issuer.js";
import type { DecisionWaiters } from "./waiters.js";
import type { GrantMatcher } from "../grants/grant-matcher.js";
import { holdActiveGrant } from "../grants/grant-store.js";
import { judgedEvidence, withGrant, type Judged } from "./grant-approval.js";

export interface ClearanceSettings {
  /** Decide in the request handler (one commit) when the judge needs no I/O; else queue. */
  inline: boolean;
  syncWaitMs: number;
  highWatermark: number;
  maxJobAttempts: number;
  /** How long a request published to a shared queue stays the queue's before a sweeper may take it over. */
  queuedLeaseSeconds: number;
}

const FINISHED: JobOutcome = { kind: "finished" };
const UNSIGNED = "The approval could not be signed; sent to human review";

/** How often a waiting reader re-reads a request that another process may decide (a shared queue). */
const SHARED_QUEUE_POLL_MS = 200;

/**
 * What a submit from another protocol adds to the request (src/stepauth/, src/agents/): its kind, and
 * extras the lifecycle reads (`approver` tightens the review rules, `review_deadline` caps the review's
 * expiry: review-settings.ts).
 */
export interface SubmitOptions {
  kind?: ClearanceRequest["kind"];
  extras?: Record<string, unknown>;
  /** Answer as soon as the request is stored (its caller learns the decision another way), not after syncWaitMs. */
  noWait?: boolean;
}

export interface ClearanceReply {
  httpStatus: 200 | 202;
  body: ClearanceResponse;
}

export class ClearanceService {
  /** Requests this process is judging now: one job per request at a time. */
  private readonly running = new Set<string>();

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
      /** Scoped grants (src/grants/): absent, no request is ever approved by one. */
      grants?: GrantMatcher;
    },
  ) {}

  /** `sql` is the principal's tenant database. */
  async submit(sql: Sql, principal: Principal, body: ClearanceRequestBody, rawBody: unknown, idempotencyKey?: string, options: SubmitOptions = {}): Promise<ClearanceReply> {
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
    const plain = newClearanceRow(principal, body, { bodyHash, idempotencyKey, now: this.deps.clock.now() });
    const row: NewClearanceRequest = { ...plain, kind: options.kind ?? plain.kind, extras: { ...plain.extras, ...options.extras } };
    if (settings.inline) return this.decideInline(principal, sql, row, bodyHash);

    const woken = options.noWait ? undefined : this.deps.waiters.wait(row.id, settings.syncWaitMs);
    // In memory: leased to this process from the start, so a peer takes it over only if this process
    // dies. On a shared queue: leased to the queue, so whichever process receives it may claim it; if
    // the message is lost, the lease lapses and a sweeper takes the request over.
    const lease = queue.shared ? this.queuedLease() : this.deps.leases.lease;
    if (!(await this.deps.lifecycle.open(sql, row, lease))) {
      return this.replay(principal, sql, (await getRequestByIdempotencyKey(sql, idempotencyKey!))!, bodyHash);
    }
    const job = { tenantId: principal.tenantId, requestId: row.id };
    if (!queue.shared) this.deps.leases.hold(job);
    // The row is committed before the message is sent: a failed send loses nothing (the queue then
    // judges it here, and if this process dies the lease sweeper has it).
    await queue.publish(job);
    const waitMs = options.noWait ? 0 : settings.syncWaitMs;
    if (queue.shared) return this.reply(principal, sql, await this.awaitChange(sql, row.id, "processing", waitMs));
    await woken;
    return this.reply(principal, sql, (await getRequest(sql, row.id))!);
  }

  /**
   * The request as it stands. With `waitMs`, an undecided request is held until its status changes
   * or the time is up (a long poll): woken at once by this process, and re-read every second for
   * changes another vault process made.
   */
  async status(sql: Sql, principal: Principal, requestId: string, waitMs = 0): Promise<ClearanceReply> {
    const row = await getRequest(sql, requestId);
    if (!row) throw new AppError("request_not_found", `No clearance request ${requestId}`);
    if (row.status !== "processing" && row.status !== "pending_review") return this.reply(principal, sql, row);
    return this.reply(principal, sql, await this.awaitChange(sql, requestId, row.status, waitMs, row));
  }

  /**
   * The request once its status is no longer `initial`, or as it stands after `waitMs`. Woken at once
   * by this process's own decisions; decisions of other processes are seen by re-reading, every second,
   * or more often when the shared queue makes that the usual case.
   */
  private async awaitChange(sql: Sql, requestId: string, initial: ClearanceRequest["status"], waitMs: number, current?: ClearanceRequest): Promise<ClearanceRequest> {
    const slice = this.deps.queue.shared ? SHARED_QUEUE_POLL_MS : 1000;
    let row = current ?? (await getRequest(sql, requestId))!;
    // Slices of real waiting each, so the budget holds whatever the clock does.
    for (let left = waitMs; left > 0 && row.status === initial; left -= slice) {
      await this.deps.waiters.wait(requestId, Math.min(left, slice));
      row = (await getRequest(sql, requestId)) ?? row;
    }
    return row;
  }

  /** The lease a request published to a shared queue carries until a process claims it. */
  private queuedLease() {
    return { owner: QUEUED_LEASE_OWNER, seconds: this.deps.settings.queuedLeaseSeconds };
  }

  /**
   * The worker: claim the request's lease, judge, then the decision through the lifecycle (its
   * ledger event, token and reports commit with it; waiters wake after the commit). The lease stays renewed (LeaseSweeper) while this runs,
   * however long the judge takes, and is let go when the job ends, unless a retry is scheduled.
   */
  async processJob(job: ClearanceJob, delivery?: JobDelivery): Promise<JobOutcome> {
    const { queue, log } = this.deps;
    // Already being judged here (a message delivered again while its first delivery still runs, or a
    // send that timed out but arrived): the running job decides it; this one must not release its lease.
    if (this.running.has(job.requestId)) return FINISHED;
    this.running.add(job.requestId);
    let outcome = FINISHED;
    try {
      const sql = await this.deps.tenantSql(job.tenantId);
      try {
        // A message delivered this often has taken its receivers down with it (each died mid-job):
        // it is decided as review, never judged again.
        if (delivery && delivery.receiveCount > delivery.maxReceiveCount) await this.decidePoison(job, sql, delivery);
        else await this.decide(job, sql);
      } catch (err) {
        outcome = await this.retryLater(sql, job, err);
      }
    } catch (err) {
      if (isAppError(err) && err.code === "not_found") {
        // No such tenant (deleted, or a message from another deployment's queue): nothing to decide, ever.
        log.warn({ requestId: job.requestId, tenantId: job.tenantId }, "clearance job for a tenant that does not exist: dropped");
        return FINISHED;
      }
      // The tenant database could not be opened: in memory the job is let go, its lease lapses, and a
      // later sweep (here or in a peer) claims it again; a shared queue delivers the message again.
      log.error({ err, requestId: job.requestId, tenantId: job.tenantId }, "clearance job failed: tenant database unavailable");
      // A shared queue keeps the message (so it counts no extra delivery) and runs the job again here.
      if (queue.shared) outcome = { kind: "retry", afterMs: 5000 };
    } finally {
      this.running.delete(job.requestId);
      // A retry keeps its lease renewed here (and, on a shared queue, its message invisible) until it runs again.
      if (outcome.kind === "finished") this.deps.leases.release(job);
    }
    return outcome;
  }

  private async decide(job: ClearanceJob, sql: Sql): Promise<void> {
    // Decided already, or held by another live process: nothing to do here.
    const row = await claimRequest(sql, job.requestId, this.deps.leases.lease);
    if (!row) return;
    this.deps.leases.hold(job);
    const judged = await this.judge(job.tenantId, sql, row);
    const { lifecycle } = this.deps;
    const decision = await lifecycle.prepareDecision(job.tenantId, row, judged.fields, judgedEvidence(judged)).catch((err) => {
      // The token key cannot sign: the request fails closed to review (its ledger event is signed by the
      // ledger key; if that fails too, this throws and the job is retried).
      if (!(err instanceof SignerUnavailableError) || judged.fields.status !== "approved") throw err;
      this.deps.log.warn({ requestId: row.id, kid: err.kid }, "signer unavailable: approval sent to review instead");
      judged.grant = undefined;
      return this.reviewFields(job.tenantId, sql, "signer_unavailable", UNSIGNED, row.extras).then((review) => lifecycle.prepareDecision(job.tenantId, row, review));
    });
    const grant = judged.grant;
    const lapsed = await lifecycle.commit(sql, row.id, async (tx) => {
      // The grant is share-locked and checked in the decision's transaction: one revoked meanwhile approves nothing.
      if (grant && !(await holdActiveGrant(tx, grant.id, this.deps.clock.now()))) return true;
      await lifecycle.decide(tx, job.tenantId, decision);
      return false;
    });
    if (lapsed) {
      const review = await lifecycle.prepareDecision(job.tenantId, row, judged.review!);
      await lifecycle.commit(sql, row.id, (tx) => lifecycle.decide(tx, job.tenantId, review));
    }
  }

  private async decidePoison(job: ClearanceJob, sql: Sql, delivery: JobDelivery): Promise<void> {
    const row = await claimRequest(sql, job.requestId, this.deps.leases.lease);
    if (!row) return;
    this.deps.log.error({ requestId: job.requestId, tenantId: job.tenantId, ...delivery }, "poison clearance message: sent to review");
    await this.failClosed(sql, job, "processing_failed", "The request could not be processed after repeated deliveries; sent to human review");
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
    const judged = await this.judge(tenantId, sql, row);
    const first = await this.insertInline(tenantId, sql, row, judged);
    // The grant was revoked (or expired) between matching and commit: decided again, as the review it replaced.
    const outcome = first === "grant_lapsed" ? await this.insertInline(tenantId, sql, row, { fields: judged.review! }) : first;
    if (outcome === "grant_lapsed" || !outcome.inserted) return this.replay(principal, sql, (await getRequestByIdempotencyKey(sql, row.idempotency_key!))!, bodyHash);
    return { httpStatus: 200, body: clearanceResponse(outcome.decided, outcome.rendered, outcome.token?.expires_at ?? null) };
  }

  /** One inline decision, signed before its batch and committed; "grant_lapsed" when its grant no longer held at commit. */
  private async insertInline(tenantId: string, sql: Sql, row: NewClearanceRequest, judged: Judged) {
    let decided: NewClearanceRequest = { ...row, ...judged.fields, decided_at: this.deps.clock.now() };
    let token = decided.status === "approved" ? this.deps.issuer.prepare(decided, tenantId) : null;
    let grant = judged.grant;
    const { lifecycle, issuer } = this.deps;
    // Both signatures (the ledger receipt and the token) at once, before the batch: a batch that rolls
    // back and runs again re-uses them.
    const sign = () => Promise.all([lifecycle.decidedEvent(tenantId, decided, grant ? judgedEvidence(judged) : []), token ? issuer.render(token) : null]);
    const [ledger, rendered] = await sign().catch(async (err) => {
      // The token key cannot sign: fail closed to review, recorded as such. If the ledger key cannot sign
      // either, nothing is stored and the client gets 503 signer_unavailable.
      if (!(err instanceof SignerUnavailableError) || !token) throw err;
      this.deps.log.warn({ requestId: row.id, kid: err.kid }, "signer unavailable: approval sent to review instead");
      decided = { ...row, ...(await this.reviewFields(tenantId, sql, "signer_unavailable", UNSIGNED, row.extras)), decided_at: this.deps.clock.now() };
      token = null;
      grant = undefined;
      return sign();
    });
    const inserted = await lifecycle.commit(sql, decided.id, async (tx) => {
      if (grant && !(await holdActiveGrant(tx, grant.id, this.deps.clock.now()))) return "grant_lapsed" as const;
      return lifecycle.insertDecided(tx, tenantId, decided, token, ledger);
    });
    return inserted === "grant_lapsed" ? inserted : { inserted, decided, rendered, token };
  }

  /**
   * The judge's verdict on a stored request with other arguments (a reviewer's edit): a reviewer may
   * narrow an action, never edit it into one the policy denies (docs/grants.md). Nothing is stored.
   */
  async judgeEdited(tenantId: string, row: ClearanceRequest, args: Record<string, unknown>): Promise<Verdict> {
    return this.deps.judge.evaluate(judgeInput(tenantId, { ...row, tool_args: args }));
  }

  /**
   * The judge's verdict, held to the tenant's confidence threshold whatever judge gave it, then (for
   * a review a grant may widen) approved by an active grant that matches (docs/grants.md).
   */
  private async judge(tenantId: string, sql: Sql, row: NewClearanceRequest): Promise<Judged> {
    const judged = await this.deps.judge.evaluate(judgeInput(tenantId, row));
    const settings = await this.deps.reviewSettings.get(tenantId, sql);
    const minimum = settings.minimum_confidence_bucket;
    const verdict = applyConfidenceThreshold(judged, minimum);
    const rules = rulesForRequest(settings, verdict.policy_id, row.extras);
    const fields = withReviewDeadline(decisionFromVerdict(verdict, minimum, { rules, now: this.deps.clock.now() }), row.extras);
    const { grants, clock, log } = this.deps;
    return grants ? withGrant({ matcher: grants, log, now: clock.now() }, sql, tenantId, row, verdict, rules, fields) : { fields };
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

  /**
   * A retry after a backoff, run again by this process (which keeps the lease, and on a shared queue
   * the message), or, out of attempts, the request decided as review. The attempt count is kept on
   * the row, so it holds across processes.
   */
  private async retryLater(sql: Sql, job: ClearanceJob, err: unknown): Promise<JobOutcome> {
    const { log, settings } = this.deps;
    log.error({ err, requestId: job.requestId, tenantId: job.tenantId }, "clearance job failed");
    // If even counting fails (database down), keep retrying rather than give up on the request.
    const attempts = await countAttempt(sql, job.requestId).catch(() => 1);
    if (attempts < settings.maxJobAttempts) return { kind: "retry", afterMs: Math.min(30_000, 250 * 2 ** attempts) };
    // Out of attempts: fail closed to human review rather than leave the client polling forever.
    await this.failClosed(sql, job, "processing_failed", "The decision could not be completed; sent to human review");
    return FINISHED;
  }

  /** A fail-closed review, under the tenant's review rules if they can be read (the database may be the problem). */
  private async reviewFields(tenantId: string, sql: Sql, reasonCode: string, reason: string, extras: Record<string, unknown> = {}): Promise<DecisionFields> {
    const review = await this.deps.reviewSettings.get(tenantId, sql).catch(() => undefined);
    const rules = review ? rulesForRequest(review, null, extras) : undefined;
    return withReviewDeadline(decisionFromVerdict(failClosedVerdict(reasonCode, reason), DEFAULT_MINIMUM_BUCKET, { rules, now: this.deps.clock.now() }), extras);
  }

  /** Decides a request still processing as review. */
  private async failClosed(sql: Sql, job: ClearanceJob, reasonCode: string, reason: string): Promise<void> {
    const { log } = this.deps;
    // The request's own approver and deadline shape its review too (read here: the database may be the problem).
    const current = await getRequest(sql, job.requestId).catch(() => undefined);
    const fields = await this.reviewFields(job.tenantId, sql, reasonCode, reason, current?.extras);
    const { lifecycle } = this.deps;
    await lifecycle
      .commit(sql, job.requestId, async (tx) => {
        // Read again here: the attempt that failed may have been anywhere. (A rare path: it signs
        // inside the batch rather than read the request twice.)
        const stored = await getRequest(tx, job.requestId);
        if (stored?.status !== "processing") return undefined;
        return lifecycle.decide(tx, job.tenantId, await lifecycle.prepareDecision(job.tenantId, stored, fields));
      })
      .catch((e) => log.error({ err: e, requestId: job.requestId }, "could not mark failed request for review"));
    // Whatever happened, a long poll on it re-reads now rather than at its next slice.
    this.deps.waiters.notify(job.requestId);
  }
}
