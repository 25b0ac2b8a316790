import { z } from "zod";
import { newId } from "../tenancy/ids.js";
import type { ChannelRow } from "./channel-store.js";
import { notificationKinds, type NotificationKind } from "./events.js";
import { channelBinding, openSecret, sealSecret } from "./secret-box.js";

const MAX_POLICY_ROUTES = 200;
const policyId = z.string().min(1).max(128);
const url = z.string().min(1).max(2048);
const recipients = z.array(z.email().max(254)).max(50);
const notify = z.array(z.enum(notificationKinds)).max(notificationKinds.length).optional();
const fewRoutes = (routes: Record<string, unknown> | undefined) => Object.keys(routes ?? {}).length <= MAX_POLICY_ROUTES;

/**
 * PUT /notification-settings: where review notifications go. Each channel has a tenant default and
 * optional per-policy routes (a policy's route replaces the default for that policy's requests);
 * `notify` limits the kinds sent (default: all). The whole document replaces the previous one.
 */
export const notificationSettingsSchema = z.strictObject({
  slack: z
    .strictObject({
      webhook_url: url.nullable().optional(),
      policies: z.record(policyId, url).optional().refine(fewRoutes, `at most ${MAX_POLICY_ROUTES} policy routes`),
      notify,
    })
    .nullable()
    .optional(),
  email: z
    .strictObject({
      recipients: recipients.default([]),
      policies: z.record(policyId, recipients.min(1)).optional().refine(fewRoutes, `at most ${MAX_POLICY_ROUTES} policy routes`),
      notify,
    })
    .nullable()
    .optional(),
});
export type NotificationSettings = z.infer<typeof notificationSettingsSchema>;

/** Every Slack URL in the settings, for the target guard. */
export function slackUrlsOf(s: NotificationSettings): string[] {
  if (!s.slack) return [];
  return [...(s.slack.webhook_url ? [s.slack.webhook_url] : []), ...Object.values(s.slack.policies ?? {})];
}

export function hasEmailRoutes(s: NotificationSettings): boolean {
  return !!s.email && (s.email.recipients.length > 0 || Object.keys(s.email.policies ?? {}).length > 0);
}

/** The settings as rows, Slack URLs sealed to their row with `sealKey` (the tenant's webhook key, or the vault's). */
export function settingsToRows(s: NotificationSettings, sealKey: Buffer | undefined): ChannelRow[] {
  const rows: ChannelRow[] = [];
  const slack = (policy_id: string | null, target: string, kinds: NotificationKind[]) => {
    const id = newId("nch");
    rows.push({ id, kind: "slack", policy_id, slack_url: sealSecret(target, channelBinding(id), sealKey), email_recipients: null, notify: kinds });
  };
  const email = (policy_id: string | null, to: string[], kinds: NotificationKind[]) => {
    rows.push({ id: newId("nch"), kind: "email", policy_id, slack_url: null, email_recipients: [...new Set(to)], notify: kinds });
  };
  if (s.slack) {
    const kinds = [...new Set(s.slack.notify ?? [])];
    if (s.slack.webhook_url) slack(null, s.slack.webhook_url, kinds);
    for (const [policy, target] of Object.entries(s.slack.policies ?? {})) slack(policy, target, kinds);
  }
  if (s.email) {
    const kinds = [...new Set(s.email.notify ?? [])];
    if (s.email.recipients.length > 0) email(null, s.email.recipients, kinds);
    for (const [policy, to] of Object.entries(s.email.policies ?? {})) email(policy, to, kinds);
  }
  return rows;
}

/** An incoming-webhook URL is a credential: listings show its host and last characters only. */
export function redactUrl(raw: string): string {
  try {
    const u = new URL(raw);
    return `${u.origin}/…${u.pathname.slice(-4)}`;
  } catch {
    return "(unreadable)";
  }
}

export interface NotificationSettingsView {
  slack: { webhook_url: string | null; policies: Record<string, string>; notify: NotificationKind[] } | null;
  email: { recipients: string[]; policies: Record<string, string[]>; notify: NotificationKind[] } | null;
}

/** `openKeys`: the tenant's webhook keys, then the vault's (TenantKeys.sealingKeysFor). */
export function rowsToView(rows: ChannelRow[], openKeys: readonly Buffer[]): NotificationSettingsView {
  const view: NotificationSettingsView = { slack: null, email: null };
  for (const r of rows) {
    if (r.kind === "slack") {
      view.slack ??= { webhook_url: null, policies: {}, notify: r.notify };
      const shown = redactUrl(openSecret(r.slack_url!, channelBinding(r.id), openKeys));
      if (r.policy_id === null) view.slack.webhook_url = shown;
      else view.slack.policies[r.policy_id] = shown;
    } else {
      view.email ??= { recipients: [], policies: {}, notify: r.notify };
      if (r.policy_id === null) view.email.recipients = r.email_recipients ?? [];
      else view.email.policies[r.policy_id] = r.email_recipients ?? [];
    }
  }
  return view;
}
