import type { Sql } from "../db/sql.js";
import type { NotificationKind } from "./events.js";

/** One notification route as stored; slack_url is sealed (see secret-box.ts). */
export interface ChannelRow {
  id: string;
  kind: "slack" | "email";
  policy_id: string | null;
  slack_url: string | null;
  email_recipients: string[] | null;
  notify: NotificationKind[];
}

export async function readChannels(sql: Sql): Promise<ChannelRow[]> {
  return sql.query<ChannelRow>(
    "SELECT id, kind, policy_id, slack_url, email_recipients, notify FROM notification_channels ORDER BY kind, policy_id NULLS FIRST",
  );
}

/** The settings are replaced as a whole, in one transaction, so readers never see half of them. */
export async function replaceChannels(sql: Sql, rows: ChannelRow[], createdAt: Date): Promise<void> {
  await sql.transaction(async (tx) => {
    await tx.query("DELETE FROM notification_channels");
    for (const r of rows) {
      await tx.query(
        `INSERT INTO notification_channels (id, kind, policy_id, slack_url, email_recipients, notify, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)`,
        [r.id, r.kind, r.policy_id, r.slack_url, r.email_recipients, r.notify, createdAt],
      );
    }
  });
}
