import type { Sql } from "../db/sql.js";

/** `sigilum`: agent-claim events only, in Sigilum's body and X-Sigilum-Signature (docs/agent-identity.md). */
export type WebhookFormat = "countersign" | "sigilum";
export const webhookFormats: readonly WebhookFormat[] = ["countersign", "sigilum"];

export interface EndpointView {
  id: string;
  url: string;
  format: WebhookFormat;
  events: string[];
  description: string;
  enabled: boolean;
  created_at: Date;
}

/** What the enqueue path needs: who is subscribed to what (never the URL or the secret). */
export interface EndpointSubscription {
  id: string;
  format: WebhookFormat;
  events: string[];
}

const viewColumns = "id, url, format, events, description, enabled, created_at";

export async function insertEndpoint(
  sql: Sql,
  e: { id: string; url: string; sealedSecret: string; format: WebhookFormat; events: string[]; description: string; createdAt: Date },
): Promise<EndpointView> {
  const rows = await sql.query<EndpointView>(
    `INSERT INTO webhook_endpoints (id, url, secret, format, events, description, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
     RETURNING ${viewColumns}`,
    [e.id, e.url, e.sealedSecret, e.format, e.events, e.description, e.createdAt],
  );
  return rows[0]!;
}

export async function listEndpoints(sql: Sql): Promise<EndpointView[]> {
  return sql.query<EndpointView>(`SELECT ${viewColumns} FROM webhook_endpoints ORDER BY created_at, id`);
}

export async function getEndpoint(sql: Sql, id: string): Promise<EndpointView | undefined> {
  return (await sql.query<EndpointView>(`SELECT ${viewColumns} FROM webhook_endpoints WHERE id = $1`, [id]))[0];
}

export async function deleteEndpoint(sql: Sql, id: string): Promise<boolean> {
  return (await sql.query("DELETE FROM webhook_endpoints WHERE id = $1 RETURNING id", [id])).length > 0;
}

export async function enabledSubscriptions(sql: Sql): Promise<EndpointSubscription[]> {
  return sql.query<EndpointSubscription>("SELECT id, format, events FROM webhook_endpoints WHERE enabled ORDER BY id");
}
