import type { Clock } from "../clock.js";
import type { TenantKeys } from "../tenancy/tenant-keys.js";
import type { EmailContent } from "./email-message.js";
import type { Mailer } from "./mailer.js";
import type { ClaimedEntry } from "./outbox-store.js";
import { postPinned } from "./pinned-http.js";
import { endpointBinding, openSecret, outboxTargetBinding } from "./secret-box.js";
import { resolveTarget } from "./target-guard.js";
import { ledgixSignature, timestampedSignature } from "./webhook-signature.js";

export interface AttemptResult {
  ok: boolean;
  httpStatus: number | null;
  error: string | null;
  /**
   * A failed attempt's own schedule, when its deliverer keeps one (StepAuth callbacks retry until
   * the request's expiresAt + 24 h): the next attempt's time, or null to give up now. Absent: the
   * worker's backoff and VAULT_OUTBOX_MAX_ATTEMPTS.
   */
  nextAttemptAt?: Date | null;
}

/**
 * The port through which the outbox delivers `callback` entries: the layer that owns what they
 * carry (src/stepauth/) builds and sends the body, checks the target, and reads the answer. Called
 * for every attempt; throws only DeliveryAbortedError (worker stopping).
 */
export interface CallbackDeliverer {
  deliver(tenantId: string, entry: ClaimedEntry, signal: AbortSignal): Promise<AttemptResult>;
}

export interface DeliveryDeps {
  clock: Clock;
  allowPrivateTargets: boolean;
  /** Opens the sealed signing secrets and Slack URLs: the tenant's webhook keys, then the vault's. */
  tenantKeys: TenantKeys;
  /** Whole-exchange deadline per attempt (10 s). */
  timeoutMs: number;
  /** Absent when SMTP_HOST is not set: email entries then fail and, in the end, go dead (visible). */
  mailer?: Mailer;
  /** Delivers `callback` entries (StepAuth decisions); absent: they fail and, in the end, go dead. */
  callbacks?: CallbackDeliverer;
}

const USER_AGENT = "countersign-webhooks";
const MAX_ERROR_CHARS = 500;

const failure = (error: string, httpStatus: number | null = null): AttemptResult => ({ ok: false, httpStatus, error: error.slice(0, MAX_ERROR_CHARS) });

/** One attempt at one outbox entry of the tenant. Throws only DeliveryAbortedError (worker stopping). */
export async function deliver(tenantId: string, entry: ClaimedEntry, deps: DeliveryDeps, signal: AbortSignal): Promise<AttemptResult> {
  const openKeys = deps.tenantKeys.sealingKeysFor(tenantId, "webhook").open;
  if (entry.kind === "webhook") return deliverWebhook(entry, openKeys, deps, signal);
  if (entry.kind === "slack") return deliverSlack(entry, openKeys, deps, signal);
  if (entry.kind === "callback") return deps.callbacks ? deps.callbacks.deliver(tenantId, entry, signal) : failure("callbacks are not delivered by this process");
  return deliverEmail(entry, deps);
}

async function deliverWebhook(entry: ClaimedEntry, openKeys: readonly Buffer[], deps: DeliveryDeps, signal: AbortSignal): Promise<AttemptResult> {
  if (entry.endpoint_url === null || entry.endpoint_secret === null) return failure("the webhook endpoint no longer exists");
  if (entry.endpoint_enabled === false) return failure("the webhook endpoint is disabled");
  const secret = openSecret(entry.endpoint_secret, endpointBinding(entry.endpoint_id!), openKeys);
  if (entry.endpoint_format === "sigilum") return post(entry.endpoint_url, entry.payload, sigilumHeaders(entry, secret), deps, signal);
  const t = Math.floor(deps.clock.nowMs() / 1000);
  const headers = {
    "content-type": "application/json",
    "user-agent": USER_AGENT,
    "x-ledgix-signature": ledgixSignature(secret, entry.payload),
    "x-countersign-signature": timestampedSignature(secret, t, entry.payload),
    "x-countersign-delivery": entry.delivery_id,
    "x-countersign-event": entry.event_type,
  };
  return post(entry.endpoint_url, entry.payload, headers, deps, signal);
}

/**
 * Sigilum's headers (reference §8): X-Sigilum-Signature is `sha256=<hex HMAC-SHA256(secret, raw body)>`,
 * the same construction as X-Ledgix-Signature; X-Countersign-Delivery stays the dedup key for retries.
 */
function sigilumHeaders(entry: ClaimedEntry, secret: string): Record<string, string> {
  return {
    "content-type": "application/json",
    "user-agent": USER_AGENT,
    "x-sigilum-event": entry.event_type,
    "x-sigilum-webhook-id": entry.endpoint_id!,
    "x-sigilum-signature": ledgixSignature(secret, entry.payload),
    "x-countersign-delivery": entry.delivery_id,
  };
}

async function deliverSlack(entry: ClaimedEntry, openKeys: readonly Buffer[], deps: DeliveryDeps, signal: AbortSignal): Promise<AttemptResult> {
  const url = openSecret(entry.target!, outboxTargetBinding(entry.delivery_id), openKeys);
  const headers = { "content-type": "application/json", "user-agent": USER_AGENT, "x-countersign-delivery": entry.delivery_id };
  return post(url, entry.payload, headers, deps, signal);
}

/** The target is checked (and pinned) on every attempt: a name may resolve elsewhere than at registration. */
async function post(url: string, body: string, headers: Record<string, string>, deps: DeliveryDeps, signal: AbortSignal): Promise<AttemptResult> {
  let target;
  try {
    target = await resolveTarget(url, { allowPrivate: deps.allowPrivateTargets });
  } catch (err) {
    return failure(`target refused: ${(err as Error).message}`);
  }
  try {
    const res = await postPinned(target, body, headers, { timeoutMs: deps.timeoutMs, signal });
    if (res.status >= 200 && res.status < 300) return { ok: true, httpStatus: res.status, error: null };
    return failure(`HTTP ${res.status}${res.body ? `: ${res.body.replace(/\s+/g, " ").trim()}` : ""}`, res.status);
  } catch (err) {
    if (signal.aborted) throw err;
    return failure(`request failed: ${(err as Error).message}`);
  }
}

async function deliverEmail(entry: ClaimedEntry, deps: DeliveryDeps): Promise<AttemptResult> {
  if (!deps.mailer) return failure("email is not configured on this vault (SMTP_HOST is not set)");
  const recipients = JSON.parse(entry.target!) as string[];
  const content = JSON.parse(entry.payload) as EmailContent;
  try {
    const { rejected } = await deps.mailer.send(entry.delivery_id, recipients, content);
    // Delivered to the others; retrying would send them a second copy. The refusal stays on record.
    return { ok: true, httpStatus: null, error: rejected.length > 0 ? `refused by the SMTP server: ${rejected.join(", ")}` : null };
  } catch (err) {
    return failure(`SMTP: ${(err as Error).message}`);
  }
}
