import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import type { LedgerWriter } from "../ledger/store/ledger-writer.js";
import type { AttemptResult, CallbackDeliverer } from "../outbox/delivery.js";
import type { ClaimedEntry } from "../outbox/outbox-store.js";
import { backoffMs } from "../outbox/outbox-worker.js";
import { postPinned } from "../outbox/pinned-http.js";
import { resolveTarget } from "../outbox/target-guard.js";
import { matchesCallbackPattern, storedPattern } from "./callback-pattern.js";
import type { CallbackRef } from "./callback-kind.js";
import type { DecisionSigner } from "./decision-signer.js";
import { parseExecutionResult, recordExecution } from "./execution-result.js";
import { RETENTION_AFTER_EXPIRY_MS } from "./hub-keys.js";
import { getStepAuthRequest } from "./request-store.js";
import { senderByEntity } from "./sender-store.js";

/** Callbacks retry from 1 s, doubling, up to 1 h between attempts, until expiresAt + 24 h. */
const CALLBACK_BACKOFF = { backoffBaseMs: 1000, backoffMaxMs: 3600_000 };
const USER_AGENT = "countersign-stepauth";
const MAX_ERROR_CHARS = 500;

/**
 * Delivers StepAuth decisions for the outbox (its CallbackDeliverer port). Every attempt: the
 * sender must still be registered and the URL must still match its callback pattern (no match, no
 * delivery), the decision is signed if this is its first reader, the target passes the SSRF guard
 * and is called at exactly the checked address (no redirects, time and size limits), and a 2xx
 * answer that is an ExecutionResult is recorded once, with its ledger event. Failures retry with
 * backoff until the request's expiresAt + 24 h; the decision stays available by poll after that.
 */
export class StepAuthCallbacks implements CallbackDeliverer {
  constructor(
    private readonly deps: {
      tenantSql: (tenantId: string) => Promise<Sql>;
      signer: DecisionSigner;
      ledger: LedgerWriter;
      clock: Clock;
      allowPrivateTargets: boolean;
      timeoutMs: number;
      random?: () => number;
    },
  ) {}

  async deliver(tenantId: string, entry: ClaimedEntry, signal: AbortSignal): Promise<AttemptResult> {
    const sql = await this.deps.tenantSql(tenantId);
    const ref = JSON.parse(entry.payload) as CallbackRef;
    const row = await getStepAuthRequest(sql, ref.sender, ref.request_id);
    if (!row || entry.target === null) return { ok: false, httpStatus: null, error: "the StepAuth request no longer exists", nextAttemptAt: null };
    const deadline = row.expires_at.getTime() + RETENTION_AFTER_EXPIRY_MS;
    const retry = (error: string, httpStatus: number | null = null): AttemptResult => {
      const next = this.deps.clock.nowMs() + backoffMs(entry.attempts, CALLBACK_BACKOFF, this.deps.random ?? Math.random);
      return { ok: false, httpStatus, error: error.slice(0, MAX_ERROR_CHARS), nextAttemptAt: next <= deadline ? new Date(next) : null };
    };
    const sender = await senderByEntity(sql, ref.sender);
    if (!sender || sender.disabled_at !== null) return retry("the sender is removed: no delivery");
    const pattern = storedPattern(sender.callback_pattern);
    if (!pattern || !matchesCallbackPattern(pattern, entry.target)) return retry("the callback URL does not match the sender's registered callback pattern: no delivery");
    const signed = await this.deps.signer.ensure(sql, tenantId, row);
    if (!signed) return retry("the request is not decided");
    let target;
    try {
      target = await resolveTarget(entry.target, { allowPrivate: this.deps.allowPrivateTargets });
    } catch (err) {
      return retry(`target refused: ${(err as Error).message}`);
    }
    let res;
    try {
      const headers = { "content-type": "application/json", "user-agent": USER_AGENT, "x-countersign-delivery": entry.delivery_id };
      res = await postPinned(target, signed.envelope, headers, { timeoutMs: this.deps.timeoutMs, signal });
    } catch (err) {
      if (signal.aborted) throw err;
      return retry(`request failed: ${(err as Error).message}`);
    }
    if (res.status < 200 || res.status >= 300) return retry(`HTTP ${res.status}${res.body ? `: ${res.body.replace(/\s+/g, " ").trim()}` : ""}`, res.status);
    const result = parseExecutionResult(res.body, row.request_id, this.deps.clock.now());
    if (!result) return { ok: true, httpStatus: res.status, error: "delivered; the answer was not an ExecutionResult for this request, so nothing was recorded" };
    await recordExecution(sql, this.deps.ledger, tenantId, row, result);
    return { ok: true, httpStatus: res.status, error: null };
  }
}
