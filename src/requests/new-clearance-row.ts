import type { JudgeInput } from "../judge/judge.js";
import type { Principal } from "../tenancy/api-keys.js";
import { newRequestId } from "../tenancy/ids.js";
import { toolArgsHash } from "../tokens/canonical-json.js";
import { extraFieldNames, type ClearanceRequestBody } from "./request-schema.js";
import { DEFAULT_MINIMUM_BUCKET } from "./review-settings.js";
import type { NewClearanceRequest } from "./store/request-store.js";

/** A new clearance request as it is stored on arrival: `processing`, nothing decided yet. */
export function newClearanceRow(
  principal: Principal,
  body: ClearanceRequestBody,
  at: { bodyHash: string; idempotencyKey?: string; now: Date },
): NewClearanceRequest {
  const { bodyHash, idempotencyKey } = at;
  const extras: Record<string, unknown> = {};
  for (const name of extraFieldNames) if (body[name] !== undefined) extras[name] = body[name];
  return {
    id: newRequestId(),
    kind: "clearance",
    idempotency_key: idempotencyKey ?? null,
    body_hash: bodyHash,
    api_key_id: principal.keyId,
    tool_name: body.tool_name,
    tool_args: body.tool_args,
    tool_args_hash: toolArgsHash(body.tool_args),
    agent_id: body.agent_id,
    session_id: body.session_id,
    human_principal: body.human_principal ?? null,
    parent_jti: body.parent_jti ?? null,
    context: body.context,
    extras,
    status: "processing",
    decision_status: null,
    reason: "",
    reason_code: null,
    confidence_bucket: "none",
    policy_id: null,
    policy_version_id: null,
    policy_content_hash: null,
    applied_policies: [],
    matched_condition_ids: [],
    minimum_confidence_bucket: DEFAULT_MINIMUM_BUCKET,
    citations: [],
    evidence_chunks: [],
    judge_trace: {},
    review_rules: null,
    expires_at: null,
    original_request_id: null,
    // Set only when the request was signed by an agent whose key holds an approved claim (src/agents/).
    agent_identity: principal.agent ?? null,
    created_at: at.now,
    decided_at: null,
  };
}

/** What the judge is asked about a request. */
export function judgeInput(tenantId: string, row: NewClearanceRequest): JudgeInput {
  return {
    tenantId,
    requestId: row.id,
    tool: row.tool_name,
    args: row.tool_args,
    context: row.context,
    agentId: row.agent_id,
    sessionId: row.session_id,
    humanPrincipal: row.human_principal,
    agent: row.agent_identity ?? null,
  };
}
