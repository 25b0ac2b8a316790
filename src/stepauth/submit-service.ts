import type { Logger } from "pino";
import { ZodError } from "zod";
import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { AppError, isAppError } from "../errors.js";
import { peekSenderId, validateAuthorizationRequest, type AuthorizationRequest } from "../protocols/stepauth/authorization-request.js";
import { requestDigest } from "../protocols/stepauth/decision.js";
import { formatRfc3339, parseRfc3339 } from "../protocols/stepauth/wire-rules.js";
import type { ClearanceService } from "../requests/clearance-service.js";
import type { ReviewSettingsCache } from "../requests/review-settings.js";
import { checkApprover } from "./approver-check.js";
import { defaultCallbackUrl, matchesCallbackPattern, storedPattern } from "./callback-pattern.js";
import { clearanceSubmission, type ClearanceSubmission } from "./clearance-mapping.js";
import { authenticateEnvelope, stepAuthError } from "./envelope-auth.js";
import type { HubKeys } from "./hub-keys.js";
import { deleteUnlinked, getStepAuthRequest, insertStepAuthRequest, linkClearance, type StepAuthRequestRow } from "./request-store.js";
import type { StepAuthSender } from "./sender-store.js";

export interface SubmitAnswer {
  requestId: string;
  status: "pending";
  createdAt: string;
}

export interface SubmitDeps {
  clearance: ClearanceService;
  hubKeys: HubKeys;
  reviewSettings: ReviewSettingsCache;
  control: Sql;
  clock: Clock;
  log: Logger;
  hubEntity: (sql: Sql, tenantId: string) => Promise<string>;
  /** Cancels a linked request (StepAuthQueries.cancelRow): for a request its sender cancelled while it was being linked. */
  cancelRow: (sql: Sql, tenantId: string, row: StepAuthRequestRow) => Promise<unknown>;
}

/**
 * POST /v1/authorization-requests, in the reference's processing order: envelope, sender
 * (unknown_sender), all-of signature (invalid_signature), recipient and field rules, the callback
 * URL against the sender's pattern, the approver against the tenant's directory (unknown_approver),
 * then the replay state per sender (duplicate_request), and only then are the exact payload bytes
 * stored. The stored request then becomes a clearance request (ClearanceService.submit), and the
 * SP is answered 202 pending: the decision comes by callback or poll.
 */
export class StepAuthSubmitter {
  constructor(private readonly deps: SubmitDeps) {}

  async submit(sql: Sql, tenantId: string, body: Uint8Array | undefined, limit: (sender: StepAuthSender) => void): Promise<SubmitAnswer> {
    const { sender, payload } = await authenticateEnvelope(sql, body, peekSenderId, limit);
    const now = this.deps.clock.now();
    const checked = validateAuthorizationRequest(payload, { hubEntity: await this.deps.hubEntity(sql, tenantId), now });
    if (!checked.ok) throw stepAuthError(checked.code, checked.message);
    const req = checked.request;
    const pattern = storedPattern(sender.callback_pattern);
    if (req.callbackUrl && (!pattern || !matchesCallbackPattern(pattern, req.callbackUrl))) {
      throw new AppError("invalid_callback_url", pattern ? "callbackUrl does not match the callback pattern registered for this sender" : "this sender has no callback pattern registered; leave callbackUrl out and poll");
    }
    const settings = await this.deps.reviewSettings.get(tenantId, sql);
    await checkApprover({ control: this.deps.control, tenantId, sql, settings }, req.action.approver);
    const digest = requestDigest(payload);
    const submission = mapped(tenantId, req, digest);
    const stored = await insertStepAuthRequest(sql, {
      senderId: req.senderId,
      requestId: req.requestId,
      payload,
      requestDigest: digest,
      callbackUrl: req.callbackUrl || defaultCallbackUrl(pattern),
      hubKeysetId: (await this.deps.hubKeys.current(sql, tenantId)).keysetId,
      expiresAt: new Date(parseRfc3339(req.expiresAt)!),
      createdAt: now,
    });
    if (!stored) throw new AppError("duplicate_request", `This sender already submitted requestId ${req.requestId.slice(0, 256)}`);
    await this.toClearance(sql, tenantId, req, submission, { refused: "delete" });
    return { requestId: req.requestId, status: "pending", createdAt: formatRfc3339(now) };
  }

  /**
   * The stored request as a clearance request, linked to it. Idempotent (the clearance request's
   * key is derived from sender and requestId), so the link sweeper can run it again after a crash.
   * On the SP's path (`refused: "delete"`) any failure (the queue is full, the database refused)
   * removes the unlinked StepAuth row before the error is answered: an error answer means nothing
   * was accepted, so the SDK's retry of the same bytes is a new submit, not a duplicate_request
   * for a request nobody will ever decide. A clearance request created before the failure is found
   * again by the retry through its idempotency key. A request its sender cancelled while it was
   * unlinked (the cancel only marked it) has its clearance request cancelled once linked.
   */
  async toClearance(sql: Sql, tenantId: string, req: AuthorizationRequest, submission: ClearanceSubmission, opts: { refused: "delete" | "keep" }): Promise<string> {
    const { principal, body, idempotencyKey, options } = submission;
    let clearanceId: string;
    try {
      const reply = await this.deps.clearance.submit(sql, principal, body, body, idempotencyKey, { ...options, noWait: true });
      await linkClearance(sql, req.senderId, req.requestId, reply.body.request_id);
      clearanceId = reply.body.request_id;
    } catch (err) {
      // If even the delete fails (the database is down), the link sweeper finishes the row later.
      if (opts.refused === "delete") await deleteUnlinked(sql, req.senderId, req.requestId).catch(() => {});
      if (isAppError(err) && err.code === "queue_saturated") {
        throw new AppError("overloaded", "The hub's decision queue is full; retry after Retry-After", { retryAfterSeconds: err.extra.retryAfterSeconds ?? 1 });
      }
      throw err;
    }
    const linked = await getStepAuthRequest(sql, req.senderId, req.requestId);
    if (linked?.cancelled_at) await this.deps.cancelRow(sql, tenantId, linked);
    return clearanceId;
  }
}

/** The clearance request a StepAuth request becomes; a value the clearance schema refuses (an action.type over 256 characters) is malformed. */
export function mapped(tenantId: string, req: AuthorizationRequest, digest: string): ClearanceSubmission {
  try {
    return clearanceSubmission(tenantId, req, digest);
  } catch (err) {
    if (err instanceof ZodError) throw new AppError("malformed_request", `the request does not fit a clearance request: ${err.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`);
    throw err;
  }
}
