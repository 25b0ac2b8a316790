import type { Sql } from "../db/sql.js";
import type { Outbox } from "../outbox/outbox.js";
import type { ClearanceRequest } from "../requests/clearance-request.js";
import type { RequestKindHandler } from "../requests/request-kinds.js";
import { callbackUrlOf } from "./request-store.js";

/** What a callback outbox row names: the StepAuth request whose decision it delivers. */
export interface CallbackRef {
  sender: string;
  request_id: string;
}

/** The StepAuth request a clearance request of kind `stepauth` stands for (set by clearance-mapping.ts). */
export function stepAuthRefOf(request: Pick<ClearanceRequest, "context">): CallbackRef | null {
  const s = (request.context as { stepauth?: { sender?: unknown; request_id?: unknown } }).stepauth;
  return s && typeof s.sender === "string" && typeof s.request_id === "string" ? { sender: s.sender, request_id: s.request_id } : null;
}

/**
 * The lifecycle's hook for requests of kind `stepauth` (requests/request-kinds.ts): in the very
 * transaction that decides the request (judge, review, expiry or cancel), a `callback` outbox row is
 * written when the request has a callback URL, so a decided request never lacks its delivery. The
 * decision itself is signed later, outside any transaction, by the first attempt (or poll).
 */
export class StepAuthKindHandler implements RequestKindHandler {
  constructor(private readonly outbox: Pick<Outbox, "callback">) {}

  async decided(tx: Sql, _tenantId: string, request: ClearanceRequest): Promise<void> {
    const ref = stepAuthRefOf(request);
    if (!ref) return;
    // Read through the deciding transaction (the row was committed before the clearance submit).
    const url = await callbackUrlOf(tx, ref.sender, ref.request_id);
    if (!url) return;
    await this.outbox.callback(tx, { requestId: request.id, eventType: "stepauth.decision", url, payload: JSON.stringify(ref) });
  }
}
