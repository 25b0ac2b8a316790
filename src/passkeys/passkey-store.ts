import type { Sql } from "../db/sql.js";

/**
 * The SQL of passkey credentials and registration challenges (tenant migration 0012); the passkeys
 * module is their one owner. Every statement runs on the caller's tenant database, so a credential of
 * another tenant is never seen.
 */

export interface StoredPasskey {
  id: string;
  reviewer_id: string;
  credential_id: string;
  public_key_cose: string;
  alg: number;
  sign_count: number;
  transports: string[];
  aaguid: string;
  label: string;
  user_handle: string;
  enrolment_event_uuid: string;
  created_at: Date;
  last_used_at: Date | null;
}

const COLUMNS = `id, reviewer_id, credential_id, public_key_cose, alg, sign_count::float8 AS sign_count, transports, aaguid, label, user_handle,
  enrolment_event_uuid, created_at, last_used_at`;

/** Outstanding registration challenges a reviewer may hold at once: enough for a few open tabs, and a bound on the table. */
const MAX_CHALLENGES_PER_REVIEWER = 5;

export async function activePasskeys(sql: Sql, reviewerId: string): Promise<StoredPasskey[]> {
  return sql.query<StoredPasskey>(`SELECT ${COLUMNS} FROM passkey_credentials WHERE reviewer_id = $1 AND removed_at IS NULL ORDER BY created_at, id`, [reviewerId]);
}

export async function activePasskeyById(sql: Sql, id: string): Promise<StoredPasskey | undefined> {
  return (await sql.query<StoredPasskey>(`SELECT ${COLUMNS} FROM passkey_credentials WHERE id = $1 AND removed_at IS NULL`, [id]))[0];
}

/** The active credential with this id, locked until the transaction ends (its counter is about to move). */
export async function lockActiveCredential(sql: Sql, credentialId: string): Promise<StoredPasskey | undefined> {
  return (await sql.query<StoredPasskey>(`SELECT ${COLUMNS} FROM passkey_credentials WHERE credential_id = $1 AND removed_at IS NULL FOR UPDATE`, [credentialId]))[0];
}

/**
 * Whether `credentialId` is taken for this reviewer: enrolled now by anyone, or ever by another
 * reviewer. A removed credential's id stays its first holder's: recorded approvals and tokens name
 * it, and another reviewer enrolling the same id (with a key of their own: attestation is "none")
 * would make those names ambiguous.
 */
export async function credentialEnrolled(sql: Sql, credentialId: string, reviewerId: string): Promise<boolean> {
  const rows = await sql.query(`SELECT 1 FROM passkey_credentials WHERE credential_id = $1 AND (removed_at IS NULL OR reviewer_id <> $2) LIMIT 1`, [credentialId, reviewerId]);
  return rows.length > 0;
}

export async function insertPasskey(sql: Sql, p: StoredPasskey): Promise<void> {
  await sql.query(
    `INSERT INTO passkey_credentials (id, reviewer_id, credential_id, public_key_cose, alg, sign_count, transports, aaguid, label, user_handle, enrolment_event_uuid, created_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
    [p.id, p.reviewer_id, p.credential_id, p.public_key_cose, p.alg, p.sign_count, p.transports, p.aaguid, p.label, p.user_handle, p.enrolment_event_uuid, p.created_at],
  );
}

/** Marks a passkey removed; false when it was already removed (a concurrent removal won). */
export async function markRemoved(sql: Sql, id: string, at: Date, eventUuid: string): Promise<boolean> {
  const rows = await sql.query(`UPDATE passkey_credentials SET removed_at = $2, removal_event_uuid = $3 WHERE id = $1 AND removed_at IS NULL RETURNING id`, [id, at, eventUuid]);
  return rows.length > 0;
}

/**
 * Records a use. The counter must rise, unless the authenticator keeps none (0 before and after):
 * conditional, so of two assertions racing with one counter value only one is accepted.
 */
export async function recordUse(sql: Sql, id: string, newCount: number, at: Date): Promise<boolean> {
  const rows = await sql.query(
    `UPDATE passkey_credentials SET sign_count = $2, last_used_at = $3
      WHERE id = $1 AND removed_at IS NULL AND (sign_count < $2 OR (sign_count = 0 AND $2 = 0)) RETURNING id`,
    [id, newCount, at],
  );
  return rows.length > 0;
}

/** Stores a registration challenge, dropping expired ones and the reviewer's oldest beyond the bound. */
export async function storeChallenge(sql: Sql, c: { challenge: string; reviewer_id: string; user_handle: string; created_at: Date; expires_at: Date }): Promise<void> {
  await sql.transaction(async (tx) => {
    await tx.query(`DELETE FROM passkey_challenges WHERE expires_at <= $1`, [c.created_at]);
    await tx.query(
      `DELETE FROM passkey_challenges WHERE reviewer_id = $1 AND challenge IN
         (SELECT challenge FROM passkey_challenges WHERE reviewer_id = $1 ORDER BY created_at DESC, challenge OFFSET $2)`,
      [c.reviewer_id, MAX_CHALLENGES_PER_REVIEWER - 1],
    );
    await tx.query(`INSERT INTO passkey_challenges (challenge, reviewer_id, user_handle, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)`, [
      c.challenge,
      c.reviewer_id,
      c.user_handle,
      c.created_at,
      c.expires_at,
    ]);
  });
}

/** Takes (deletes) the reviewer's unexpired challenge: single use, whatever happens next. */
export async function takeChallenge(sql: Sql, reviewerId: string, challenge: string, now: Date): Promise<{ user_handle: string } | undefined> {
  const rows = await sql.query<{ user_handle: string; expires_at: Date }>(
    `DELETE FROM passkey_challenges WHERE challenge = $1 AND reviewer_id = $2 RETURNING user_handle, expires_at`,
    [challenge, reviewerId],
  );
  const row = rows[0];
  return row && new Date(row.expires_at).getTime() > now.getTime() ? { user_handle: row.user_handle } : undefined;
}
