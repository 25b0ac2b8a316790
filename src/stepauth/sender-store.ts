import type { Sql } from "../db/sql.js";
import { sqlState, UNIQUE_VIOLATION } from "../db/sql.js";
import { AppError } from "../errors.js";
import type { PublicKeyset } from "../protocols/stepauth/keyset.js";
import { newId } from "../tenancy/ids.js";

/**
 * The one owner of `stepauth_senders`: the service providers a tenant registered, each with the
 * keysets that verify its envelopes and the pattern its callback URLs must match.
 */
export interface StepAuthSender {
  id: string;
  entity: string;
  keysets: PublicKeyset[];
  callback_pattern: string | null;
  description: string;
  disabled_at: Date | null;
  created_at: Date;
}

const COLUMNS = "id, entity, keysets, callback_pattern, description, disabled_at, created_at";

export async function insertSender(
  sql: Sql,
  s: { entity: string; keysets: PublicKeyset[]; callbackPattern: string | null; description: string; now: Date },
): Promise<StepAuthSender> {
  try {
    const rows = await sql.query<StepAuthSender>(
      `INSERT INTO stepauth_senders (id, entity, keysets, callback_pattern, description, created_at) VALUES ($1, $2, $3, $4, $5, $6) RETURNING ${COLUMNS}`,
      [newId("sps"), s.entity, JSON.stringify(s.keysets), s.callbackPattern, s.description, s.now],
    );
    return rows[0]!;
  } catch (err) {
    if (sqlState(err) === UNIQUE_VIOLATION) {
      throw new AppError("stepauth_sender_exists", `A sender with entity ${s.entity} is already registered (a removed one can be enabled again with PATCH {"disabled": false})`);
    }
    throw err;
  }
}

export async function listSenders(sql: Sql): Promise<StepAuthSender[]> {
  return sql.query<StepAuthSender>(`SELECT ${COLUMNS} FROM stepauth_senders ORDER BY created_at, id`);
}

export async function getSender(sql: Sql, id: string): Promise<StepAuthSender | undefined> {
  return (await sql.query<StepAuthSender>(`SELECT ${COLUMNS} FROM stepauth_senders WHERE id = $1`, [id]))[0];
}

/** The enabled sender with this entity (the StepAuth senderId), if any. */
export async function enabledSenderByEntity(sql: Sql, entity: string): Promise<StepAuthSender | undefined> {
  return (await sql.query<StepAuthSender>(`SELECT ${COLUMNS} FROM stepauth_senders WHERE entity = $1 AND disabled_at IS NULL`, [entity]))[0];
}

/** Changes what is given; `disabled` false enables a removed sender again. Undefined when unknown. */
export async function updateSender(
  sql: Sql,
  id: string,
  change: { keysets?: PublicKeyset[]; callbackPattern?: string | null; description?: string; disabled?: boolean; now: Date },
): Promise<StepAuthSender | undefined> {
  const rows = await sql.query<StepAuthSender>(
    `UPDATE stepauth_senders SET
        keysets = COALESCE($2::jsonb, keysets),
        callback_pattern = CASE WHEN $3::boolean THEN $4 ELSE callback_pattern END,
        description = COALESCE($5, description),
        disabled_at = CASE WHEN $6::boolean IS NULL THEN disabled_at WHEN $6 THEN COALESCE(disabled_at, $7) ELSE NULL END
      WHERE id = $1 RETURNING ${COLUMNS}`,
    [
      id,
      change.keysets === undefined ? null : JSON.stringify(change.keysets),
      change.callbackPattern !== undefined,
      change.callbackPattern ?? null,
      change.description ?? null,
      change.disabled ?? null,
      change.now,
    ],
  );
  return rows[0];
}

/** The sender with this entity, enabled or not (deliveries check whether it was removed). */
export async function senderByEntity(sql: Sql, entity: string): Promise<StepAuthSender | undefined> {
  return (await sql.query<StepAuthSender>(`SELECT ${COLUMNS} FROM stepauth_senders WHERE entity = $1`, [entity]))[0];
}
