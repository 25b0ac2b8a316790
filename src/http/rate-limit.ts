import type { Clock } from "../clock.js";
import { AppError } from "../errors.js";

/**
 * Token bucket per API key: `rps` tokens a second, up to `burst`. Idle buckets are forgotten after
 * the TTL, so memory stays bounded by the keys active in that window.
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private lastSweep = 0;

  constructor(
    private readonly settings: { rps: number; burst: number; ttlSeconds: number },
    private readonly clock: Clock,
  ) {}

  check(key: string): void {
    const { rps, burst, ttlSeconds } = this.settings;
    if (rps === 0) return;
    const now = this.clock.nowMs();
    this.sweep(now, ttlSeconds * 1000);
    const b = this.buckets.get(key) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * rps);
    b.at = now;
    this.buckets.set(key, b);
    if (b.tokens < 1) {
      throw new AppError("rate_limited", `More than ${rps} requests per second for this API key`, {
        retryAfterSeconds: Math.max(1, Math.ceil((1 - b.tokens) / rps)),
      });
    }
    b.tokens -= 1;
  }

  private sweep(now: number, ttlMs: number): void {
    if (now - this.lastSweep < ttlMs) return;
    this.lastSweep = now;
    for (const [k, b] of this.buckets) if (now - b.at > ttlMs) this.buckets.delete(k);
  }
}
