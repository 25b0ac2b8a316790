import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import { peekSender, validateCancel, validatePoll } from "../protocols/stepauth/queries.js";
import { isValidId } from "../protocols/stepauth/wire-rules.js";
import type { RequestLifecycle } from "../requests/lifecycle.js";
import { lockRequest } from "../requests/store/request-store.js";
import type { DecisionSigner } from "./decision-signer.js";
import { authenticateEnvelope, stepAuthError } from "./envelope-auth.js";
import { getStepAuthRequest, markCancelled, markUnlinkedCancelled, type StepAuthRequestRow } from "./request-store.js";
import type { StepAuthSender } from "./sender-store.js";

export type PollAnswer = { status: 200; envelope: string } | { status: 202; body: { requestId: string; status: "pending" } };

/**
 * Poll (POST /v1/authorization-requests/{requestId}/decision) and cancel (POST
 * /v1/authorization-requests/cancel). Both are signed envelopes from the sender; a sender sees only
 * its own requests (another sender's requestId is simply not found).
 */
export class StepAuthQueries {
  constructor(
    private readonly deps: {
      signer: DecisionSigner;
      lifecycle: RequestLifecycle;
      clock: Clock;
      hubEntity: (sql: Sql, tenantId: string) => Promise<string>;
    },
  ) {}

  /** 200 with the signed decision (signed now if this is its first reader), 202 while undecided. */
  async poll(sql: Sql, tenantId: string, requestId: string, body: Uint8Array | undefined, requestUri: string, limit: (s: StepAuthSender) => void): Promise<PollAnswer> {
    const { sender, payload } = await authenticateEnvelope(sql, body, peekSender, limit);
    const checked = validatePoll(payload, { hubEntity: await this.deps.hubEntity(sql, tenantId), requestUri, now: this.deps.clock.now() });
    if (!checked.ok) throw stepAuthError(checked.code, checked.message);
    const row = await this.owned(sql, sender, requestId);
    const signed = await this.deps.signer.ensure(sql, tenantId, row);
    return signed ? { status: 200, envelope: signed.envelope } : { status: 202, body: { requestId, status: "pending" } };
  }

  /** 200 cancelled: the clearance request is cancelled through the lifecycle (signed denied); 409 when already decided. */
  async cancel(sql: Sql, tenantId: string, body: Uint8Array | undefined, limit: (s: StepAuthSender) => void): Promise<{ requestId: string; status: "cancelled" }> {
    const { sender, payload } = await authenticateEnvelope(sql, body, peekSender, limit);
    const checked = validateCancel(payload, { now: this.deps.clock.now() });
    if (!checked.ok) throw stepAuthError(checked.code, checked.message);
    const row = await this.owned(sql, sender, checked.value.requestId);
    if (row.decision_payload !== null) throw alreadyDecided(row);
    const outcome = await this.cancelRow(sql, tenantId, row);
    if (outcome === "decided") throw alreadyDecided(row);
    if (outcome === "not_found") throw notFound();
    return { requestId: row.request_id, status: "cancelled" };
  }

  /**
   * Cancels the request's clearance request, if it is not decided yet, and marks the StepAuth row in
   * the same transaction. A row still unlinked (its submit has not completed) is only marked, and
   * only if it is still unlinked when marked: `row` may have been read just before the submit
   * linked it, and the request since decided and signed. Otherwise it is cancelled as linked. The
   * submit (or the link sweeper) cancels the clearance request of a marked row once it exists.
   */
  async cancelRow(sql: Sql, tenantId: string, row: StepAuthRequestRow): Promise<"cancelled" | "decided" | "not_found"> {
    const { lifecycle, clock } = this.deps;
    const clearanceId = row.clearance_request_id;
    if (clearanceId === null) {
      if (await markUnlinkedCancelled(sql, row.sender_id, row.request_id, clock.now())) return "cancelled";
      const linked = await getStepAuthRequest(sql, row.sender_id, row.request_id);
      // Gone: its submit failed and removed it (the SP was answered an error, nothing was accepted).
      if (!linked) return "not_found";
      return linked.clearance_request_id ? this.cancelRow(sql, tenantId, linked) : "decided";
    }
    return lifecycle.commit(sql, clearanceId, async (tx) => {
      const request = await lockRequest(tx, clearanceId);
      if (!request || (request.status !== "processing" && request.status !== "pending_review")) return "decided";
      // Marked first: the kind handler, run by the transition, then sees a cancelled request.
      await markCancelled(tx, row.sender_id, row.request_id, clock.now());
      const done = await lifecycle.finish(tx, tenantId, request, "cancel", {
        reason: "Cancelled by the StepAuth sender",
        ledgerReason: `Cancelled by StepAuth sender ${row.sender_id}`,
        webhookExtra: { stepauth_sender: row.sender_id },
      });
      return done ? "cancelled" : "decided";
    });
  }

  private async owned(sql: Sql, sender: StepAuthSender, requestId: string): Promise<StepAuthRequestRow> {
    // An id no submit could have stored (the poll's comes from the path: a NUL there is the database's refusal) is not found, unlooked-up.
    if (!isValidId(requestId)) throw notFound();
    const row = await getStepAuthRequest(sql, sender.entity, requestId);
    if (!row) throw notFound();
    return row;
  }
}

const notFound = () => new AppError("request_not_found", "This sender has no request with this requestId");

function alreadyDecided(row: StepAuthRequestRow): AppError {
  return new AppError("already_decided", `Request ${row.request_id.slice(0, 256)} is already decided; poll for its decision`);
}
