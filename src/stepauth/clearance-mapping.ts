import { sha256, toHex, utf8 } from "../protocols/encoding.js";
import type { AuthorizationRequest } from "../protocols/stepauth/authorization-request.js";
import { flattenEntries, flattenPrincipal } from "../protocols/stepauth/flatten.js";
import { parseNameId } from "../protocols/stepauth/name-id.js";
import type { SubmitOptions } from "../requests/clearance-service.js";
import { clearanceRequestSchema, type ClearanceRequestBody } from "../requests/request-schema.js";
import type { Principal } from "../tenancy/api-keys.js";

/**
 * A StepAuth request as a clearance request: one decision pipeline (conditions, retrieval, the LLM,
 * human review) for both. Conditions read the request with the reference's flattening (labels
 * dropped): `tool` is action.type, `args` the flattened action.details, and `context` holds the
 * StepAuth fields (`context.stepauth.category`, `.summary`, ...), the flattened principal chain
 * (`context.principal.attributes.x`, `context.principal.operator.subject`) and the target.
 */
export interface ClearanceSubmission {
  principal: Principal;
  body: ClearanceRequestBody;
  idempotencyKey: string;
  options: SubmitOptions;
}

/** The submitting principal: no API key, the sender itself (`stepauth:<entity>`), agent scope. */
export function senderPrincipal(tenantId: string, senderEntity: string): Principal {
  return { tenantId, keyId: `stepauth:${senderEntity}`, scope: "agent" };
}

/**
 * The idempotency key of a StepAuth request's clearance request. It has a space, which an HTTP
 * Idempotency-Key (visible ASCII) cannot, so no agent can take or replay it.
 */
export function stepAuthIdempotencyKey(senderEntity: string, requestId: string): string {
  return `stepauth ${toHex(sha256(utf8(`${senderEntity}\n${requestId}`)))}`;
}

export function clearanceSubmission(tenantId: string, req: AuthorizationRequest, digest: string): ClearanceSubmission {
  const { action, principal } = req;
  const approver = action.approver ?? null;
  const subject = parseNameId(principal.subject);
  const context: Record<string, unknown> = {
    stepauth: {
      sender: req.senderId,
      request_id: req.requestId,
      category: action.category,
      name: action.name ?? null,
      summary: action.summary,
      approver,
      policy_version: req.policyVersion ?? null,
      request_digest: digest,
      expires_at: req.expiresAt,
    },
    principal: flattenPrincipal(principal),
    target: action.target ? { id: action.target.id, kind: action.target.kind } : null,
  };
  // A policy approver names the deciding policy: the judge applies it alone (if it covers the tool).
  const named = parseNameId(approver);
  if (named?.type === "policy") context.policy_id = named.value;
  const body: ClearanceRequestBody = clearanceRequestSchema.parse({
    tool_name: action.type,
    tool_args: flattenEntries(action.details),
    agent_id: req.senderId,
    session_id: "",
    context,
    // The person, as reviewers are named (an email or an IdP id), so the principal cannot approve their own action.
    human_principal: subject ? subject.value : principal.subject,
  });
  return {
    principal: senderPrincipal(tenantId, req.senderId),
    body,
    idempotencyKey: stepAuthIdempotencyKey(req.senderId, req.requestId),
    options: { kind: "stepauth", extras: { ...(approver ? { approver } : {}), review_deadline: new Date(req.expiresAt).toISOString() } },
  };
}
