import type { Sql } from "../db/sql.js";
import type { LedgerWriter } from "../ledger/store/ledger-writer.js";
import { fromUtf8Strict, sha256, toHex } from "../protocols/encoding.js";
import { encodeDecision, type Decision } from "../protocols/stepauth/decision.js";
import { encodeEnvelope, signEnvelope } from "../protocols/stepauth/envelope.js";
import { formatRfc3339 } from "../protocols/stepauth/wire-rules.js";
import { getRequest } from "../requests/store/request-store.js";
import { decisionTerms, type DecisionTerms } from "./decision-terms.js";
import type { HubKeys } from "./hub-keys.js";
import { getStepAuthRequest, storeDecision, type StepAuthRequestRow } from "./request-store.js";

export interface SignedDecision {
  envelope: string;
  payload: Uint8Array;
}

/**
 * Signs a StepAuth decision the first time it is needed (a callback attempt or a poll), outside any
 * transaction (ML-DSA-65 costs milliseconds), with the hub keyset recorded at submit. The signed
 * decision is stored once, with its `stepauth.decision` ledger event, by a conditional UPDATE:
 * two processes signing at once both succeed in signing, one stores, and the other answers what
 * was stored, so every reader sees the same bytes.
 */
export class DecisionSigner {
  constructor(private readonly deps: { hubKeys: HubKeys; ledger: LedgerWriter }) {}

  /** The request's signed decision; undefined while its clearance request is undecided. */
  async ensure(sql: Sql, tenantId: string, row: StepAuthRequestRow): Promise<SignedDecision | undefined> {
    if (row.decision_envelope !== null && row.decision_payload !== null) return { envelope: row.decision_envelope, payload: row.decision_payload };
    if (row.clearance_request_id === null) return undefined;
    const request = await getRequest(sql, row.clearance_request_id);
    const terms = request && (await decisionTerms(sql, row, request));
    if (!request || !terms) return undefined;
    const decision = decisionOf(row, terms);
    const payload = encodeDecision(decision);
    const keyset = await this.deps.hubKeys.privateKeyset(sql, tenantId, row.hub_keyset_id);
    const envelope = encodeEnvelope(signEnvelope(payload, keyset));
    const chunk = decisionEvidence(row, decision, payload);
    const reason = `StepAuth decision ${decision.decision} for ${row.sender_id} request ${row.request_id} (${terms.why}), signed with hub keyset ${row.hub_keyset_id}`;
    const ledger = await this.deps.ledger.prepare(
      { ...request, decision_status: decision.decision, evidence_chunks: [chunk] },
      "stepauth.decision",
      reason,
      tenantId,
    );
    const key = { senderId: row.sender_id, requestId: row.request_id };
    if (await storeDecision(sql, key, { payload, envelope, keysetId: row.hub_keyset_id }, ledger)) return { envelope, payload };
    const stored = await getStepAuthRequest(sql, row.sender_id, row.request_id);
    return stored?.decision_envelope && stored.decision_payload ? { envelope: stored.decision_envelope, payload: stored.decision_payload } : undefined;
  }
}

/** The hub is the decision's sender: the recipientId the request was addressed to when it arrived. */
function decisionOf(row: StepAuthRequestRow, terms: DecisionTerms): Decision {
  const text = fromUtf8Strict(row.payload);
  const recipientId = text === null ? "" : String((JSON.parse(text) as { recipientId?: unknown }).recipientId ?? "");
  return {
    requestId: row.request_id,
    senderId: recipientId,
    recipientId: row.sender_id,
    decision: terms.decision,
    decidedAt: formatRfc3339(terms.decidedAt),
    decidedBy: terms.decidedBy,
    requestDigest: { algorithm: "sha256", value: row.request_digest },
  };
}

/**
 * The evidence chunk the `stepauth.decision` event hashes. One lowercase word per key, like the
 * execution report's (requests/execution-event.ts): the ledgix-ts SDK camelCases keys before
 * hashing, and a key it would rename makes the event unverifiable for SDK users.
 */
function decisionEvidence(row: StepAuthRequestRow, d: Decision, payload: Uint8Array): Record<string, unknown> {
  return {
    type: "stepauth_decision",
    sender: row.sender_id,
    request: row.request_id,
    digest: row.request_digest,
    decision: d.decision,
    deciders: d.decidedBy,
    at: d.decidedAt,
    payload: toHex(sha256(payload)),
    keyset: row.hub_keyset_id,
  };
}
