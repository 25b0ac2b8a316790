import { z } from "zod";
import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { TtlCache } from "../ttl-cache.js";
import { confidenceBuckets, type ConfidenceBucket, type Verdict } from "../judge/judge.js";

export const DEFAULT_MINIMUM_BUCKET: ConfidenceBucket = "high";

export const reviewSettingsSchema = z.strictObject({ minimum_confidence_bucket: z.enum(confidenceBuckets) });
export type ReviewSettings = z.infer<typeof reviewSettingsSchema>;

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
  const row = (await sql.query<ReviewSettings>("SELECT minimum_confidence_bucket FROM review_settings"))[0];
  return { minimum_confidence_bucket: row?.minimum_confidence_bucket ?? DEFAULT_MINIMUM_BUCKET };
}

export async function writeReviewSettings(sql: Sql, settings: ReviewSettings): Promise<ReviewSettings> {
  await sql.query(
    `INSERT INTO review_settings (singleton, minimum_confidence_bucket) VALUES (true, $1)
     ON CONFLICT (singleton) DO UPDATE SET minimum_confidence_bucket = EXCLUDED.minimum_confidence_bucket, updated_at = now()`,
    [settings.minimum_confidence_bucket],
  );
  return settings;
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
