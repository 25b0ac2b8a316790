import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import { approveClaimWithinLimits, claimCounts, type AgentClaim } from "./claim-store.js";

/** Sigilum's limits (reference §7); the pending limit is Countersign's choice (Sigilum makes it a setting). */
export const MAX_APPROVED_AGENTS_PER_SERVICE = 10;
export const MAX_SERVICES_PER_NAMESPACE = 10;
export const MAX_PENDING_CLAIMS_PER_NAMESPACE = 20;

type Counts = { approvedForService: number; connectedServices: number; pending: number };

/** Sigilum's submission limits, in its order: services per namespace, agents per service, pending claims. */
export function submissionRefusal(c: Counts): { reason: string; message: string } | null {
  if (c.approvedForService === 0 && c.connectedServices >= MAX_SERVICES_PER_NAMESPACE) {
    return { reason: "service_limit_reached", message: `Auto-rejected: a namespace may connect to at most ${MAX_SERVICES_PER_NAMESPACE} services (${c.connectedServices} connected).` };
  }
  if (c.approvedForService >= MAX_APPROVED_AGENTS_PER_SERVICE) {
    return { reason: "agent_limit_reached", message: `Auto-rejected: at most ${MAX_APPROVED_AGENTS_PER_SERVICE} agents per service (${c.approvedForService} approved).` };
  }
  if (c.pending >= MAX_PENDING_CLAIMS_PER_NAMESPACE) {
    return { reason: "max_pending_reached", message: `Auto-rejected: the namespace has ${MAX_PENDING_CLAIMS_PER_NAMESPACE} pending requests. Existing requests must be reviewed first.` };
  }
  return null;
}

/**
 * Approves the pending `claim` as its review request is approved, or throws when that would pass a
 * limit. Called in the transaction that approves the request, whatever the path (/v1/claims/{id}/approve,
 * /reviews/{id}/decision, the console, the CLI): the one place the rule is kept. The check and the
 * update are one statement (approveClaimWithinLimits); the per-namespace lock orders approvals of
 * concurrent transactions, so the later one counts the earlier one's claim.
 */
export async function approveWithinLimits(tx: Sql, claim: AgentClaim, outcome: { at: Date; reason: string }): Promise<AgentClaim> {
  await tx.query("SELECT pg_advisory_xact_lock(hashtext($1))", [`agent_claims ${claim.namespace}`]);
  const limits = { agentsPerService: MAX_APPROVED_AGENTS_PER_SERVICE, servicesPerNamespace: MAX_SERVICES_PER_NAMESPACE };
  const approved = await approveClaimWithinLimits(tx, claim.request_id!, outcome, limits);
  if (approved) return approved;
  const counts = await claimCounts(tx, claim.namespace, claim.service);
  if (counts.approvedForService === 0) {
    throw new AppError("SERVICE_LIMIT_REACHED", `Service limit reached: at most ${MAX_SERVICES_PER_NAMESPACE} services per namespace, ${counts.connectedServices} connected`);
  }
  throw new AppError("AGENT_LIMIT_REACHED", `Agent limit reached: at most ${MAX_APPROVED_AGENTS_PER_SERVICE} agents per service, ${counts.approvedForService} approved`);
}
