import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import type { JudgeInput } from "../judge/judge.js";
import { embedCandidate, replayRequest, type ReplayedVerdict, type ReplayParts, type ReplaySetup } from "../judge/replay/replay-evaluator.js";
import { judgeCouldNotDecide, recordedDecision, ReplayTally, windowStart, type ReplayCounts, type ReplayDecision, type SkipReason } from "../judge/replay/replay-report.js";
import type { LedgerWriter } from "../ledger/store/ledger-writer.js";
import { candidatePolicy, readCurrentVersion, type PolicyCache } from "../policies/policy-store.js";
import { newId } from "../tenancy/ids.js";
import { applyConfidenceThreshold, type ReviewSettingsCache } from "./review-settings.js";
import { candidateDocument, type ReplayBody } from "./replay-schema.js";
import { countRecorded, recordedPage, type RecordedCursor, type RecordedRequest } from "./store/recorded-requests.js";

/**
 * Replay (docs/shadow-mode.md#replay): a candidate version of a policy judged over the tenant's
 * recorded clearance requests, compared with what each was first decided. It writes nothing but the
 * `policy.replayed` audit event. Bounded so it cannot hurt live traffic:
 *  - a limit on requests (≤ 100,000) and a time budget; the report says when either stopped it;
 *  - one replay per tenant at a time in this process (409 replay_in_progress), and a few in all (429 replay_capacity);
 *  - conditions go through the live judge's CEL pool under their own fair-queue key, a bounded
 *    number in flight, so live requests of every tenant (this one's too) take turns with it;
 *  - it yields to the event loop between batches.
 */
export interface ReplaySettings {
  timeBudgetMs: number;
  /** Replays at once in this process, all tenants. */
  maxConcurrent: number;
  batchSize: number;
  /** Requests of one replay evaluated at once (each one task in the pool). */
  inFlight: number;
  /** Changed requests listed in the report (all are counted). */
  changedCap: number;
  /**
   * Requests whose conditions ran over their CEL budget (or killed their worker) before replay stops:
   * each such task costs a condition worker (terminated and restarted), which live requests share.
   */
  maxOverBudget: number;
}

// 25 s: the answer comes within the CLI's 30 s and the common 30 s proxy timeouts; the report says when it stopped early.
export const DEFAULT_REPLAY_SETTINGS: ReplaySettings = { timeBudgetMs: 25_000, maxConcurrent: 2, batchSize: 500, inFlight: 16, changedCap: 500, maxOverBudget: 20 };

export interface ReplayReport extends ReplayCounts {
  replay_id: string;
  policy_id: string;
  candidate_content_hash: string;
  /** The policy's current version replaced; null when the candidate is a new policy. */
  replaced_version: { policy_version_id: string; version: number; content_hash: string } | null;
  window: { since: string; until: string };
  /** Recorded clearance requests in the window; evaluated + skipped of them were read (up to limit). */
  requests: number;
  limit: number;
  /**
   * Why it stopped before the window's end: the limit, the time budget, the candidate's conditions
   * running over their CEL budget on maxOverBudget requests (condition_timeouts), or null (all read).
   */
  stopped: "limit" | "time_budget" | "condition_timeouts" | null;
  with_llm: boolean;
  duration_ms: number;
  ledger_event_uuid: string;
}

export class ReplayService {
  private readonly running = new Set<string>();

  constructor(
    private readonly deps: {
      parts: ReplayParts;
      policies: PolicyCache;
      reviewSettings: ReviewSettingsCache;
      ledger: Pick<LedgerWriter, "prepareAudit" | "append">;
      clock: Clock;
      settings: ReplaySettings;
      /** The condition pool is replay's own (no in-process judge): close() stops it. */
      ownsConditions?: boolean;
    },
  ) {}

  async close(): Promise<void> {
    if (this.deps.ownsConditions) await this.deps.parts.conditions.close();
  }

  async run(sql: Sql, tenantId: string, actor: string, policyId: string, body: ReplayBody): Promise<ReplayReport> {
    const { parts, settings } = this.deps;
    if (body.with_llm && (!parts.llm || !parts.retriever)) {
      throw new AppError("replay_llm_unavailable", "with_llm needs the LLM judge in this vault process (EVAL_MODEL set, no VAULT_JUDGE_URL)");
    }
    if (this.running.has(tenantId)) throw new AppError("replay_in_progress", "A replay of this tenant is already running; wait for its report");
    if (this.running.size >= settings.maxConcurrent) {
      throw new AppError("replay_capacity", `${settings.maxConcurrent} replays are running on this vault; retry shortly`, { retryAfterSeconds: 5 });
    }
    this.running.add(tenantId);
    try {
      // Parsed holding the slot: a text candidate costs up to about a second of the event loop
      // (candidate-text.ts bounds it), so at most maxConcurrent of them are parsed at once.
      const doc = candidateDocument(body.candidate);
      if (doc.policy_id !== policyId) {
        throw new AppError("validation_failed", `candidate.policy_id is ${doc.policy_id}, not the policy replayed (${policyId})`, {
          errors: [{ path: "candidate.policy_id", message: `must be ${policyId}` }],
        });
      }
      return await this.replay(sql, tenantId, actor, doc, body);
    } finally {
      this.running.delete(tenantId);
    }
  }

  private async replay(sql: Sql, tenantId: string, actor: string, doc: ReturnType<typeof candidateDocument>, body: ReplayBody): Promise<ReplayReport> {
    const { parts, settings, clock } = this.deps;
    const startedMs = clock.nowMs();
    const until = clock.now();
    const since = windowStart(body.since, until)!;
    const current = await readCurrentVersion(sql, doc.policy_id);
    const candidate = candidatePolicy(doc, current);
    const view = await this.deps.policies.snapshot(tenantId, sql);
    const policies = [...view.policies.filter((p) => p.policyId !== doc.policy_id), candidate].sort((a, b) => (a.policyId < b.policyId ? -1 : 1));
    const { minimum_confidence_bucket: minimum } = await this.deps.reviewSettings.get(tenantId, sql);
    const base = { tenantId, sql, candidate };
    const setup: ReplaySetup = {
      ...base,
      policies,
      modes: view.modes,
      shadowDefault: view.tenant.shadow_default,
      withLlm: body.with_llm,
      candidateVectors: body.with_llm && parts.retriever ? await embedCandidate(parts.retriever, parts, base, current?.id ?? null) : null,
      poolKey: `${tenantId}#replay`,
    };
    const total = await countRecorded(sql, since, until);
    const tally = new ReplayTally(settings.changedCap);
    const deadline = startedMs + settings.timeBudgetMs;
    let cursor: RecordedCursor | null = null;
    let read = 0;
    let stopped: ReplayReport["stopped"] = null;
    const overBudget = { count: 0 };
    while (read < body.limit) {
      if (clock.nowMs() >= deadline) {
        stopped = "time_budget";
        break;
      }
      const page = await recordedPage(sql, { since, until }, cursor, Math.min(settings.batchSize, body.limit - read));
      if (page.length === 0) break;
      const done = await this.evaluatePage(page, setup, minimum, tally, deadline, overBudget);
      read += done;
      if (done < page.length) {
        stopped = overBudget.count >= settings.maxOverBudget ? "condition_timeouts" : "time_budget";
        break;
      }
      const last = page[page.length - 1]!;
      cursor = { created_at: last.created_at, id: last.id };
      // Between batches other work runs: live requests of every tenant are never held behind a replay.
      await new Promise((resolve) => setImmediate(resolve));
    }
    if (stopped === null && read >= body.limit && read < total) stopped = "limit";
    const counts = tally.result();
    const replayId = newId("rpl");
    const window = { since: since.toISOString(), until: until.toISOString() };
    const prepared = await this.deps.ledger.prepareAudit(
      {
        action: "policy.replayed",
        subject_id: replayId,
        actor,
        policy_id: doc.policy_id,
        details: {
          candidate: candidate.contentHash,
          replaced: current?.content_hash ?? null,
          since: window.since,
          until: window.until,
          requests: total,
          evaluated: counts.evaluated,
          skipped: counts.skipped,
          changed: counts.changed_total,
          // A list, not the report's "old→new" map: detail keys are one lowercase word (audit-event.ts).
          transitions: Object.entries(counts.transitions).map(([pair, count]) => {
            const [from, to] = pair.split("→");
            return { from: from!, to: to!, count };
          }),
          llm: body.with_llm,
          relied: counts.relied_on_llm_count,
        },
        reason: `${actor} replayed a candidate of policy ${doc.policy_id} (${candidate.contentHash}) over ${counts.evaluated} recorded requests: ${counts.changed_total} would change`,
      },
      tenantId,
    );
    await this.deps.ledger.append(sql, prepared);
    return {
      replay_id: replayId,
      policy_id: doc.policy_id,
      candidate_content_hash: candidate.contentHash,
      replaced_version: current ? { policy_version_id: current.id, version: current.version, content_hash: current.content_hash } : null,
      window,
      requests: total,
      limit: body.limit,
      stopped,
      with_llm: body.with_llm,
      ...counts,
      duration_ms: Math.round(clock.nowMs() - startedMs),
      ledger_event_uuid: prepared.event.event_uuid,
    };
  }

  /**
   * A page, `inFlight` requests at a time; one request's failure is counted, never thrown. Outcomes
   * are tallied in the page's order (newest first), whatever order they finish in. No request is
   * started past the deadline (an LLM call may take seconds): returns how many of the page were done.
   */
  private async evaluatePage(
    page: RecordedRequest[],
    setup: ReplaySetup,
    minimum: Parameters<typeof applyConfidenceThreshold>[1],
    tally: ReplayTally,
    deadline: number,
    overBudget: { count: number },
  ): Promise<number> {
    type Outcome = { skip: SkipReason } | { old: ReplayDecision; replayed: ReplayedVerdict };
    const outcomes: Outcome[] = new Array(page.length);
    let next = 0;
    const worker = async () => {
      // A candidate whose conditions keep running over budget stops the replay: it would keep killing workers.
      while (next < page.length && this.deps.clock.nowMs() < deadline && overBudget.count < this.deps.settings.maxOverBudget) {
        const i = next++;
        const row = page[i]!;
        const old = recordedDecision(row);
        const input = inputOf(setup.tenantId, row);
        if (old === null || judgeCouldNotDecide(row) || !input) {
          outcomes[i] = { skip: old === null ? "undecided" : judgeCouldNotDecide(row) ? "failed_closed" : "unreadable" };
          continue;
        }
        try {
          const replayed = await replayRequest(this.deps.parts, setup, input);
          if (replayed.verdict.reason_code === "condition_timeout" || replayed.verdict.reason_code === "condition_unavailable") overBudget.count++;
          outcomes[i] = { old, replayed };
        } catch (err) {
          this.deps.parts.log.warn({ err, requestId: row.id, tenantId: setup.tenantId }, "replay: a request could not be evaluated");
          outcomes[i] = { skip: "error" };
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.deps.settings.inFlight, page.length) }, worker));
    // Every row below `next` was taken by a worker, and each worker finished its own.
    page.slice(0, next).forEach((row, i) => {
      const o = outcomes[i]!;
      if ("skip" in o) tally.skip(o.skip);
      else tally.add({ id: row.id, created_at: row.created_at, tool: row.tool_name }, o.old, applyConfidenceThreshold(o.replayed.verdict, minimum), o.replayed);
    });
    return next;
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);

/** The judge's input as the request was first judged; undefined when a stored value is not what was accepted. */
function inputOf(tenantId: string, r: RecordedRequest): JudgeInput | undefined {
  if (!isObject(r.tool_args) || !isObject(r.context)) return undefined;
  return {
    tenantId,
    requestId: r.id,
    tool: r.tool_name,
    args: r.tool_args,
    context: r.context,
    agentId: r.agent_id,
    sessionId: r.session_id,
    humanPrincipal: r.human_principal,
    agent: r.agent_identity ?? null,
  };
}
