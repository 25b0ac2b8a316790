import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import { decidingPolicies, shadowInPlay } from "../judge/shadow.js";
import { applicablePolicies, type PolicyCache } from "../policies/policy-store.js";
import type { Principal } from "../tenancy/api-keys.js";
import { newRequestId } from "../tenancy/ids.js";
import { argsMatchHash } from "../tokens/canonical-json.js";
import type { MintTokenBody } from "./request-schema.js";
import type { ClearanceRequest } from "./clearance-request.js";
import type { RequestLifecycle } from "./lifecycle.js";
import { getRequest } from "./store/request-store.js";
import { withIdempotency } from "../tenancy/idempotency.js";
import { meetsThreshold, type ReviewSettingsCache } from "./review-settings.js";
import type { TokenIssuer } from "./token-issuer.js";
import { tokenForRequest } from "./store/token-store.js";

/**
 * /mint-token: a fresh token (new request_id, new jti) for an approval the SDK remembered, only while
 * that approval still holds: same tool, arguments and agent, and the same policy versions in force.
 */
export class MintService {
  constructor(
    private readonly deps: {
      policies: PolicyCache;
      reviewSettings: ReviewSettingsCache;
      issuer: TokenIssuer;
      lifecycle: RequestLifecycle;
      clock: Clock;
      maxAgeSeconds: number;
    },
  ) {}

  /**
   * With an Idempotency-Key the stored answer holds no token (no bearer token at rest); the token
   * is re-derived from the issued claims for the first answer and every replay alike.
   */
  async mintOnce(sql: Sql, principal: Principal, body: MintTokenBody, bodyHash: string, idempotencyKey?: string) {
    // The token signed before the mint commits: a key that cannot sign leaves nothing stored (503).
    let signed: { requestId: string; token: string } | undefined;
    const answer = await withIdempotency(sql, "mint-token", idempotencyKey, bodyHash, () =>
      this.mint(principal, sql, body, bodyHash, (requestId, token) => (signed = { requestId, token })),
    );
    if (signed?.requestId === answer.request_id) return { ...answer, token: signed.token };
    const issued = await tokenForRequest(sql, answer.request_id);
    if (!issued) throw new AppError("request_not_found", `No token for ${answer.request_id}`);
    return { ...answer, token: await this.deps.issuer.render(issued) };
  }

  private async mint(principal: Principal, sql: Sql, body: MintTokenBody, bodyHash: string, onSigned: (requestId: string, token: string) => void) {
    const original = await getRequest(sql, body.original_request_id);
    if (!original) throw new AppError("request_not_found", `No clearance request ${body.original_request_id}`);
    await this.assertStillHolds(principal, sql, original, body);
    const now = this.deps.clock.now();
    const row: ClearanceRequest = {
      ...original,
      id: newRequestId(),
      kind: "mint",
      idempotency_key: null,
      body_hash: bodyHash,
      api_key_id: principal.keyId,
      reason: original.reason,
      original_request_id: original.id,
      parent_jti: null,
      created_at: now,
      decided_at: now,
    };
    const token = this.deps.issuer.prepare(row, principal.tenantId);
    const { lifecycle } = this.deps;
    const [ledger, rendered] = await Promise.all([
      lifecycle.mintedEvent(principal.tenantId, row, `Token ${token.jti} minted again for the approval of ${original.id}`),
      this.deps.issuer.render(token),
    ]);
    await lifecycle.commit(sql, row.id, (tx) => lifecycle.insertMinted(tx, row, token, ledger));
    onSigned(row.id, rendered);
    return {
      request_id: row.id,
      token_expires_at: token.expires_at.toISOString(),
      status: "approved",
      decision_status: "approved",
      reason: row.reason,
      original_request_id: original.id,
      policy_version_id: row.policy_version_id,
      policy_content_hash: row.policy_content_hash,
    };
  }

  private async assertStillHolds(principal: Principal, sql: Sql, original: ClearanceRequest, body: MintTokenBody): Promise<void> {
    const refuse = (why: string) => {
      throw new AppError("approval_not_reusable", why);
    };
    if (original.status !== "approved") refuse(`Request ${original.id} is ${original.status}, not approved`);
    // The SDK's decision cache lives in one client: only the key that got the approval may reuse it.
    if (original.api_key_id !== principal.keyId) refuse("Only the API key that received the approval may re-issue it");
    // A human approved one action; only approvals the policies decided on their own may be reused.
    // A grant's approval neither: the re-issue would outlive a revoke of the grant.
    if (original.kind !== "clearance" || original.reason_code === "review_approved" || original.reason_code === "grant_approved") {
      refuse("Only a policy-decided approval can be re-issued; a human-approved request must be requested again");
    }
    // A verified agent (src/agents/) proved its identity with one signature, for that request; a re-issue
    // on the API key alone would carry the identity on unproved, past a revoke of the agent's claim.
    if (original.agent_identity?.verified) refuse("The approval was decided on a verified agent's signature; the agent must request clearance again, signed");
    const ageSeconds = (this.deps.clock.nowMs() - (original.decided_at ?? original.created_at).getTime()) / 1000;
    if (ageSeconds > this.deps.maxAgeSeconds) refuse(`The approval is older than ${this.deps.maxAgeSeconds} s; request clearance again`);
    if (body.tool_name !== original.tool_name) refuse("tool_name differs from the approved request");
    // The SDK sends the caller's original argument keys here, but snake_cased keys to /request-clearance.
    if (!argsMatchHash(body.tool_args, original.tool_args_hash)) refuse("tool_args differ from the approved request");
    if (body.agent_id && body.agent_id !== original.agent_id) refuse("agent_id differs from the approved request");
    if (body.policy_version_id && body.policy_version_id !== original.policy_version_id) {
      refuse("policy_version_id differs from the approved request");
    }
    if (body.policy_content_hash && body.policy_content_hash !== original.policy_content_hash) {
      refuse("policy_content_hash differs from the approved request");
    }
    // A threshold raised since the approval applies to its re-issue too.
    const { minimum_confidence_bucket: minimum } = await this.deps.reviewSettings.get(principal.tenantId, sql);
    if (!meetsThreshold(original.confidence_bucket, minimum)) {
      refuse(`The approval's confidence ${original.confidence_bucket} is below this tenant's current minimum ${minimum}`);
    }
    // The policies that decide now: a policy switched to shadow mode since (or back) changes that too.
    // A shadow mode as the database holds it now (PolicyCache.confirmModes): a policy switched back to
    // enforce in another process must stop the re-issue at once, not after the cache's TTL.
    const cached = await this.deps.policies.snapshot(principal.tenantId, sql);
    const named = original.context.policy_id;
    const view = shadowInPlay(applicablePolicies(cached.policies, original.tool_name, named), cached)
      ? await this.deps.policies.confirmModes(principal.tenantId, sql, cached)
      : cached;
    const current = decidingPolicies(view, original.tool_name, named).enforcing.map((p) => `${p.policyId}@${p.versionId}`);
    const approvedUnder = original.applied_policies.map((p) => `${p.policy_id}@${p.policy_version_id}`);
    if (current.length === 0 || current.sort().join(",") !== approvedUnder.sort().join(",")) {
      refuse("The policies that applied to this approval have changed since; request clearance again");
    }
  }
}
