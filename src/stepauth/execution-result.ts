import type { Sql } from "../db/sql.js";
import { requestEventLinks } from "../ledger/store/ledger-proofs.js";
import type { LedgerWriter } from "../ledger/store/ledger-writer.js";
import { getRequest } from "../requests/store/request-store.js";
import { storeExecution, type StepAuthRequestRow, type StoredExecution } from "./request-store.js";

const MAX_ERROR_CHARS = 500;

/**
 * The SP's answer to a callback: an ExecutionResult `{"requestId", "status": "success"|"error",
 * "error"?}` for this request, else null (an answer that is not one is still a delivery, but
 * nothing is recorded). The error text is kept printable, storable and short: it lands in a signed ledger event.
 */
export function parseExecutionResult(text: string, requestId: string, at: Date): StoredExecution | null {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return null;
  }
  if (value === null || typeof value !== "object" || Array.isArray(value)) return null;
  const o = value as Record<string, unknown>;
  if (o.requestId !== requestId || (o.status !== "success" && o.status !== "error")) return null;
  const error = typeof o.error === "string" && o.error !== "" ? storableText(o.error, MAX_ERROR_CHARS) : null;
  return { status: o.status, error, at: at.toISOString() };
}

/**
 * Text an SP wrote, as the ledger and a jsonb column can hold it: control characters (NUL among them)
 * become spaces, at most `max` characters counted in code points (a cut never splits a surrogate
 * pair), and a lone surrogate, which JSON can carry ("\ud800") but jsonb and UTF-8 cannot, becomes U+FFFD.
 */
function storableText(text: string, max: number): string {
  return [...text.replace(/\p{Cc}/gu, " ")].slice(0, max).join("").replace(/\p{Surrogate}/gu, "\uFFFD");
}

/**
 * Records the result once, with its `stepauth.executed` ledger event on the clearance request, like
 * the gateway's token.executed: the evidence chunk is the result (one lowercase word per key), and
 * names the stepauth.decision event it answers by uuid and hash, so one bundle of the request shows
 * the request's digest, the signed decision and what the SP did. False when one was recorded already.
 */
export async function recordExecution(sql: Sql, ledger: LedgerWriter, tenantId: string, row: StepAuthRequestRow, result: StoredExecution): Promise<boolean> {
  if (row.execution !== null || row.clearance_request_id === null) return false;
  const request = await getRequest(sql, row.clearance_request_id);
  if (!request) return false;
  const links = await requestEventLinks(sql, request.id);
  const decision = [...links].reverse().find((l) => l.event_type === "stepauth.decision");
  const chunk = {
    type: "stepauth_execution",
    sender: row.sender_id,
    request: row.request_id,
    status: result.status,
    error: result.error,
    at: result.at,
    decision: decision ? { uuid: decision.event_uuid, hash: decision.event_hash } : null,
  };
  const reason = `StepAuth sender ${row.sender_id} reported request ${row.request_id} executed: ${result.status}${result.error ? ` (${result.error})` : ""}`;
  const event = await ledger.prepare({ ...request, evidence_chunks: [chunk] }, "stepauth.executed", reason, tenantId);
  return storeExecution(sql, { senderId: row.sender_id, requestId: row.request_id }, result, event);
}
