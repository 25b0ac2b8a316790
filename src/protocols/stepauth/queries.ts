import { fail, type StepAuthCheck } from "./errors.js";
import { asObject, parseStrictJson } from "./strict-json.js";
import { isValidId, timestampInWindow } from "./wire-rules.js";

/**
 * The small signed queries an SP sends besides requests: cancel (reference §7, seed form
 * `{requestId, spId, timestamp}`; `senderId` accepted in place of `spId`), poll (§7, Countersign's
 * form) and directory listings (§8). Poll and directory queries name the exact request path in
 * `requestUri`, so a captured envelope cannot be replayed against another resource or tenant.
 */
export interface CancelQuery {
  requestId: string;
  senderId: string;
  timestamp: string;
}

export interface PollQuery {
  senderId: string;
  recipientId: string;
  requestUri: string;
  timestamp: string;
}

export interface DirectoryQuery extends PollQuery {
  limit?: number;
  cursor?: string;
}

/** Queries are small; anything bigger is not one. */
export const MAX_QUERY_PAYLOAD_BYTES = 16 * 1024;

function readObject(payload: Uint8Array): Record<string, unknown> | null {
  if (!(payload instanceof Uint8Array) || payload.length > MAX_QUERY_PAYLOAD_BYTES) return null;
  const parsed = parseStrictJson(payload);
  return parsed.ok ? asObject(parsed.value) : null;
}

/** The cancel's sender: `senderId`, else `spId`; null when neither is a string or they differ. */
export function peekSender(payload: Uint8Array): string | null {
  const o = readObject(payload);
  return o ? senderOf(o) : null;
}

function senderOf(o: Record<string, unknown>): string | null {
  const sender = o.senderId ?? o.spId;
  if (typeof sender !== "string") return null;
  if (o.senderId !== undefined && o.spId !== undefined && o.senderId !== o.spId) return null;
  return sender;
}

export function validateCancel(payload: Uint8Array, ctx: { now: Date }): StepAuthCheck<CancelQuery> {
  const o = readObject(payload);
  if (!o) return fail("malformed_request", "the cancel payload is not a JSON object");
  const senderId = senderOf(o);
  if (!isValidId(senderId)) return fail("malformed_request", "senderId (or spId) is missing or invalid");
  if (!isValidId(o.requestId)) return fail("malformed_request", "requestId is missing or invalid");
  if (!timestampInWindow(o.timestamp, ctx.now)) return fail("timestamp_out_of_range", "timestamp is not RFC 3339 within 5m of the hub's clock");
  return { ok: true, value: { requestId: o.requestId, senderId, timestamp: o.timestamp as string } };
}

export function validatePoll(payload: Uint8Array, ctx: { hubEntity: string; requestUri: string; now: Date }): StepAuthCheck<PollQuery> {
  const o = readObject(payload);
  if (!o) return fail("malformed_request", "the query payload is not a JSON object");
  return checkAddressed(o, ctx);
}

export function validateDirectoryQuery(payload: Uint8Array, ctx: { hubEntity: string; requestUri: string; now: Date }): StepAuthCheck<DirectoryQuery> {
  const o = readObject(payload);
  if (!o) return fail("malformed_request", "the query payload is not a JSON object");
  const base = checkAddressed(o, ctx);
  if (!base.ok) return base;
  const value: DirectoryQuery = { ...base.value };
  // Go omits a zero limit and an empty cursor (omitempty): both mean "not given".
  if (o.limit !== undefined && o.limit !== null && o.limit !== 0) {
    if (typeof o.limit !== "number" || !Number.isSafeInteger(o.limit) || o.limit < 1) return fail("malformed_request", "limit must be a positive integer");
    value.limit = o.limit;
  }
  if (o.cursor !== undefined && o.cursor !== null && o.cursor !== "") {
    if (typeof o.cursor !== "string" || o.cursor.length > 1024) return fail("malformed_request", "cursor must be a string of at most 1024 characters");
    value.cursor = o.cursor;
  }
  return { ok: true, value };
}

/** recipientId and requestUri bind the query to this hub and path (`wrong_recipient`); then sender and time. */
function checkAddressed(o: Record<string, unknown>, ctx: { hubEntity: string; requestUri: string; now: Date }): StepAuthCheck<PollQuery> {
  for (const key of ["senderId", "recipientId", "requestUri", "timestamp"]) {
    if (typeof o[key] !== "string" || o[key] === "") return fail("malformed_request", `missing ${key}`);
  }
  if (o.recipientId !== ctx.hubEntity) return fail("wrong_recipient", "recipientId is not this hub's entity");
  if (o.requestUri !== ctx.requestUri) return fail("wrong_recipient", "requestUri is not the path this query was sent to");
  if (!isValidId(o.senderId)) return fail("malformed_request", "senderId has invalid characters or is too long");
  if (!timestampInWindow(o.timestamp, ctx.now)) return fail("timestamp_out_of_range", "timestamp is not RFC 3339 within 5m of the hub's clock");
  return { ok: true, value: { senderId: o.senderId as string, recipientId: o.recipientId as string, requestUri: o.requestUri as string, timestamp: o.timestamp as string } };
}
