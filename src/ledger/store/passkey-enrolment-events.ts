import type { Sql } from "../../db/sql.js";
import { passkeyChunksOf } from "../core/passkey-chunk.js";
import type { JsonObject } from "../core/event-hash.js";
import { EVENT_COLUMNS, type EventRow } from "./wire-rows.js";

/**
 * The `passkey.enrolled` events a bundle's passkey-signed votes name (their chunks' `enrolment`), so
 * the bundle carries the public keys that verify them, each proven in the bundle's tree head
 * (docs/passkeys.md). Only sequenced vault.audit events are returned; an unknown uuid is left out and
 * the verifier then fails that approval.
 */
export function enrolmentUuids(chunkLists: readonly (readonly JsonObject[])[]): string[] {
  return [...new Set(chunkLists.flatMap((chunks) => passkeyChunksOf(chunks).map((c) => c.enrolment)))];
}

/** At most this many enrolments per bundle: one per approving reviewer's key (quorums are at most 20). */
const MAX_ENROLMENTS = 100;

export async function enrolmentEvents(sql: Sql, uuids: readonly string[]): Promise<EventRow[]> {
  if (uuids.length === 0) return [];
  return sql.query<EventRow>(
    `SELECT ${EVENT_COLUMNS}, NULL AS checkpoint_id FROM ledger_events
      WHERE event_uuid = ANY($1) AND event_type = 'vault.audit' AND leaf_index IS NOT NULL ORDER BY leaf_index LIMIT $2`,
    [uuids.slice(0, MAX_ENROLMENTS), MAX_ENROLMENTS],
  );
}
