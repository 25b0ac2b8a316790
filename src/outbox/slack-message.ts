import { safeLink, truncate, type ReviewNotice } from "./review-notice.js";

/**
 * A Slack incoming-webhook message (Block Kit) for a pending review. Slack's mrkdwn treats &, < and >
 * as control characters (links and mentions such as <!channel>), so every value from the request is
 * escaped: an agent cannot ping a channel or plant a link through its arguments.
 * Limits: header text 150 characters, section text 3,000, field text 2,000.
 */
export function escapeSlack(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}

// A ``` inside the arguments would close the code block early; a zero-width space keeps it literal.
// Escaping can lengthen the text, so it is cut after escaping and the block always closes.
const codeBlock = (text: string) => "```" + truncate(escapeSlack(text).replace(/```/g, "``\u200b`"), 2900) + "```";

const field = (label: string, value: string | null) => ({ type: "mrkdwn", text: truncate(`*${label}*\n${value === null ? "_none_" : escapeSlack(value)}`, 2000) });

export function slackMessage(n: ReviewNotice): Record<string, unknown> {
  const evidence =
    n.evidence.length === 0
      ? "_No policy evidence was retrieved._"
      : n.evidence.map((e) => `• *${escapeSlack(e.heading)}* (${escapeSlack(e.policy)})\n>${escapeSlack(e.excerpt).replace(/\n/g, "\n>")}`).join("\n") +
        (n.evidenceOmitted > 0 ? `\n_…and ${n.evidenceOmitted} more in the console_` : "");
  const progress = `Approvals: *${n.approvals.received} of ${n.approvals.required}*`;
  const expiry = n.expiresAt ? `Expires: ${escapeSlack(n.expiresAt)}` : "No expiry";
  const link = safeLink(n.consoleUrl);
  const blocks: Record<string, unknown>[] = [
    { type: "header", text: { type: "plain_text", text: truncate(n.title, 150), emoji: false } },
    {
      type: "section",
      fields: [field("Tool", n.tool), field("Agent", n.agent), field("Human principal", n.principal), field("Policy", n.policy), field("Confidence", n.confidence)],
    },
    { type: "section", text: { type: "mrkdwn", text: truncate(`*Reason*\n${escapeSlack(n.reason || "(none given)")}`, 3000) } },
    {
      type: "section",
      text: { type: "mrkdwn", text: truncate(`*Arguments*${n.argsTruncated ? " (truncated)" : ""}\n${codeBlock(n.argsJson)}`, 3000) },
    },
    { type: "section", text: { type: "mrkdwn", text: truncate(`*Evidence*\n${evidence}`, 3000) } },
    { type: "context", elements: [{ type: "mrkdwn", text: `${progress} · ${expiry} · Request \`${escapeSlack(n.requestId)}\`` }] },
  ];
  if (link) {
    blocks.push({
      type: "actions",
      elements: [{ type: "button", text: { type: "plain_text", text: "Open in console" }, url: link, style: "primary", action_id: "open_console" }],
    });
  }
  return { text: escapeSlack(`${n.title} by ${n.agent}`), blocks };
}
