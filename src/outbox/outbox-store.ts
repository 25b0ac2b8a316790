import type { Sql } from "../db/sql.js";
import type { OutboxKind, OutboxStatus } from "./events.js";

export interface NewOutboxEntry {
  kind: OutboxKind;
  deliveryId: string;
  eventType: string;
  requestId: string | null;
  endpointId: string | null;
  target: string | null;
  payload: string;
  createdAt: Date;
}

/** A claimed row, with its endpoint's URL and sealed secret for webhooks (null once deleted). */
export interface ClaimedEntry {
  id: number;
  kind: OutboxKind;
  delivery_id: string;
  event_type: string;
  request_id: string | null;
  endpoint_id: string | null;
  target: string | null;
  payload: string;
  attempts: number;
  endpoint_url: string | null;
  endpoint_secret: string | null;
  endpoint_enabled: boolean | null;
  /** The endpoint's body and signature format (null once deleted). */
  endpoint_format: "countersign" | "sigilum" | null;
}

/** What listings show: never the payload (it may be large) nor a target credential. */
export interface OutboxEntryView {
  delivery_id: string;
  kind: OutboxKind;
  event_type: string;
  request_id: string | null;
  endpoint_id: string | null;
  status: OutboxStatus;
  attempts: number;
  next_attempt_at: Date;
  last_error: string | null;
  last_status: number | null;
  created_at: Date;
  delivered_at: Date | null;
}

export async function insertEntry(sql: Sql, e: NewOutboxEntry): Promise<void> {
  await sql.query(
    `INSERT INTO outbox (kind, delivery_id, event_type, request_id, endpoint_id, target, payload, next_attempt_at, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8)`,
    [e.kind, e.deliveryId, e.eventType, e.requestId, e.endpointId, e.target, e.payload, e.createdAt],
  );
}

/**
 * Claims up to `limit` due rows in one statement (its own short transaction): SKIP LOCKED lets other
 * processes claim other rows at the same moment, and the lease (next_attempt_at moved to
 * `leaseUntil`) keeps them off these rows while they are delivered. The attempt is counted now, so a
 * row whose delivery crashes the process still dies after the maximum instead of looping forever.
 */
export async function claimDue(sql: Sql, now: Date, leaseUntil: Date, limit: number): Promise<ClaimedEntry[]> {
  return sql.query<ClaimedEntry>(
    `WITH due AS (
       SELECT id FROM outbox WHERE status = 'pending' AND next_attempt_at <= $1
       ORDER BY next_attempt_at, id LIMIT $3 FOR UPDATE SKIP LOCKED
     ), claimed AS (
       UPDATE outbox o SET attempts = o.attempts + 1, next_attempt_at = $2 FROM due WHERE o.id = due.id
       RETURNING o.id, o.kind, o.delivery_id, o.event_type, o.request_id, o.endpoint_id, o.target, o.payload, o.attempts
     )
     SELECT c.*, e.url AS endpoint_url, e.secret AS endpoint_secret, e.enabled AS endpoint_enabled, e.format AS endpoint_format
     FROM claimed c LEFT JOIN webhook_endpoints e ON e.id = c.endpoint_id
     ORDER BY c.id`,
    [now, leaseUntil, limit],
  ).then((rows) => rows.map((r) => ({ ...r, id: Number(r.id) })));
}

/**
 * The outcome of one attempt. Guarded by the attempt count: if this process was so slow that the
 * lease ran out and another process claimed the row again, the newer attempt's outcome wins.
 */
export async function recordOutcome(
  sql: Sql,
  entry: Pick<ClaimedEntry, "id" | "attempts">,
  outcome: { status: OutboxStatus; at: Date; nextAttemptAt?: Date; httpStatus: number | null; error: string | null },
): Promise<boolean> {
  const rows = await sql.query(
    `UPDATE outbox SET status = $3, last_status = $4, last_error = $5,
            delivered_at = CASE WHEN $3 = 'delivered' THEN $6::timestamptz ELSE delivered_at END,
            next_attempt_at = COALESCE($7::timestamptz, next_attempt_at)
     WHERE id = $1 AND attempts = $2 AND status = 'pending' RETURNING id`,
    [entry.id, entry.attempts, outcome.status, outcome.httpStatus, outcome.error, outcome.at, outcome.nextAttemptAt ?? null],
  );
  return rows.length > 0;
}

const viewColumns = `delivery_id, kind, event_type, request_id, endpoint_id, status, attempts, next_attempt_at, last_error, last_status, created_at, delivered_at`;

export async function listEntries(
  sql: Sql,
  filter: { status?: OutboxStatus; kind?: OutboxKind; endpointId?: string; limit: number },
): Promise<OutboxEntryView[]> {
  return sql.query<OutboxEntryView>(
    `SELECT ${viewColumns} FROM outbox
     WHERE ($1::text IS NULL OR status = $1) AND ($2::text IS NULL OR kind = $2) AND ($3::text IS NULL OR endpoint_id = $3)
     ORDER BY id DESC LIMIT $4`,
    [filter.status ?? null, filter.kind ?? null, filter.endpointId ?? null, filter.limit],
  );
}

/** A dead entry back to pending with a fresh attempt budget (an operator fixed the receiver). */
export async function reviveEntry(sql: Sql, deliveryId: string, now: Date): Promise<OutboxEntryView | undefined> {
  const rows = await sql.query<OutboxEntryView>(
    `UPDATE outbox SET status = 'pending', attempts = 0, next_attempt_at = $2 WHERE delivery_id = $1 AND status = 'dead'
     RETURNING ${viewColumns}`,
    [deliveryId, now],
  );
  return rows[0];
}

export async function findEntry(sql: Sql, deliveryId: string): Promise<OutboxEntryView | undefined> {
  return (await sql.query<OutboxEntryView>(`SELECT ${viewColumns} FROM outbox WHERE delivery_id = $1`, [deliveryId]))[0];
}

export async function pendingCounts(sql: Sql): Promise<Partial<Record<OutboxKind, number>>> {
  const rows = await sql.query<{ kind: OutboxKind; n: number }>(`SELECT kind, count(*)::int AS n FROM outbox WHERE status = 'pending' GROUP BY kind`);
  return Object.fromEntries(rows.map((r) => [r.kind, Number(r.n)]));
}

/** A request's newest StepAuth callback, with its URL (a callback's target is no credential, unlike a Slack URL). */
export async function latestCallbackFor(sql: Sql, requestId: string): Promise<(OutboxEntryView & { target: string | null }) | undefined> {
  const rows = await sql.query<OutboxEntryView & { target: string | null }>(
    `SELECT ${viewColumns}, target FROM outbox WHERE request_id = $1 AND kind = 'callback' ORDER BY id DESC LIMIT 1`,
    [requestId],
  );
  return rows[0];
}
