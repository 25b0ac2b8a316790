import type { Sql } from "../db/sql.js";

/**
 * The tenant's hub identity: its entity (the recipientId SPs address, the senderId of its
 * decisions) and where its endpoints are. The entity is stored the first time it is read, so a
 * later change of VAULT_PUBLIC_URL does not change the identity SPs have recorded; an admin can set
 * it (PUT /stepauth/hub). The default is `<public host>/stepauth/<tenant id>`.
 */
export function defaultHubEntity(publicUrl: string, tenantId: string): string {
  let host = publicUrl;
  try {
    host = new URL(publicUrl).host;
  } catch {
    /* the configured URL as it is */
  }
  return `${host}/stepauth/${tenantId}`;
}

/** Where this tenant's StepAuth endpoints live: the `host` of its metadata (origin plus path prefix). */
export function hubHost(publicUrl: string, tenantId: string): string {
  return `${publicUrl}/stepauth/${encodeURIComponent(tenantId)}`;
}

export async function readHubEntity(sql: Sql, fallback: string, now: Date): Promise<string> {
  const row = (await sql.query<{ entity: string }>("SELECT entity FROM stepauth_settings"))[0];
  if (row) return row.entity;
  const stored = await sql.query<{ entity: string }>(
    "INSERT INTO stepauth_settings (singleton, entity, updated_at) VALUES (true, $1, $2) ON CONFLICT (singleton) DO NOTHING RETURNING entity",
    [fallback, now],
  );
  return stored[0]?.entity ?? (await sql.query<{ entity: string }>("SELECT entity FROM stepauth_settings"))[0]!.entity;
}

export async function writeHubEntity(sql: Sql, entity: string, now: Date): Promise<string> {
  await sql.query(
    `INSERT INTO stepauth_settings (singleton, entity, updated_at) VALUES (true, $1, $2)
     ON CONFLICT (singleton) DO UPDATE SET entity = EXCLUDED.entity, updated_at = EXCLUDED.updated_at`,
    [entity, now],
  );
  return entity;
}
