import type { Sql } from "../db/sql.js";

export interface EndpointView {
  id: string;
  url: string;
  events: string[];
  description: string;
  enabled: boolean;
  created_at: Date;
}

/** What the enqueue path needs: who is subscribed to what (never the URL or the secret). */
export interface EndpointSubscription {
  id: string;
  events: string[];
}

export async function insertEndpoint(
  sql: Sql,
  e: { id: string; url: string; sealedSecret: string; events: string[]; description: string; createdAt: Date },
): Promise<EndpointView> {
  const rows = await sql.query<EndpointView>(
    `INSERT INTO webhook_endpoints (id, url, secret, events, description, created_at) VALUES ($1, $2, $3, $4, $5, $6)
     RETURNING id, url, events, description, enabled, created_at`,
    [e.id, e.url, e.sealedSecret, e.events, e.description, e.createdAt],
  );
  return rows[0]!;
}

export async function listEndpoints(sql: Sql): Promise<EndpointView[]> {
  return sql.query<EndpointView>("SELECT id, url, events, description, enabled, created_at FROM webhook_endpoints ORDER BY created_at, id");
}

export async function getEndpoint(sql: Sql, id: string): Promise<EndpointView | undefined> {
  return (await sql.query<EndpointView>("SELECT id, url, events, description, enabled, created_at FROM webhook_endpoints WHERE id = $1", [id]))[0];
}

export async function deleteEndpoint(sql: Sql, id: string): Promise<boolean> {
  return (await sql.query("DELETE FROM webhook_endpoints WHERE id = $1 RETURNING id", [id])).length > 0;
}

export async function enabledSubscriptions(sql: Sql): Promise<EndpointSubscription[]> {
  return sql.query<EndpointSubscription>("SELECT id, events FROM webhook_endpoints WHERE enabled ORDER BY id");
}
