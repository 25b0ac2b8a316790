import type { NotificationKind, OutboxRequest, ReviewProgress } from "./events.js";

/**
 * What a reviewer needs to decide from a chat message or an email, rendered once and shared by the
 * Slack and email formats: who wants to do what, the exact arguments, the judge's reason and
 * evidence, approval progress and expiry, and the console link. Long values are cut to fit Slack's
 * block limits (3,000 characters per text) and to keep emails readable; the console has the rest.
 */
export interface ReviewNotice {
  kind: NotificationKind;
  title: string;
  requestId: string;
  tool: string;
  agent: string;
  principal: string | null;
  policy: string | null;
  confidence: string;
  reason: string;
  argsJson: string;
  argsTruncated: boolean;
  evidence: { heading: string; policy: string; excerpt: string }[];
  evidenceOmitted: number;
  approvals: { received: number; required: number };
  expiresAt: string | null;
  consoleUrl: string;
}

export const MAX_ARGS_CHARS = 2500;
const MAX_EVIDENCE_ITEMS = 5;
const MAX_EXCERPT_CHARS = 400;
const MAX_REASON_CHARS = 1500;

const titles: Record<NotificationKind, string> = {
  "review.requested": "Review requested",
  "review.reminder": "Reminder: review still pending",
  "review.escalation": "Escalation: review overdue",
  // Not a review: mode changes have their own notice (mode-notice.ts); listed so every kind has a title.
  "policy.mode_changed": "Policy mode changed",
};

export function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

export function reviewNotice(kind: NotificationKind, request: OutboxRequest, review: ReviewProgress): ReviewNotice {
  const fullArgs = JSON.stringify(request.tool_args ?? {}, null, 2);
  // Citations are what the judge relied on; without any, the retrieved evidence is the next best.
  const chunks = request.citations?.length ? request.citations : (request.evidence_chunks ?? []);
  return {
    kind,
    title: `${titles[kind]}: ${truncate(request.tool_name, 100)}`,
    requestId: request.id,
    tool: request.tool_name,
    agent: request.agent_id,
    principal: request.human_principal,
    policy: request.policy_id,
    confidence: request.confidence_bucket,
    reason: truncate(request.reason ?? "", MAX_REASON_CHARS),
    argsJson: truncate(fullArgs, MAX_ARGS_CHARS),
    argsTruncated: fullArgs.length > MAX_ARGS_CHARS,
    evidence: chunks.slice(0, MAX_EVIDENCE_ITEMS).map((c) => ({
      heading: truncate(c.heading || c.source, 150),
      policy: c.policy_id,
      excerpt: truncate(c.excerpt, MAX_EXCERPT_CHARS),
    })),
    evidenceOmitted: Math.max(0, chunks.length - MAX_EVIDENCE_ITEMS),
    approvals: { received: review.received, required: review.approvals_required },
    expiresAt: review.expires_at,
    consoleUrl: review.console_url,
  };
}

/** Only http(s) links are rendered as links: the URL comes from configuration, but be sure. */
export function safeLink(url: string): string | null {
  try {
    const u = new URL(url);
    return u.protocol === "https:" || u.protocol === "http:" ? u.toString() : null;
  } catch {
    return null;
  }
}
