import type { EventLink } from "../ledger/store/ledger-proofs.js";
import type { ExecutionRecord } from "./store/execution-store.js";

/**
 * What a `token.executed` ledger event and webhook say about an execution report. The ledger event
 * keeps the request's fields like every event of the request; the report itself is its one evidence
 * chunk (hashed with the event), and its reason says the same in words.
 */

/** The events an approval may be recorded as: the judge's or a reviewer's approval, or a re-issue. */
export const APPROVAL_EVENTS: ReadonlySet<string> = new Set(["clearance.approved", "review.approved", "token.minted"]);

function newest(links: readonly EventLink[], match: (type: string) => boolean): EventLink | undefined {
  return [...links].reverse().find((l) => match(l.event_type));
}

type Chunk = Record<string, string | number | null | { uuid: string; hash: string }>;

/**
 * The report and the events it follows, as the evidence chunk the event hashes. Every key is one
 * lowercase word: the ledgix-ts SDK camelCases response keys before hashing (§4.12), and a key it
 * would rename makes the vault serve the row redacted under ?redact=auto, so SDK users could not
 * verify the report itself. Verifiers rely on these names (src/ledger/verify/bundle-verifier-request-events.ts).
 */
export function executionEvidence(r: ExecutionRecord, links: readonly EventLink[]): Chunk {
  const approval = newest(links, (t) => APPROVAL_EVENTS.has(t));
  const burn = newest(links, (t) => t === "token.consumed");
  const link = (l: EventLink | undefined) => (l ? { uuid: l.event_uuid, hash: l.event_hash } : null);
  return {
    type: "execution_report",
    jti: r.jti,
    status: r.status,
    outcome: r.outcome,
    duration: r.duration_ms,
    response: r.response_sha256,
    detail: r.detail,
    reporter: r.reported_by,
    closer: r.closed_by,
    at: r.reported_at.toISOString(),
    approval: link(approval),
    burn: link(burn),
  };
}

export function executionReason(r: ExecutionRecord): string {
  if (r.closed_by !== null) {
    return `Token ${r.jti} burned but never reported: closed as outcome unknown by reviewer ${r.closed_by}${r.detail ? `: ${r.detail}` : ""}`;
  }
  const status = r.status === null ? "no HTTP status" : `status ${r.status}`;
  return `Token ${r.jti} executed: ${status}, outcome ${r.outcome}, ${r.duration_ms ?? 0} ms, reported by API key ${r.reported_by}`;
}

/** The `token.executed` webhook's extra data, next to the request's fields. */
export function executionWebhookData(r: ExecutionRecord): Record<string, unknown> {
  return {
    jti: r.jti,
    status: r.status,
    outcome: r.outcome,
    duration_ms: r.duration_ms,
    response_sha256: r.response_sha256,
    detail: r.detail,
    reported_by: r.reported_by,
    closed_by: r.closed_by,
    reported_at: r.reported_at.toISOString(),
  };
}
