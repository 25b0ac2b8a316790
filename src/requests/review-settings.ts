import { z } from "zod";
import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { TtlCache } from "../ttl-cache.js";
import { confidenceBuckets, type ConfidenceBucket, type Verdict } from "../judge/judge.js";
import { DEFAULT_REVIEW_RULES, reviewRulesSchema, tightenedRules, type ReviewRules } from "./review-rules.js";
import type { DecisionFields } from "./clearance-request.js";

export const DEFAULT_MINIMUM_BUCKET: ConfidenceBucket = "high";

/** PUT /review-settings: the tenant's threshold and its default review rules (omitted rules take their defaults). */
export const reviewSettingsSchema = reviewRulesSchema.extend({ minimum_confidence_bucket: z.enum(confidenceBuckets) });

export interface ReviewSettings {
  minimum_confidence_bucket: ConfidenceBucket;
  /** The tenant's review rules. */
  rules: ReviewRules;
  /** Per-policy overrides of the rules. */
  policies: Record<string, ReviewRules>;
}

/** The rules a request decided under `policyId` is reviewed by. */
export function rulesFor(settings: ReviewSettings, policyId: string | null): ReviewRules {
  return (policyId && settings.policies[policyId]) || settings.rules;
}

/**
 * The rules a request is reviewed by: its policy's (or the tenant's), tightened by the approver the
 * request names itself (`extras.approver`, see tightenedRules). An approver the rules refuse (the
 * settings changed after the StepAuth submit checked it) is ignored: the tenant's rules still hold.
 */
export function rulesForRequest(settings: ReviewSettings, policyId: string | null, extras: Record<string, unknown>): ReviewRules {
  const rules = withUnknownPolicyPasskey(settings, policyId, rulesFor(settings, policyId));
  const tightened = tightenedRules(rules, extras.approver);
  return typeof tightened === "string" ? rules : tightened;
}

/**
 * A review no policy decided (the judge failed or timed out, the conditions could not run, no policy
 * applies) cannot tell which policy's rules would have held, so it takes the strictest passkey rule:
 * a passkey is required when the tenant or ANY policy requires one. Otherwise an agent that makes the
 * judge fail (or waits for it to be slow) would turn a policy's signed approval into an unsigned one.
 */
function withUnknownPolicyPasskey(settings: ReviewSettings, policyId: string | null, rules: ReviewRules): ReviewRules {
  if (policyId || rules.require_passkey) return rules;
  return Object.values(settings.policies).some((r) => r.require_passkey) ? { ...rules, require_passkey: true } : rules;
}

/**
 * A review's expiry, capped at the request's own deadline (`extras.review_deadline`, ISO 8601: a
 * StepAuth request's expiresAt), so a review never outlives the action it would allow.
 */
export function withReviewDeadline(fields: DecisionFields, extras: Record<string, unknown>): DecisionFields {
  const deadline = typeof extras.review_deadline === "string" ? new Date(extras.review_deadline) : null;
  if (!fields.expires_at || !deadline || Number.isNaN(deadline.getTime()) || deadline >= fields.expires_at) return fields;
  return { ...fields, expires_at: deadline };
}

// none < low < medium < high < extra_high
const rank: Record<ConfidenceBucket, number> = { none: 0, low: 1, medium: 2, high: 3, extra_high: 4 };

export function meetsThreshold(bucket: ConfidenceBucket, minimum: ConfidenceBucket): boolean {
  return rank[bucket] >= rank[minimum];
}

/**
 * An approval less confident than the tenant's threshold goes to a human instead
 * (approved_pending_review). Applied by the vault, whatever judge answered, so a remote judge
 * cannot skip it.
 */
export function applyConfidenceThreshold(verdict: Verdict, minimum: ConfidenceBucket): Verdict {
  if (verdict.decision !== "approve" || meetsThreshold(verdict.confidence_bucket, minimum)) return verdict;
  return {
    ...verdict,
    decision: "review",
    reason_code: "below_confidence_threshold",
    reason: `Approval confidence ${verdict.confidence_bucket} is below this tenant's minimum ${minimum}; sent to human review. ${verdict.reason}`.trim(),
  };
}

export async function readReviewSettings(sql: Sql): Promise<ReviewSettings> {
  const row = (await sql.query<{ minimum_confidence_bucket: ConfidenceBucket; rules: unknown }>("SELECT minimum_confidence_bucket, rules FROM review_settings"))[0];
  const overrides = await sql.query<{ policy_id: string; rules: unknown }>("SELECT policy_id, rules FROM policy_review_settings");
  return {
    minimum_confidence_bucket: row?.minimum_confidence_bucket ?? DEFAULT_MINIMUM_BUCKET,
    // Stored rules went through the schema on the way in; parsing again fills defaults added since.
    rules: row?.rules ? reviewRulesSchema.parse(row.rules) : DEFAULT_REVIEW_RULES,
    policies: Object.fromEntries(overrides.map((o) => [o.policy_id, reviewRulesSchema.parse(o.rules)])),
  };
}

/** The GET /review-settings answer: the tenant's settings, flat, with the per-policy overrides. */
export function settingsView(s: ReviewSettings) {
  return { minimum_confidence_bucket: s.minimum_confidence_bucket, ...s.rules, policies: s.policies };
}

export async function writeReviewSettings(sql: Sql, body: z.infer<typeof reviewSettingsSchema>): Promise<ReviewSettings> {
  const { minimum_confidence_bucket, ...rules } = body;
  await sql.query(
    `INSERT INTO review_settings (singleton, minimum_confidence_bucket, rules) VALUES (true, $1, $2)
     ON CONFLICT (singleton) DO UPDATE SET minimum_confidence_bucket = EXCLUDED.minimum_confidence_bucket, rules = EXCLUDED.rules, updated_at = now()`,
    [minimum_confidence_bucket, JSON.stringify(rules)],
  );
  return readReviewSettings(sql);
}

export async function writePolicyReviewRules(sql: Sql, policyId: string, rules: ReviewRules | null): Promise<ReviewSettings> {
  if (rules === null) await sql.query("DELETE FROM policy_review_settings WHERE policy_id = $1", [policyId]);
  else {
    await sql.query(
      `INSERT INTO policy_review_settings (policy_id, rules) VALUES ($1, $2)
       ON CONFLICT (policy_id) DO UPDATE SET rules = EXCLUDED.rules, updated_at = now()`,
      [policyId, JSON.stringify(rules)],
    );
  }
  return readReviewSettings(sql);
}

/** Per-tenant settings, read at most once per TTL on the clearance hot path. */
export class ReviewSettingsCache {
  private readonly cache: TtlCache<ReviewSettings>;

  constructor(clock: Clock, ttlMs: number) {
    this.cache = new TtlCache(clock, ttlMs);
  }

  get(tenantId: string, sql: Sql): Promise<ReviewSettings> {
    return this.cache.get(tenantId, () => readReviewSettings(sql));
  }

  invalidate(tenantId: string): void {
    this.cache.invalidate(tenantId);
  }
}
