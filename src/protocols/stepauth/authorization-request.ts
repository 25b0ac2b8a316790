import { isStepAuthCategory } from "./categories.js";
import { fail, type StepAuthCheck, type StepAuthErrorCode } from "./errors.js";
import { newEntryBudget, readEntries, type LabeledEntry } from "./labeled-entries.js";
import { isIndividual, parseNameId } from "./name-id.js";
import { decodeRequest, type RawPrincipal, type RawRequest } from "./request-decode.js";
import { asObject, parseStrictJson } from "./strict-json.js";
import { isHttpsOrLoopbackUrl, isValidId, parseRfc3339, timestampInWindow } from "./wire-rules.js";

/**
 * The AuthorizationRequest an SP sends to a hub (reference §3), and the hub's checks of it in the
 * reference's order. Field order of the types is the order the Go SDK writes.
 */
export type { LabeledEntry } from "./labeled-entries.js";

export interface Principal {
  subject: string;
  attributes?: LabeledEntry[];
  operator?: Principal;
}

export interface Target {
  id: string;
  kind: string;
}

export interface Action {
  type: string;
  category: string;
  name?: string;
  summary: string;
  details?: LabeledEntry[];
  target?: Target;
  approver?: string;
}

export interface AuthorizationRequest {
  requestId: string;
  senderId: string;
  recipientId: string;
  timestamp: string;
  expiresAt: string;
  callbackUrl?: string;
  principal: Principal;
  action: Action;
  policyVersion?: string;
}

export const MAX_REQUEST_PAYLOAD_BYTES = 256 * 1024;
export const MAX_ACTION_NAME_CODE_POINTS = 120;
export const MAX_OPERATOR_DEPTH = 5;
/** Countersign's cap on a request's lifetime ([CHOICE] of the reference §10). */
export const MAX_REQUEST_LIFETIME_MS = 7 * 24 * 60 * 60 * 1000;

/**
 * The payload's `senderId` when it is a string, read before anything is trusted: the hub needs it
 * to find the keysets that verify the envelope. Null for anything else; never throws.
 */
export function peekSenderId(payload: Uint8Array): string | null {
  if (!(payload instanceof Uint8Array) || payload.length > MAX_REQUEST_PAYLOAD_BYTES) return null;
  const parsed = parseStrictJson(payload);
  const o = parsed.ok ? asObject(parsed.value) : null;
  return o && typeof o.senderId === "string" ? o.senderId : null;
}

/**
 * All of the hub's checks of a (signature-verified) request payload, in order: strict JSON, then
 * recipientId (`wrong_recipient`), then the field rules of §3 in the Go SDK's order (required
 * fields, id charsets, name length, category; timestamp window; expiresAt; operator depth; subject
 * and approver; callbackUrl; labeled entries). Unknown members are ignored. `unknown_approver`
 * needs the tenant's directory and is the caller's. Never throws.
 */
export function validateAuthorizationRequest(payload: Uint8Array, ctx: { hubEntity: string; now: Date }): { ok: true; request: AuthorizationRequest } | { ok: false; code: StepAuthErrorCode; message: string } {
  try {
    const checked = check(payload, ctx);
    return checked.ok ? { ok: true, request: checked.value } : checked;
  } catch {
    return fail("malformed_request", "the request could not be read");
  }
}

function check(payload: Uint8Array, ctx: { hubEntity: string; now: Date }): StepAuthCheck<AuthorizationRequest> {
  if (!(payload instanceof Uint8Array) || payload.length > MAX_REQUEST_PAYLOAD_BYTES) return fail("malformed_request", `the payload must be at most ${MAX_REQUEST_PAYLOAD_BYTES} bytes`);
  const parsed = parseStrictJson(payload);
  if (!parsed.ok) return fail("malformed_request", "the payload is not well-formed UTF-8 JSON with unique member names");
  const decoded = decodeRequest(parsed.value);
  if (!decoded.ok) return fail("malformed_request", decoded.message);
  const r = decoded.raw;
  if (r.recipientId !== "" && r.recipientId !== ctx.hubEntity) return fail("wrong_recipient", "recipientId is not this hub's entity");
  const fields = checkFields(r);
  if (fields) return fields;
  const timing = checkTiming(r, ctx.now);
  if (timing) return timing;
  if (!isIndividual(r.principal.subject)) return fail("malformed_request", "principal.subject must be an individual NameID (email: or persistent:)");
  if (r.action.approver !== "" && !parseNameId(r.action.approver)) return fail("malformed_request", "action.approver is not a valid NameID");
  if (r.callbackUrl !== "" && !isHttpsOrLoopbackUrl(r.callbackUrl)) return fail("invalid_callback_url", "callbackUrl must be https, or http to localhost/127.0.0.1");
  const budget = newEntryBudget();
  const principal = readPrincipal(r.principal, budget);
  if (!principal.ok) return principal;
  const details = readEntries(r.action.details, "action.details", budget);
  if (!details.ok) return fail("malformed_request", details.message);
  return { ok: true, value: assemble(r, principal.value, details.entries) };
}

/** Required members, id charsets, name length, target, then the category registry. */
function checkFields(r: RawRequest): StepAuthCheck<never> | null {
  const required: [string, string][] = [
    ["requestId", r.requestId],
    ["senderId", r.senderId],
    ["recipientId", r.recipientId],
    ["timestamp", r.timestamp],
    ["expiresAt", r.expiresAt],
    ["action.type", r.action.type],
    ["action.category", r.action.category],
    ["action.summary", r.action.summary],
    ["principal.subject", r.principal.subject],
  ];
  for (const [name, value] of required) if (value === "") return fail("malformed_request", `missing ${name}`);
  if (!isValidId(r.requestId)) return fail("malformed_request", "requestId has invalid characters or is too long");
  if (!isValidId(r.senderId)) return fail("malformed_request", "senderId has invalid characters or is too long");
  if ([...r.action.name].length > MAX_ACTION_NAME_CODE_POINTS) return fail("malformed_request", `action.name is longer than ${MAX_ACTION_NAME_CODE_POINTS} characters`);
  if (r.action.target && (r.action.target.id === "" || r.action.target.kind === "")) return fail("malformed_request", "action.target must have a non-empty id and kind");
  if (!isStepAuthCategory(r.action.category)) return fail("unknown_category", `unknown action.category: ${r.action.category.slice(0, 100)}`);
  return null;
}

/** The timestamp window, expiresAt (parse, after timestamp, not past, at most 7 days), operator depth. */
function checkTiming(r: RawRequest, now: Date): StepAuthCheck<never> | null {
  if (parseRfc3339(r.timestamp) === null) return fail("timestamp_out_of_range", "timestamp is not RFC 3339");
  if (!timestampInWindow(r.timestamp, now)) return fail("timestamp_out_of_range", "timestamp skew exceeds 5m");
  const issued = parseRfc3339(r.timestamp)!;
  const expires = parseRfc3339(r.expiresAt);
  if (expires === null) return fail("malformed_request", "expiresAt is not RFC 3339");
  if (expires <= issued) return fail("malformed_request", "expiresAt must be after timestamp");
  if (expires <= now.getTime()) return fail("malformed_request", "expiresAt is in the past");
  if (expires - issued > MAX_REQUEST_LIFETIME_MS) return fail("malformed_request", "expiresAt is more than 7 days after timestamp");
  if (r.operatorDepth > MAX_OPERATOR_DEPTH) return fail("operator_depth_exceeded", `operator chain deeper than ${MAX_OPERATOR_DEPTH}`);
  return null;
}

/** The principal chain with its entries read (the depth is already bounded by checkTiming). */
function readPrincipal(raw: RawPrincipal, budget: ReturnType<typeof newEntryBudget>): StepAuthCheck<Principal> {
  const chain: Principal[] = [];
  let where = "principal";
  for (let p: RawPrincipal | null = raw; p; p = p.operator) {
    const attributes = readEntries(p.attributes, `${where}.attributes`, budget);
    if (!attributes.ok) return fail("malformed_request", attributes.message);
    chain.push({ subject: p.subject, ...(attributes.entries ? { attributes: attributes.entries } : {}) });
    where += ".operator";
  }
  for (let i = chain.length - 2; i >= 0; i--) chain[i]!.operator = chain[i + 1]!;
  return { ok: true, value: chain[0]! };
}

function assemble(r: RawRequest, principal: Principal, details: LabeledEntry[] | undefined): AuthorizationRequest {
  const a = r.action;
  const action: Action = { type: a.type, category: a.category, ...(a.name ? { name: a.name } : {}), summary: a.summary };
  if (details) action.details = details;
  if (a.target) action.target = { id: a.target.id, kind: a.target.kind };
  if (a.approver) action.approver = a.approver;
  return {
    requestId: r.requestId,
    senderId: r.senderId,
    recipientId: r.recipientId,
    timestamp: r.timestamp,
    expiresAt: r.expiresAt,
    ...(r.callbackUrl ? { callbackUrl: r.callbackUrl } : {}),
    principal,
    action,
    ...(r.policyVersion !== undefined ? { policyVersion: r.policyVersion } : {}),
  };
}
