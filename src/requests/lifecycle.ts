import type { Clock } from "../clock.js";
import { GroupCommit, type GroupCommitObserver } from "../db/group-commit.js";
import type { Sql } from "../db/sql.js";
import type { LedgerWriter, PreparedLedgerEvent } from "../ledger/store/ledger-writer.js";
import type { ClearanceRequest, ClearanceStatus, DecisionFields } from "./clearance-request.js";
import type { OutboxWriter, WebhookEventType } from "./events.js";
import { ReviewBus } from "./review-bus.js";
import { rulesOf } from "./review-rules.js";
import { applyDecision, insertLeasedRequest, insertRequest, insertRequestWithToken, markDueReminders, setApprovedArgs, type Lease, type NewClearanceRequest } from "./store/request-store.js";
import type { JsonObject } from "../ledger/core/event-hash.js";
import { editEvidence } from "./grant-approval.js";
import { burnTokenWithLedger, type IssuedToken } from "./store/token-store.js";
import { executionEvidence, executionReason, executionWebhookData } from "./execution-event.js";
import { recordExecutionWithLedger, type ExecutionRecord } from "./store/execution-store.js";
import type { EventLink } from "../ledger/store/ledger-proofs.js";
import type { TokenIssuer } from "./token-issuer.js";
import type { TokenApproval } from "../tokens/claims.js";
import { TRANSITIONS, type TransitionName } from "./transitions.js";
import type { DecisionWaiters } from "./waiters.js";
import { decisionMetrics } from "./decision-metrics.js";
import { issuesToken, reportDecided, type RequestKindHandlers } from "./request-kinds.js";

/** How long a batch waits on another transaction's row lock before its units commit one by one. */
const BATCH_LOCK_TIMEOUT_MS = 2000;

/** A decision on a stored request, ready to commit (see prepareDecision). */
export interface PreparedDecision {
  request: ClearanceRequest;
  fields: DecisionFields;
  ledger: PreparedLedgerEvent;
  /** An approval's token, already rendered (signed): a key that cannot sign fails here, before anything commits. */
  token?: IssuedToken;
}

export interface BatchSettings {
  max: number;
  waitMs: number;
}

/**
 * The one owner of a clearance request's life. Every change of state goes through here, inside the
 * caller's transaction, and writes together: the row, its ledger event, the token's jti (minted or
 * burned), and the outbox and review-feed rows that report it. What must follow the commit (waking
 * long polls in this process, telling live consoles) is registered with `tx.onCommit`, so it happens
 * only for a change that exists.
 *
 * `commit()` is the way in: it runs the caller's unit in a transaction shared with concurrent units
 * of the same tenant (group commit, src/db/group-commit.ts) and resolves once that committed.
 */
export class RequestLifecycle {
  private readonly batches = new WeakMap<Sql, GroupCommit>();

  constructor(
    private readonly deps: {
      ledger: LedgerWriter;
      issuer: TokenIssuer;
      outbox: OutboxWriter;
      waiters: DecisionWaiters;
      bus: ReviewBus;
      clock: Clock;
      /** The console page of a request, for review notifications. */
      consoleUrl: (requestId: string) => string;
      batch: BatchSettings;
      batchObserver?: GroupCommitObserver;
      /** What kinds of request other than clearance add to their decision's transaction (request-kinds.ts). */
      kinds?: RequestKindHandlers;
    },
  ) {}

  /**
   * Runs `unit` in a transaction shared with other units of this tenant database (same `key`: one
   * after another). Resolves after the commit; a failing unit fails alone.
   */
  commit<T>(sql: Sql, key: string, unit: (tx: Sql) => Promise<T>): Promise<T> {
    let batch = this.batches.get(sql);
    if (!batch) {
      const sequential = (sql as { engine?: string }).engine === "pglite";
      // One batch of a tenant at a time in this process: while it commits, the next one fills. Two at
      // once could lock the same requests in opposite orders and wait for each other.
      batch = new GroupCommit(sql, { ...this.deps.batch, maxInFlight: 1, sequential, lockTimeoutMs: BATCH_LOCK_TIMEOUT_MS }, this.deps.batchObserver);
      this.batches.set(sql, batch);
    }
    return batch.run(key, unit);
  }

  /**
   * A request left for the queued judge: stored `processing`, leased to this process (a peer takes it
   * over only if this process dies). One statement, nothing to report yet, so no transaction.
   * False when another request holds its Idempotency-Key.
   */
  open(sql: Sql, request: NewClearanceRequest, lease: Lease): Promise<boolean> {
    return insertLeasedRequest(sql, request, lease);
  }

  /**
   * A request decided as it arrives (inline judge): row, token, ledger event and reports in one go.
   * False when another request holds its Idempotency-Key (nothing is written then).
   */
  async insertDecided(tx: Sql, tenantId: string, request: NewClearanceRequest, token: IssuedToken | null, ledger: PreparedLedgerEvent): Promise<boolean> {
    const inserted = token ? await insertRequestWithToken(tx, request, token, ledger) : await insertRequest(tx, request, ledger);
    if (inserted) {
      await this.announce(tx, tenantId, request);
      await reportDecided(this.deps.kinds, tx, tenantId, request);
    }
    return inserted;
  }

  /**
   * The ledger event of a decision made as the request arrives (see decidedEvent callers: signed before the batch).
   * `evidence`: chunks the event carries beyond the judge's (a grant's approval names the grant).
   */
  decidedEvent(tenantId: string, request: NewClearanceRequest, evidence: readonly JsonObject[] = []): Promise<PreparedLedgerEvent> {
    return this.deps.ledger.forClearance(withEvidence(request, evidence), tenantId);
  }

  /** The `token.minted` event of a re-issue, prepared before its batch. */
  mintedEvent(tenantId: string, request: NewClearanceRequest, ledgerReason: string): Promise<PreparedLedgerEvent> {
    return this.deps.ledger.prepare(request, "token.minted", ledgerReason, tenantId);
  }

  /** A re-issued token for an earlier approval (/mint-token): a new approved request of kind `mint`. */
  async insertMinted(tx: Sql, request: NewClearanceRequest, token: IssuedToken, ledger: PreparedLedgerEvent): Promise<void> {
    await insertRequestWithToken(tx, request, token, ledger);
    tx.onCommit(() => decisionMetrics.minted());
  }

  /**
   * A queued request's decision as it will be stored, and its ledger event, hashed and signed before
   * the batch (nothing slow runs inside the shared transaction).
   */
  async prepareDecision(tenantId: string, stored: ClearanceRequest, fields: DecisionFields, evidence: readonly JsonObject[] = []): Promise<PreparedDecision> {
    const request: ClearanceRequest = { ...stored, ...fields, decided_at: this.deps.clock.now() };
    const token = request.status === "approved" ? this.deps.issuer.prepare(request, tenantId) : undefined;
    // Both signatures at once; the rendered token is kept by the issuer for the client's first read.
    const [ledger] = await Promise.all([this.deps.ledger.forClearance(withEvidence(request, evidence), tenantId), token ? this.deps.issuer.render(token) : undefined]);
    return { request, fields, ledger, token };
  }

  /**
   * The judge's decision (or the fail-closed review after repeated failures) on a queued request.
   * Undefined when it was no longer `processing`: exactly one decision wins.
   */
  async decide(tx: Sql, tenantId: string, decision: PreparedDecision): Promise<ClearanceRequest | undefined> {
    const decided = await applyDecision(tx, decision.request.id, ["processing"], decision.fields, decision.request.decided_at!);
    if (!decided) return undefined;
    await this.deps.ledger.append(tx, decision.ledger);
    if (decided.status === "approved") await this.deps.issuer.store(tx, decision.token ?? this.deps.issuer.prepare(decided, tenantId));
    await this.announce(tx, tenantId, decided);
    await reportDecided(this.deps.kinds, tx, tenantId, decided);
    return decided;
  }

  /**
   * Ends a request by one of TRANSITIONS. The judge's evidence stays with it (a reviewer decides on
   * it, not instead of it). Undefined when the request was not in a state the transition leaves.
   */
  async finish(
    tx: Sql,
    tenantId: string,
    request: ClearanceRequest,
    name: TransitionName,
    text: {
      reason: string;
      ledgerReason?: string;
      webhookExtra?: Record<string, unknown>;
      /** Chunks the transition's ledger event carries beyond the request's own (edited args, a grant, passkey assertions). */
      evidence?: JsonObject[];
      /** Edit-on-approve: the arguments approved instead of the requested ones; the token binds `hash`. */
      approvedArgs?: { args: Record<string, unknown>; hash: string };
      /** Passkey-signed approvals: the token's `approvals` claim (credential ids and assertion digests). */
      approvals?: TokenApproval[];
    },
  ): Promise<ClearanceRequest | undefined> {
    const t = TRANSITIONS[name];
    const fields: DecisionFields = {
      ...request,
      status: t.to,
      decision_status: t.to,
      reason: text.reason,
      reason_code: t.reasonCode,
    };
    const applied = await applyDecision(tx, request.id, t.from as readonly ClearanceStatus[], fields, this.deps.clock.now());
    if (!applied) return undefined;
    const decided = text.approvedArgs && t.to === "approved" ? ((await setApprovedArgs(tx, applied.id, text.approvedArgs.args, text.approvedArgs.hash)) ?? applied) : applied;
    await this.deps.ledger.append(tx, await this.deps.ledger.prepare(withEvidence(decided, text.evidence ?? []), t.ledgerEvent, text.ledgerReason, tenantId));
    // An agent claim's approval is no action to perform: no token (request-kinds.ts).
    if (t.to === "approved" && issuesToken(this.deps.kinds, decided.kind)) {
      const token = await this.deps.issuer.issue(tx, decided, tenantId, { approvals: text.approvals });
      // Signed now, inside the transaction (a human approval is rare): a key that cannot sign rolls the
      // approval back (503 signer_unavailable) rather than store one whose token cannot be given out.
      await this.deps.issuer.render(token);
    }
    await this.deps.outbox.webhookEvent(tx, tenantId, t.webhook, decided, text.webhookExtra);
    await this.changed(tx, tenantId, decided.id);
    await reportDecided(this.deps.kinds, tx, tenantId, decided);
    tx.onCommit(() => decisionMetrics.finished(decided));
    return decided;
  }

  /** An approval that does not yet meet the rules: recorded in the ledger, the request stays pending. */
  async recordApproval(tx: Sql, tenantId: string, request: ClearanceRequest, ledgerReason: string, evidence: JsonObject[] = []): Promise<void> {
    await this.deps.ledger.append(tx, await this.deps.ledger.prepare(withEvidence(request, evidence), "review.vote", ledgerReason, tenantId));
    await this.changed(tx, tenantId, request.id);
  }

  /**
   * Burns an approval's token and records `token.consumed`, in one statement: the event exists iff
   * the burn happened. False when the jti was already burned (or never issued).
   */
  async consume(tx: Sql, tenantId: string, approved: ClearanceRequest, burn: { jti: string; consumedBy: string; at: Date }, ledger: PreparedLedgerEvent): Promise<boolean> {
    const burned = await burnTokenWithLedger(tx, burn.jti, burn.consumedBy, burn.at, ledger);
    if (burned) {
      await this.deps.outbox.webhookEvent(tx, tenantId, "token.consumed", approved, { jti: burn.jti, consumed_by: burn.consumedBy });
      tx.onCommit(() => decisionMetrics.consumed());
    }
    return burned;
  }

  /** The `token.consumed` event, prepared (hashed and signed) before the burn's transaction. */
  consumedEvent(tenantId: string, approved: ClearanceRequest, jti: string, consumedBy: string): Promise<PreparedLedgerEvent> {
    // An edited approval's burn names the edited arguments the token was for (edit-on-approve, docs/grants.md).
    return this.deps.ledger.prepare(withEvidence(approved, editEvidence(approved)), "token.consumed", `Token ${jti} consumed by API key ${consumedBy}`, tenantId);
  }

  /**
   * Records what a burned token's action did, with its `token.executed` event, in one statement: the
   * event exists iff the report was stored. False when the jti already has a report (or was never
   * burned). Callers commit it keyed by jti, so two reports of one token in a batch run in turn.
   */
  async execute(tx: Sql, tenantId: string, approved: ClearanceRequest, record: ExecutionRecord, ledger: PreparedLedgerEvent): Promise<boolean> {
    const stored = await recordExecutionWithLedger(tx, record, ledger);
    if (stored) {
      await this.deps.outbox.webhookEvent(tx, tenantId, "token.executed", approved, executionWebhookData(record));
    }
    return stored;
  }

  /**
   * The `token.executed` event, prepared before the report's transaction. It names the approval and
   * the burn it follows by their event uuids and hashes (`links`: the request's events so far), so
   * one bundle of the request proves approved, consumed once, executed.
   */
  executedEvent(tenantId: string, approved: ClearanceRequest, record: ExecutionRecord, links: readonly EventLink[]): Promise<PreparedLedgerEvent> {
    const chunk = executionEvidence(record, links);
    return this.deps.ledger.prepare({ ...approved, evidence_chunks: [chunk, ...editEvidence(approved)] }, "token.executed", executionReason(record), tenantId);
  }

  /**
   * Reminds (or escalates) up to `limit` pending reviews whose rules' time has come: each is marked
   * once on its row and notified in the same transaction. `progress` gives each one's approvals so far
   * (the votes are the reviews module's).
   */
  async remindDue(
    tx: Sql,
    tenantId: string,
    kind: "review.reminder" | "review.escalation",
    limit: number,
    progress: (due: ClearanceRequest[]) => Promise<Map<string, { required: number; received: number }>>,
  ): Promise<number> {
    const [column, rule] = kind === "review.reminder" ? (["reminded_at", "reminder_after_seconds"] as const) : (["escalated_at", "escalate_after_seconds"] as const);
    const due = await markDueReminders(tx, column, rule, this.deps.clock.now(), limit);
    const counts = await progress(due);
    for (const request of due) {
      const p = counts.get(request.id) ?? { required: rulesOf(request).approvals_required, received: 0 };
      await this.deps.outbox.notifyReview(tx, tenantId, kind, request, {
        approvals_required: p.required,
        received: p.received,
        expires_at: request.expires_at ? new Date(request.expires_at).toISOString() : null,
        console_url: this.deps.consoleUrl(request.id),
      });
    }
    return due.length;
  }

  /** What a new decision tells the outside world: webhooks, and for a review the feed and a review request. */
  private async announce(tx: Sql, tenantId: string, request: ClearanceRequest): Promise<void> {
    tx.onCommit(() => decisionMetrics.judged(request));
    const outbox = this.deps.outbox;
    await outbox.webhookEvent(tx, tenantId, "request.submitted", request);
    const type: WebhookEventType | undefined =
      request.status === "pending_review" ? "request.pending_review" : request.status === "approved" ? "request.approved" : request.status === "denied" ? "request.denied" : undefined;
    if (type) await outbox.webhookEvent(tx, tenantId, type, request);
    if (request.status === "pending_review") {
      await this.changed(tx, tenantId, request.id);
      await outbox.notifyReview(tx, tenantId, "review.requested", request, {
        approvals_required: rulesOf(request).approvals_required,
        received: 0,
        expires_at: request.expires_at ? new Date(request.expires_at).toISOString() : null,
        console_url: this.deps.consoleUrl(request.id),
      });
    } else {
      tx.onCommit(() => this.deps.waiters.notify(request.id));
    }
  }

  /** A change reviewers watch: a feed row for other vault processes, and after commit, this process's watchers. */
  private async changed(tx: Sql, tenantId: string, requestId: string): Promise<void> {
    await ReviewBus.record(tx, requestId);
    tx.onCommit(() => {
      this.deps.waiters.notify(requestId);
      this.deps.bus.changed(tenantId, requestId);
    });
  }
}

/** The request as its ledger event sees it: with chunks beyond the judge's evidence (never stored on the row). */
function withEvidence<T extends ClearanceRequest>(request: T, evidence: readonly JsonObject[]): T {
  return evidence.length === 0 ? request : { ...request, evidence_chunks: [...request.evidence_chunks, ...(evidence as unknown as T["evidence_chunks"])] };
}
