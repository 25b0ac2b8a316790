import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { newId } from "../tenancy/ids.js";
import type { TenantKeys } from "../tenancy/tenant-keys.js";
import { readChannels } from "./channel-store.js";
import { emailMessage } from "./email-message.js";
import { enabledSubscriptions, type EndpointSubscription, type WebhookFormat } from "./endpoint-store.js";
import {
  requestData,
  sigilumWebhookBody,
  webhookBody,
  type SigilumEventType,
  type NotificationKind,
  type OutboxRequest,
  type ReviewProgress,
  type WebhookEventType,
} from "./events.js";
import { insertEntry } from "./outbox-store.js";
import { modeChangeRoutes, modeEmailMessage, modeSlackMessage, type ModeChangeNotice } from "./mode-notice.js";
import { reviewNotice } from "./review-notice.js";
import { channelBinding, openSecret, outboxTargetBinding, sealSecret } from "./secret-box.js";
import { slackMessage } from "./slack-message.js";

export type { NotificationKind, OutboxRequest, ReviewProgress, WebhookEventType } from "./events.js";

/** A tenant's routes, opened: Slack URLs in clear (held in memory only, never logged). */
interface OpenChannel {
  kind: "slack" | "email";
  policyId: string | null;
  slackUrl: string | null;
  recipients: string[] | null;
  notify: NotificationKind[];
}

interface TenantTargets {
  endpoints: EndpointSubscription[];
  channels: OpenChannel[];
}

export const DEFAULT_TARGET_CACHE_TTL_MS = 5000;

/**
 * Writes deliveries into the tenant's outbox, inside the caller's transaction: the row commits with
 * the change it reports or not at all. Delivery happens later, in OutboxWorker. Who is subscribed is
 * cached per tenant for a short TTL (invalidated in this process when endpoints or channels change;
 * other processes see a change within the TTL), so a tenant without endpoints costs no query.
 */
export class Outbox {
  private readonly cache = new Map<string, { until: number; value: TenantTargets }>();
  private readonly generations = new Map<string, number>();

  constructor(
    private readonly deps: {
      clock: Clock;
      /** The tenant's pool, for wantsWebhooks (called outside any transaction). */
      tenantSql: (tenantId: string) => Promise<Sql>;
      /**
       * Seals Slack URLs copied into outbox rows and opens the channels' (the tenant's webhook key,
       * else VAULT_TRANSPORT_KEY_BASE64); without any key they are stored as given.
       */
      tenantKeys: TenantKeys;
      cacheTtlMs?: number;
    },
  ) {}

  /**
   * Whether the tenant has any enabled webhook endpoint (cached, and loads the cache when cold).
   * The decision path no longer asks (its events are written inside its group-committed batch,
   * where a cached empty list costs no query). Must not be called inside a transaction of the same
   * tenant: on PGlite (one session) the pool query would wait for that transaction.
   */
  async wantsWebhooks(tenantId: string): Promise<boolean> {
    const hit = this.cached(tenantId);
    if (hit) return hit.endpoints.length > 0;
    return (await this.targetsOf(await this.deps.tenantSql(tenantId), tenantId)).endpoints.length > 0;
  }

  /** Writes webhook deliveries for every endpoint of the tenant subscribed to `type`. */
  async webhookEvent(tx: Sql, tenantId: string, type: WebhookEventType, request: OutboxRequest, extra: Record<string, unknown> = {}): Promise<void> {
    const { endpoints } = await this.targetsOf(tx, tenantId);
    const subscribed = endpoints.filter((e) => e.format === "countersign" && (e.events.length === 0 || e.events.includes(type)));
    if (subscribed.length === 0) return;
    const createdAt = this.deps.clock.now();
    const data = { ...requestData(request), extra };
    for (const endpoint of subscribed) {
      const deliveryId = newId("dlv");
      await insertEntry(tx, {
        kind: "webhook",
        deliveryId,
        eventType: type,
        requestId: request.id,
        endpointId: endpoint.id,
        target: null,
        payload: webhookBody(deliveryId, type, createdAt, data),
        createdAt,
      });
    }
  }

  /**
   * An event about no request (a grant revoked, a policy's mode changed) for every countersign
   * endpoint subscribed to it: `data` is the event's own object instead of a request's fields.
   */
  async tenantEvent(tx: Sql, tenantId: string, type: WebhookEventType, data: Record<string, unknown>): Promise<void> {
    const { endpoints } = await this.targetsOf(tx, tenantId);
    const subscribed = endpoints.filter((e) => e.format === "countersign" && (e.events.length === 0 || e.events.includes(type)));
    if (subscribed.length === 0) return;
    const createdAt = this.deps.clock.now();
    for (const endpoint of subscribed) {
      const deliveryId = newId("dlv");
      const payload = webhookBody(deliveryId, type, createdAt, data);
      await insertEntry(tx, { kind: "webhook", deliveryId, eventType: type, requestId: null, endpointId: endpoint.id, target: null, payload, createdAt });
    }
  }

  /**
   * An agent-claim event (src/agents/) for every `sigilum` endpoint subscribed to it, in Sigilum's
   * body; `requestId` is the claim's review request, when it has one.
   */
  async sigilumEvent(tx: Sql, tenantId: string, event: SigilumEventType, requestId: string | null, data: Record<string, unknown>): Promise<void> {
    const { endpoints } = await this.targetsOf(tx, tenantId);
    const subscribed = endpoints.filter((e) => e.format === "sigilum" && (e.events.length === 0 || e.events.includes(event)));
    if (subscribed.length === 0) return;
    const createdAt = this.deps.clock.now();
    const payload = sigilumWebhookBody(event, createdAt, data);
    for (const endpoint of subscribed) {
      await insertEntry(tx, { kind: "webhook", deliveryId: newId("dlv"), eventType: event, requestId, endpointId: endpoint.id, target: null, payload, createdAt });
    }
  }

  /**
   * A StepAuth callback (src/stepauth/): `payload` names the StepAuth request; the deliverer builds
   * what is sent (the signed decision) at delivery time and checks `url` before every attempt.
   */
  async callback(tx: Sql, entry: { requestId: string; eventType: string; url: string; payload: string }): Promise<string> {
    const createdAt = this.deps.clock.now();
    const deliveryId = newId("cbk");
    await insertEntry(tx, { kind: "callback", deliveryId, eventType: entry.eventType, requestId: entry.requestId, endpointId: null, target: entry.url, payload: entry.payload, createdAt });
    return deliveryId;
  }

  /** A `ping` to one endpoint, whatever it subscribed to (POST /webhooks/{id}/test), in the body shape of its format. */
  async ping(sql: Sql, endpointId: string, format: WebhookFormat = "countersign"): Promise<string> {
    const createdAt = this.deps.clock.now();
    const deliveryId = newId("dlv");
    const data = { webhook_id: endpointId, message: "Test delivery from Countersign: verify the signatures, then answer 2xx." };
    await insertEntry(sql, {
      kind: "webhook",
      deliveryId,
      eventType: "ping",
      requestId: null,
      endpointId,
      target: null,
      payload: format === "sigilum" ? sigilumWebhookBody("ping", createdAt, data) : webhookBody(deliveryId, "ping", createdAt, data),
      createdAt,
    });
    return deliveryId;
  }

  /**
   * Writes Slack/email notifications for a pending review to the tenant's channels: the policy's own
   * route for each channel kind when one is configured, else the tenant default. The message is
   * rendered now, so it shows the request as it was when the notification was due.
   */
  async notifyReview(tx: Sql, tenantId: string, kind: NotificationKind, request: OutboxRequest, review: ReviewProgress): Promise<void> {
    const { channels } = await this.targetsOf(tx, tenantId);
    if (channels.length === 0) return;
    const notice = reviewNotice(kind, request, review);
    const createdAt = this.deps.clock.now();
    for (const channelKind of ["slack", "email"] as const) {
      const route =
        channels.find((c) => c.kind === channelKind && request.policy_id !== null && c.policyId === request.policy_id) ??
        channels.find((c) => c.kind === channelKind && c.policyId === null);
      if (!route || (route.notify.length > 0 && !route.notify.includes(kind))) continue;
      const deliveryId = newId("ntf");
      const slack = channelKind === "slack";
      await insertEntry(tx, {
        kind: channelKind,
        deliveryId,
        eventType: kind,
        requestId: request.id,
        endpointId: null,
        target: slack ? sealSecret(route.slackUrl!, outboxTargetBinding(deliveryId), this.deps.tenantKeys.sealingKeysFor(tenantId, "webhook").seal) : JSON.stringify(route.recipients),
        payload: JSON.stringify(slack ? slackMessage(notice) : emailMessage(notice)),
        createdAt,
      });
    }
  }

  /**
   * Slack/email notification of a mode change (mode-notice.ts) to the channels that would carry a
   * review of the policy's requests (its own route, else the tenant default; the tenant's mode: the
   * default). A change that weakens enforcement goes to every concerned route whatever its `notify`
   * filter (modeChangeRoutes).
   */
  async notifyModeChange(tx: Sql, tenantId: string, notice: ModeChangeNotice): Promise<void> {
    const { channels } = await this.targetsOf(tx, tenantId);
    const kind: NotificationKind = "policy.mode_changed";
    const createdAt = this.deps.clock.now();
    const routes = (["slack", "email"] as const).flatMap((channelKind) => modeChangeRoutes(channels, channelKind, notice));
    for (const route of routes) {
      const deliveryId = newId("ntf");
      const slack = route.kind === "slack";
      await insertEntry(tx, {
        kind: route.kind,
        deliveryId,
        eventType: kind,
        requestId: null,
        endpointId: null,
        target: slack ? sealSecret(route.slackUrl!, outboxTargetBinding(deliveryId), this.deps.tenantKeys.sealingKeysFor(tenantId, "webhook").seal) : JSON.stringify(route.recipients),
        payload: JSON.stringify(slack ? modeSlackMessage(notice) : modeEmailMessage(notice)),
        createdAt,
      });
    }
  }

  /** Forget the tenant's cached routes (after endpoint or channel changes in this process). */
  invalidate(tenantId: string): void {
    this.cache.delete(tenantId);
    this.generations.set(tenantId, (this.generations.get(tenantId) ?? 0) + 1);
  }

  private cached(tenantId: string): TenantTargets | undefined {
    const hit = this.cache.get(tenantId);
    return hit && hit.until > this.deps.clock.nowMs() ? hit.value : undefined;
  }

  private async targetsOf(sql: Sql, tenantId: string): Promise<TenantTargets> {
    const hit = this.cached(tenantId);
    if (hit) return hit;
    const now = this.deps.clock.nowMs();
    // Loaded through the caller's transaction: on PGlite (one session) the pool would wait for it.
    const generation = this.generations.get(tenantId) ?? 0;
    const endpoints = await enabledSubscriptions(sql);
    const openKeys = this.deps.tenantKeys.sealingKeysFor(tenantId, "webhook").open;
    const channels = (await readChannels(sql)).map((c) => ({
      kind: c.kind,
      policyId: c.policy_id,
      slackUrl: c.slack_url === null ? null : openSecret(c.slack_url, channelBinding(c.id), openKeys),
      recipients: c.email_recipients,
      notify: c.notify,
    }));
    const value = { endpoints, channels };
    // A load that raced an invalidation may hold the old routes: use it once, do not keep it.
    if ((this.generations.get(tenantId) ?? 0) === generation) {
      this.cache.set(tenantId, { until: now + (this.deps.cacheTtlMs ?? DEFAULT_TARGET_CACHE_TTL_MS), value });
    }
    return value;
  }
}
