import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";

/**
 * Nonces seen within their TTL, in the tenant's database (signature_nonces), so every vault process
 * of the tenant sees every nonce. A signature is at most 300 s old when it is checked and the TTL is
 * 600 s, so a replay is refused for as long as its signature could still verify. An expired row is
 * taken over by the next use of its nonce, and old rows are purged now and then.
 */
export const NONCE_TTL_SECONDS = 600;
const PURGE_INTERVAL_MS = 60_000;

export class NonceStore {
  /** Per tenant database: when this process last purged it. */
  private readonly purgedAt = new WeakMap<Sql, number>();

  constructor(private readonly clock: Clock) {}

  /**
   * Records the nonce; throws `replayCode` (409) when it was used within the TTL, and 503
   * NONCE_STORE_UNAVAILABLE when the store cannot answer (fail closed: never accept unchecked).
   */
  async use(sql: Sql, scope: string, nonce: string, replayCode: "SIGNATURE_NONCE_REPLAY" | "NONCE_REPLAY" = "SIGNATURE_NONCE_REPLAY"): Promise<void> {
    const now = this.clock.now();
    let fresh: boolean;
    try {
      const rows = await sql.query(
        `INSERT INTO signature_nonces (namespace, nonce, expires_at) VALUES ($1, $2, $3)
         ON CONFLICT (namespace, nonce) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE signature_nonces.expires_at <= $4
         RETURNING nonce`,
        [scope, nonce, new Date(now.getTime() + NONCE_TTL_SECONDS * 1000), now],
      );
      fresh = rows.length === 1;
    } catch {
      throw new AppError("NONCE_STORE_UNAVAILABLE", "The nonce store could not be reached; retry shortly", { retryAfterSeconds: 1 });
    }
    if (!fresh) throw new AppError(replayCode, "Replay detected: this nonce was already used");
    // Housekeeping: a failed purge costs nothing now, the next one takes the rows.
    await this.purge(sql, now).catch(() => {});
  }

  /** At most once a minute per tenant and process: the rows whose TTL has passed. */
  private async purge(sql: Sql, now: Date): Promise<void> {
    const last = this.purgedAt.get(sql) ?? 0;
    if (now.getTime() - last < PURGE_INTERVAL_MS) return;
    this.purgedAt.set(sql, now.getTime());
    await sql.query("DELETE FROM signature_nonces WHERE expires_at <= $1", [now]);
  }
}
