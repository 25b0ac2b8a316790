import type { Verdict } from "../judge.js";

/**
 * The replay report (docs/shadow-mode.md#replay): pure bookkeeping over recorded requests and the
 * decisions a candidate policy gives them. Decisions are compared as the agent saw them: approved,
 * denied, or sent to review (whatever a human later decided on a reviewed request: replay compares
 * policy decisions, not reviewers).
 */
export type ReplayDecision = "approved" | "denied" | "review";

export function decisionOf(d: Verdict["decision"]): ReplayDecision {
  return d === "approve" ? "approved" : d === "deny" ? "denied" : "review";
}

/** What a recorded request needs for its old decision to be read. */
export interface RecordedOutcome {
  status: "processing" | "pending_review" | "approved" | "denied";
  reason_code: string | null;
  /** review_rules is set: the request was sent to review (every review verdict takes rules). */
  reviewed: boolean;
  /** The judge's fail-closed code (judge_trace.failed_closed), null when it decided. */
  failed_closed?: string | null;
}

/**
 * Fail-closed reviews that are still what the policies said: no policy covered the tool, or the named
 * one was missing. Every other fail-closed review (conditions timed out, retrieval or the LLM or the
 * judge service unavailable, the token key could not sign, processing failed) says the judge could not
 * decide, so there is no policy decision to compare the candidate's with.
 */
const POLICY_FAIL_CLOSED = new Set(["no_applicable_policy", "policy_not_applicable", "policy_not_found"]);

/** The judge could not decide the recorded request (its review was a fail-closed one, not a policy's). */
export function judgeCouldNotDecide(r: Pick<RecordedOutcome, "failed_closed">): boolean {
  return typeof r.failed_closed === "string" && r.failed_closed !== "" && !POLICY_FAIL_CLOSED.has(r.failed_closed);
}

/** Ends that happened before (or without) the judge deciding: such a request has no automatic decision. */
const ENDED_BEFORE_JUDGING = new Set(["cancelled_by_agent", "review_denied"]);

/**
 * The decision the agent was first given, or null when there was none to compare with (still being
 * judged, or cancelled or denied by a reviewer before the judge answered). A request the judge sent
 * to review counts as review whatever the reviewer decided; one a scoped grant approved (H5) was a
 * review the grant widened, so it counts as review too.
 */
export function recordedDecision(r: RecordedOutcome): ReplayDecision | null {
  if (r.status === "processing") return null;
  if (r.reviewed || r.reason_code === "grant_approved") return "review";
  if (r.status === "pending_review") return "review";
  if (r.status === "approved") return "approved";
  return ENDED_BEFORE_JUDGING.has(r.reason_code ?? "") ? null : "denied";
}

export interface ChangedRequest {
  request_id: string;
  created_at: string;
  tool: string;
  old: ReplayDecision;
  new: ReplayDecision;
  reason_code: string | null;
  matched_condition_ids: string[];
  relied_on_llm: boolean;
}

export type SkipReason = "undecided" | "failed_closed" | "unreadable" | "error";

export interface ReplayCounts {
  evaluated: number;
  skipped: number;
  skipped_by_reason: Record<SkipReason, number>;
  /** "old→new" → count, every pair seen (unchanged ones included, so the counts add up to evaluated). */
  transitions: Record<string, number>;
  changed_total: number;
  changed: ChangedRequest[];
  relied_on_llm_count: number;
  /** Requests the live judge would have asked its LLM about, replayed without it (their new decision is the policies' default). */
  llm_not_replayed: number;
}

/** Collects one replay's outcomes; keeps at most `cap` changed requests (newest first, as replayed). */
export class ReplayTally {
  private readonly counts: ReplayCounts = {
    evaluated: 0,
    skipped: 0,
    skipped_by_reason: { undecided: 0, failed_closed: 0, unreadable: 0, error: 0 },
    transitions: {},
    changed_total: 0,
    changed: [],
    relied_on_llm_count: 0,
    llm_not_replayed: 0,
  };

  constructor(private readonly cap: number) {}

  skip(reason: SkipReason): void {
    this.counts.skipped++;
    this.counts.skipped_by_reason[reason]++;
  }

  add(request: { id: string; created_at: Date; tool: string }, old: ReplayDecision, verdict: Verdict, flags: { reliedOnLlm: boolean; llmSkipped: boolean }): void {
    const c = this.counts;
    const now = decisionOf(verdict.decision);
    c.evaluated++;
    const key = transitionKey(old, now);
    c.transitions[key] = (c.transitions[key] ?? 0) + 1;
    if (flags.reliedOnLlm) c.relied_on_llm_count++;
    if (flags.llmSkipped) c.llm_not_replayed++;
    if (old === now) return;
    c.changed_total++;
    if (c.changed.length >= this.cap) return;
    c.changed.push({
      request_id: request.id,
      created_at: new Date(request.created_at).toISOString(),
      tool: request.tool,
      old,
      new: now,
      reason_code: verdict.reason_code,
      matched_condition_ids: [...verdict.matched_condition_ids],
      relied_on_llm: flags.reliedOnLlm,
    });
  }

  result(): ReplayCounts {
    // Stable key order, so two reports of the same history print the same.
    const transitions = Object.fromEntries(Object.entries(this.counts.transitions).sort(([a], [b]) => a.localeCompare(b)));
    return { ...this.counts, transitions };
  }
}

export const transitionKey = (old: ReplayDecision, now: ReplayDecision) => `${old}→${now}`;

const UNITS: Record<string, number> = { m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * `since`: a duration back from now ("30d", "12h", "90m") or an ISO 8601 time; undefined when it is
 * neither. Never before 1970: no request is older, and "999999d" (a year BC) is a time the embedded
 * database could not even be sent (it was a 500).
 */
export function windowStart(since: string, now: Date): Date | undefined {
  const rel = /^(\d{1,6})([mhd])$/.exec(since);
  if (rel) return new Date(Math.max(0, now.getTime() - Number(rel[1]) * UNITS[rel[2]!]!));
  if (!/^\d{4}-\d{2}-\d{2}(T[\d:.]+(Z|[+-]\d{2}:\d{2})?)?$/.test(since)) return undefined;
  const at = new Date(since);
  return Number.isNaN(at.getTime()) ? undefined : new Date(Math.max(0, at.getTime()));
}
