import { escapeHtml, type EmailContent } from "./email-message.js";
import { safeLink, truncate } from "./review-notice.js";
import { escapeSlack } from "./slack-message.js";

/**
 * The notification of a mode change (issue 17, docs/shadow-mode.md): a policy or the whole tenant
 * switched between enforce and shadow. Switching to shadow is the loud case: from then on the policy
 * only logs, so an attacker who gets an admin key can turn a deny into "recorded, not enforced"
 * without touching the policy's content or hash. The message says so in plain words.
 */
export interface ModeChangeNotice {
  scope: "policy" | "tenant";
  /** The policy concerned; null for the tenant's mode. */
  policyId: string | null;
  from: string;
  to: string;
  shadowDefault: string;
  /** The tenant's shadow default before the change (absent: unchanged). */
  previousShadowDefault?: string;
  actor: string;
  reason: string;
  /** The `vault.audit` ledger event that records the change. */
  eventUuid: string;
  consoleUrl: string;
}

export function modeNoticeTitle(n: ModeChangeNotice): string {
  const what = n.scope === "tenant" ? "The whole tenant" : `Policy ${truncate(n.policyId ?? "", 100)}`;
  if (n.to === "shadow" && n.from !== "shadow") return `${what} switched to shadow mode (log-only: not enforced)`;
  if (n.previousShadowDefault !== undefined && n.previousShadowDefault !== n.shadowDefault) {
    return `The tenant's shadow default changed from ${n.previousShadowDefault} to ${n.shadowDefault} (tenant mode ${n.to})`;
  }
  if (n.from === n.to) return `${what} mode confirmed: ${n.to}`;
  return `${what} switched to ${n.to} mode`;
}

const STRICTNESS: Record<string, number> = { approve: 0, review: 1, deny: 2 };

/**
 * A change that makes the vault enforce less: a switch to shadow (log-only), or a shadow default made
 * more lenient (review → approve, say). Someone holding a stolen admin key makes exactly this change,
 * so it is announced on every channel whatever the channel's `notify` filter says (docs/shadow-mode.md).
 */
export function weakens(n: Pick<ModeChangeNotice, "from" | "to" | "shadowDefault" | "previousShadowDefault">): boolean {
  if (n.to === "shadow" && n.from !== "shadow") return true;
  const before = n.previousShadowDefault;
  return before !== undefined && (STRICTNESS[n.shadowDefault] ?? 0) < (STRICTNESS[before] ?? 0);
}

/** A notification channel route as the outbox holds it (outbox.ts). */
export interface ModeRoute {
  kind: "slack" | "email";
  policyId: string | null;
  slackUrl: string | null;
  recipients: string[] | null;
  notify: string[];
}

/**
 * The routes of one channel kind a mode change goes to. Ordinarily as a review of the policy would
 * go (its own route, else the tenant default), if that route's `notify` filter takes mode changes.
 * A change that weakens enforcement ignores the filters and goes to the tenant default and to the
 * policy's own route (for the tenant's mode: to every route, each policy being concerned), once per
 * distinct target.
 */
export function modeChangeRoutes<R extends ModeRoute>(channels: R[], kind: ModeRoute["kind"], n: ModeChangeNotice): R[] {
  const ofKind = channels.filter((c) => c.kind === kind);
  if (!weakens(n)) {
    const route = ofKind.find((c) => n.policyId !== null && c.policyId === n.policyId) ?? ofKind.find((c) => c.policyId === null);
    return route && (route.notify.length === 0 || route.notify.includes("policy.mode_changed")) ? [route] : [];
  }
  const concerned = ofKind.filter((c) => c.policyId === null || n.scope === "tenant" || c.policyId === n.policyId);
  const seen = new Set<string>();
  return concerned.filter((c) => {
    const target = c.slackUrl ?? JSON.stringify([...(c.recipients ?? [])].sort());
    if (seen.has(target)) return false;
    seen.add(target);
    return true;
  });
}

function lines(n: ModeChangeNotice): [string, string][] {
  return [
    ["Scope", n.scope === "tenant" ? "tenant (every policy)" : `policy ${n.policyId}`],
    ["Mode", `${n.from} → ${n.to}`],
    ["Shadow default", `${n.previousShadowDefault !== undefined && n.previousShadowDefault !== n.shadowDefault ? `${n.previousShadowDefault} → ` : ""}${n.shadowDefault} (the answer when only shadow policies apply)`],
    ["Changed by", n.actor],
    ["Reason", n.reason || "(none given)"],
    ["Ledger event", n.eventUuid],
  ];
}

const WARNING =
  "In shadow mode the policy's decisions are recorded in the ledger but not enforced. If you did not expect this change, switch it back and revoke the key that made it.";
const LENIENT_DEFAULT_WARNING =
  "Requests that only shadow-mode policies apply to now get this more lenient answer. If you did not expect this change, set it back and revoke the key that made it.";

/** The warning a change that weakens enforcement carries; "" for the others. */
function warningOf(n: ModeChangeNotice): string {
  if (!weakens(n)) return "";
  return n.to === "shadow" && n.from !== "shadow" ? WARNING : LENIENT_DEFAULT_WARNING;
}

export function modeSlackMessage(n: ModeChangeNotice): Record<string, unknown> {
  const title = modeNoticeTitle(n);
  const link = safeLink(n.consoleUrl);
  const blocks: Record<string, unknown>[] = [
    { type: "header", text: { type: "plain_text", text: truncate(title, 150), emoji: false } },
    { type: "section", text: { type: "mrkdwn", text: truncate(lines(n).map(([k, v]) => `*${k}*: ${escapeSlack(v)}`).join("\n"), 3000) } },
  ];
  const warn = warningOf(n);
  if (warn) blocks.push({ type: "section", text: { type: "mrkdwn", text: `:warning: ${escapeSlack(warn)}` } });
  if (link) {
    blocks.push({ type: "actions", elements: [{ type: "button", text: { type: "plain_text", text: "Open the policies" }, url: link, action_id: "open_console" }] });
  }
  return { text: escapeSlack(title), blocks };
}

export function modeEmailMessage(n: ModeChangeNotice): EmailContent {
  const title = modeNoticeTitle(n);
  const link = safeLink(n.consoleUrl);
  const rows = lines(n);
  const warn = warningOf(n);
  const text = [title, "", ...rows.map(([k, v]) => `${k}: ${v}`), "", ...(warn ? [warn, ""] : []), link ? `Policies in the console: ${link}` : "", ""].join("\n");
  const cell = "padding:4px 12px 4px 0;vertical-align:top";
  const html = `<!doctype html>
<html><body style="font-family:system-ui,-apple-system,Segoe UI,sans-serif;color:#1a1a1a;max-width:720px">
<h2 style="margin:0 0 12px">${escapeHtml(title)}</h2>
<table style="border-collapse:collapse">${rows.map(([k, v]) => `<tr><th align="left" style="${cell}">${escapeHtml(k)}</th><td style="${cell}">${escapeHtml(v)}</td></tr>`).join("")}</table>
${warn ? `<p><strong>${escapeHtml(warn)}</strong></p>` : ""}
${link ? `<p><a href="${escapeHtml(link)}">Open the policies in the console</a></p>` : ""}
</body></html>
`;
  // Control characters never reach the Subject header.
  const subject = truncate(`[Countersign] ${title}`.replace(/[\u0000-\u001f\u007f]+/g, " ").trim(), 200);
  return { subject, text, html };
}
