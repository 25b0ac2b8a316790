import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { percentile } from "./stats.js";
import { withDatabase } from "./vault.js";

/**
 * Per event: from accepted_at (when the decision's event was written) to signed_at of the first
 * checkpoint whose tree holds it. Both stamps come from the vault's clock, so no clock skew enters.
 * Only events accepted from `since` (after the warm-up) count. Waits up to 5 s after the load for the
 * tail to be sequenced; what is still unsequenced is reported.
 */
export async function checkpointLags(serverUrl: string, controlDb: string, intervalSeconds: string, since: Date) {
  const control = new pg.Client({ connectionString: withDatabase(serverUrl, controlDb) });
  await control.connect();
  const dbName = (await control.query<{ db_name: string }>("SELECT db_name FROM tenants WHERE name = 'default'")).rows[0]?.db_name;
  await control.end();
  if (!dbName) throw new Error("the bench vault has no default tenant");
  const client = new pg.Client({ connectionString: withDatabase(serverUrl, dbName) });
  await client.connect();
  try {
    let unsequenced = 0;
    for (let waited = 0; waited < 5_000; waited += 250) {
      unsequenced = Number((await client.query("SELECT count(*) AS n FROM ledger_events e WHERE NOT EXISTS (SELECT 1 FROM ledger_checkpoints c WHERE c.tree_size > e.leaf_index)")).rows[0].n);
      if (unsequenced === 0) break;
      await sleep(Math.min(250, Number(intervalSeconds) * 1000));
    }
    const { rows } = await client.query<{ lag_ms: number }>(
      `SELECT extract(epoch FROM (c.signed_at::timestamptz - e.accepted_at::timestamptz)) * 1000 AS lag_ms
         FROM ledger_events e
         CROSS JOIN LATERAL (SELECT signed_at FROM ledger_checkpoints c WHERE c.tree_size > e.leaf_index ORDER BY c.tree_size LIMIT 1) c
        WHERE e.accepted_at::timestamptz >= $1::timestamptz`,
      [since.toISOString()],
    );
    const sorted = Float64Array.from(rows.map((r) => Number(r.lag_ms))).sort();
    return { n: sorted.length, unsequenced, p50Ms: percentile(sorted, 50), p99Ms: percentile(sorted, 99), maxMs: sorted[sorted.length - 1] ?? NaN };
  } finally {
    await client.end();
  }
}
