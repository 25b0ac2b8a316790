import { randomBytes } from "@noble/hashes/utils.js";
import { toHex, utf8 } from "../../protocols/encoding.js";
import type { Action, AuthorizationRequest, Principal } from "../../protocols/stepauth/authorization-request.js";
import { validateAuthorizationRequest } from "../../protocols/stepauth/authorization-request.js";
import { STEPAUTH_ERROR_STATUS } from "../../protocols/stepauth/errors.js";
import { parsePublicKeyset, type PublicKeyset } from "../../protocols/stepauth/keyset.js";
import { formatRfc3339 } from "../../protocols/stepauth/wire-rules.js";
import { StepAuthError } from "./errors.js";
import { jsonObject } from "./transport.js";

/** A hub as the SP knows it: its entity and the keysets its decisions are signed with. */
export interface HubIdentity {
  entity: string;
  keysets: readonly PublicKeyset[];
}

/** What the caller gives to submit; the SDK fills requestId, senderId, recipientId and the times. */
export interface SubmitInput {
  requestId?: string;
  timestamp?: Date;
  expiresAt?: Date;
  callbackUrl?: string;
  principal: Principal;
  action: Action;
  policyVersion?: string;
}

export const DEFAULT_EXPIRES_IN_MS = 30 * 60 * 1000;

export function newRequestId(): string {
  return `req_${toHex(randomBytes(16))}`;
}

/**
 * The request payload bytes, exactly as they will be signed: the caller's input with the SDK's
 * defaults, checked with the hub's own rules first (a local error instead of a round trip), then
 * written from the checked request, so the bytes hold the known members in the Go SDK's order.
 */
export function buildRequestBytes(input: SubmitInput, senderId: string, hub: HubIdentity, now: Date): { request: AuthorizationRequest; bytes: Uint8Array } {
  const timestamp = input.timestamp ?? now;
  const expiresAt = input.expiresAt ?? new Date(timestamp.getTime() + DEFAULT_EXPIRES_IN_MS);
  if (!(timestamp instanceof Date) || Number.isNaN(timestamp.getTime()) || !(expiresAt instanceof Date) || Number.isNaN(expiresAt.getTime())) {
    throw new StepAuthError("invalid_input", "timestamp and expiresAt must be valid Dates");
  }
  let draft: string;
  try {
    draft = JSON.stringify({
      requestId: input.requestId ?? newRequestId(),
      senderId,
      recipientId: hub.entity,
      timestamp: formatRfc3339(timestamp),
      expiresAt: formatRfc3339(expiresAt),
      ...(input.callbackUrl ? { callbackUrl: input.callbackUrl } : {}),
      principal: input.principal,
      action: input.action,
      ...(input.policyVersion !== undefined ? { policyVersion: input.policyVersion } : {}),
    });
  } catch (err) {
    throw new StepAuthError("invalid_input", "the request has no JSON form", { cause: err });
  }
  const checked = validateAuthorizationRequest(utf8(draft), { hubEntity: hub.entity, now });
  if (!checked.ok) throw new StepAuthError(checked.code, `the request would be refused: ${checked.message}`, { status: STEPAUTH_ERROR_STATUS[checked.code], retryable: false });
  return { request: checked.request, bytes: utf8(JSON.stringify(checked.request)) };
}

/**
 * A request id as one path segment: everything but unreserved characters percent-encoded. "." and
 * ".." would be read as dot segments by every URL parser (fetch included), so they cannot be polled.
 */
export function pathSegment(requestId: string): string {
  if (requestId === "." || requestId === "..") throw new StepAuthError("invalid_input", `requestId "${requestId}" cannot be named in a URL path`);
  return Array.from(new TextEncoder().encode(requestId), (b) => {
    const c = String.fromCharCode(b);
    return /[A-Za-z0-9_~.-]/.test(c) ? c : `%${b.toString(16).toUpperCase().padStart(2, "0")}`;
  }).join("");
}

/** The hub metadata document (`GET {host}/v1/metadata`), checked: every keyset must parse. */
export function readMetadata(text: string): { entity: string; keysets: PublicKeyset[]; host?: string } {
  const body = jsonObject(text);
  if (!body || typeof body.entity !== "string" || body.entity === "" || !Array.isArray(body.keysets) || body.keysets.length === 0) {
    throw new StepAuthError("invalid_response", "hub metadata must be {entity, keysets: [...], host}");
  }
  const keysets: PublicKeyset[] = [];
  for (const candidate of body.keysets) {
    const parsed = parsePublicKeyset(candidate);
    if (!parsed.ok) throw new StepAuthError("invalid_response", `hub metadata has an unusable keyset: ${parsed.reason}`);
    keysets.push(parsed.keyset);
  }
  return { entity: body.entity, keysets, ...(typeof body.host === "string" ? { host: body.host } : {}) };
}
