import type { Sql } from "../db/sql.js";
import { approvedClaimsOfService, latestClaim, listClaims, type AgentClaim, type ClaimStatus } from "./claim-store.js";

/** The answers of the claim read endpoints, in Sigilum's field names (reference §7). */

const iso = (d: Date | string | null): string | null => (d === null ? null : new Date(d).toISOString());

export type VerifyAnswer = { authorized: true; claim_id: string; approved_at: string } | { authorized: false; reason: string };

const REASONS: Record<Exclude<ClaimStatus, "approved">, string> = { pending: "claim_pending", rejected: "claim_rejected", revoked: "claim_revoked" };

/** GET /v1/verify: authorized only by an approved claim; otherwise why not, from the newest claim. */
export async function verifyClaim(sql: Sql, namespace: string, service: string, publicKey: string): Promise<VerifyAnswer> {
  const claim = await latestClaim(sql, namespace, service, publicKey);
  if (!claim) return { authorized: false, reason: "no_approved_claim" };
  if (claim.status === "approved") return { authorized: true, claim_id: claim.claim_id, approved_at: iso(claim.approved_at)! };
  return { authorized: false, reason: REASONS[claim.status] };
}

/** GET /v1/namespaces/claims: one page of a service's approved claims. */
export async function approvedClaimsPage(sql: Sql, service: string, page: { limit: number; offset: number }) {
  const { claims, total } = await approvedClaimsOfService(sql, service, page);
  return {
    claims: claims.map((c) => ({
      claim_id: c.claim_id,
      namespace: c.namespace,
      public_key: c.public_key,
      service: c.service,
      subject: c.subject,
      agent_id: c.agent_id,
      agent_name: c.agent_name,
      approved_at: iso(c.approved_at),
    })),
    pagination: { limit: page.limit, offset: page.offset, total, has_more: page.offset + claims.length < total },
  };
}

/** A claim as the console and the claim actions show it. */
export function claimView(c: AgentClaim) {
  return {
    claim_id: c.claim_id,
    namespace: c.namespace,
    service: c.service,
    public_key: c.public_key,
    status: c.status,
    subject: c.subject,
    agent_id: c.agent_id,
    agent_name: c.agent_name,
    agent_ip: c.agent_ip,
    request_id: c.request_id,
    reason: c.reason,
    created_at: iso(c.created_at),
    approved_at: iso(c.approved_at),
    decided_at: iso(c.decided_at),
    revoked_at: iso(c.revoked_at),
  };
}

/** GET /agent-claims: the console's listing, newest first. */
export async function consoleClaims(sql: Sql, filter: { status?: ClaimStatus; limit: number }) {
  return { claims: (await listClaims(sql, filter)).map(claimView) };
}
