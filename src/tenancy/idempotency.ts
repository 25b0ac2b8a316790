import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";

/**
 * Stored answers for Idempotency-Key on /register-policy and /mint-token: the same key and body get
 * the first answer again; the same key with another body gets 422. (/request-clearance keeps its
 * key on the request row, in the same insert.)
 */
export async function withIdempotency<T extends object>(
  sql: Sql,
  scope: string,
  key: string | undefined,
  bodyHash: string,
  run: () => Promise<T>,
): Promise<T> {
  if (!key) return run();
  const stored = await find(sql, scope, key);
  if (stored) return answer<T>(stored, bodyHash);
  const result = await run();
  const inserted = await sql.query(
    `INSERT INTO idempotency_records (scope, key, body_hash, status_code, response) VALUES ($1, $2, $3, 200, $4)
     ON CONFLICT (scope, key) DO NOTHING RETURNING key`,
    [scope, key, bodyHash, JSON.stringify(result)],
  );
  if (inserted.length === 0) return answer<T>((await find(sql, scope, key))!, bodyHash);
  return result;
}

async function find(sql: Sql, scope: string, key: string) {
  return (await sql.query<{ body_hash: string; response: unknown }>("SELECT body_hash, response FROM idempotency_records WHERE scope = $1 AND key = $2", [scope, key]))[0];
}

function answer<T>(stored: { body_hash: string; response: unknown }, bodyHash: string): T {
  if (stored.body_hash !== bodyHash) throw new AppError("idempotency_key_reused", "This Idempotency-Key was used with a different request body");
  return stored.response as T;
}
