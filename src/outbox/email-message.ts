import { safeLink, truncate, type ReviewNotice } from "./review-notice.js";

export interface EmailContent {
  subject: string;
  text: string;
  html: string;
}

/** Everything from the request is HTML-escaped: arguments and reasons are attacker-influenced. */
export function escapeHtml(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;").replace(/'/g, "&#39;");
}

// Control characters (CR/LF above all) never reach a header, whatever the mailer does with them.
const headerSafe = (text: string) => text.replace(/[\u0000-\u001f\u007f]+/g, " ").trim();

/** The same content as the Slack message, as plain text and as HTML. */
export function emailMessage(n: ReviewNotice): EmailContent {
  const subject = truncate(headerSafe(`[Countersign] ${n.title} (agent ${n.agent})`), 200);
  const link = safeLink(n.consoleUrl);
  const rows: [string, string][] = [
    ["Tool", n.tool],
    ["Agent", n.agent],
    ["Human principal", n.principal ?? "(none)"],
    ["Policy", n.policy ?? "(none)"],
    ["Confidence", n.confidence],
    ["Approvals", `${n.approvals.received} of ${n.approvals.required}`],
    ["Expires", n.expiresAt ?? "never"],
    ["Request", n.requestId],
  ];
  const argsLabel = `Arguments${n.argsTruncated ? " (truncated)" : ""}`;
  const more = n.evidenceOmitted > 0 ? `…and ${n.evidenceOmitted} more in the console` : "";

  const text = [
    n.title,
    "",
    ...rows.map(([k, v]) => `${k}: ${v}`),
    "",
    "Reason:",
    n.reason || "(none given)",
    "",
    `${argsLabel}:`,
    n.argsJson,
    "",
    "Evidence:",
    ...(n.evidence.length === 0 ? ["(no policy evidence was retrieved)"] : n.evidence.map((e) => `- ${e.heading} (${e.policy}): ${e.excerpt}`)),
    ...(more ? [more] : []),
    "",
    link ? `Review it in the console: ${link}` : "Review it in the Countersign console.",
    "",
  ].join("\n");

  const cell = "padding:4px 12px 4px 0;vertical-align:top";
  const html = `<!doctype html>
<html><body style="font-family:system-ui,-apple-system,Segoe UI,sans-serif;color:#1a1a1a;max-width:720px">
<h2 style="margin:0 0 12px">${escapeHtml(n.title)}</h2>
<table style="border-collapse:collapse">${rows.map(([k, v]) => `<tr><th align="left" style="${cell}">${escapeHtml(k)}</th><td style="${cell}">${escapeHtml(v)}</td></tr>`).join("")}</table>
<h3>Reason</h3>
<p>${escapeHtml(n.reason || "(none given)")}</p>
<h3>${escapeHtml(argsLabel)}</h3>
<pre style="background:#f4f4f4;padding:8px;white-space:pre-wrap;word-break:break-word">${escapeHtml(n.argsJson)}</pre>
<h3>Evidence</h3>
${
  n.evidence.length === 0
    ? "<p><em>No policy evidence was retrieved.</em></p>"
    : `<ul>${n.evidence.map((e) => `<li><strong>${escapeHtml(e.heading)}</strong> (${escapeHtml(e.policy)})<br>${escapeHtml(e.excerpt)}</li>`).join("")}</ul>`
}${more ? `\n<p><em>${escapeHtml(more)}</em></p>` : ""}
${link ? `<p><a href="${escapeHtml(link)}" style="display:inline-block;padding:8px 16px;background:#1f6feb;color:#fff;text-decoration:none;border-radius:4px">Open in console</a></p>` : ""}
</body></html>
`;
  return { subject, text, html };
}
