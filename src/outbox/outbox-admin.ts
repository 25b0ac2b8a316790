import { randomBytes } from "node:crypto";
import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import { newId } from "../tenancy/ids.js";
import type { TenantKeys } from "../tenancy/tenant-keys.js";
import { readChannels, replaceChannels } from "./channel-store.js";
import { deleteEndpoint, getEndpoint, insertEndpoint, listEndpoints, type EndpointView, type WebhookFormat } from "./endpoint-store.js";
import type { OutboxKind, OutboxStatus, SigilumEventType, WebhookEventType } from "./events.js";
import {
  hasEmailRoutes,
  rowsToView,
  settingsToRows,
  slackUrlsOf,
  type NotificationSettings,
  type NotificationSettingsView,
} from "./notification-settings.js";
import type { Outbox } from "./outbox.js";
import { findEntry, listEntries, reviveEntry, type OutboxEntryView } from "./outbox-store.js";
import { endpointBinding, sealSecret } from "./secret-box.js";
import { ForbiddenTargetError, resolveTarget } from "./target-guard.js";

const MAX_ENDPOINTS = 50;

/**
 * The admin side of the outbox: webhook endpoints, notification channels, and the outbox listings
 * the console shows (dead entries above all). Every target URL goes through the guard here, and
 * again before every delivery.
 */
export class OutboxAdmin {
  /**
   * Every method takes the tenant's `sql` from its caller (the request's tenant database); those that
   * change what the outbox delivers also take the tenant id, to drop the outbox's cached targets.
   */
  constructor(
    private readonly deps: {
      outbox: Outbox;
      clock: Clock;
      /** Seals and opens the tenant's webhook secrets and Slack URLs (its webhook key, else the vault's). */
      tenantKeys: TenantKeys;
      allowPrivateTargets: boolean;
      smtpConfigured: boolean;
    },
  ) {}

  /** The secret is returned here once and never again (listings and logs never carry it). */
  async registerEndpoint(
    sql: Sql,
    tenantId: string,
    /** `events` are of the endpoint's format's vocabulary (the route checks it): Countersign's, or Sigilum's. */
    input: { url: string; format?: WebhookFormat; events: (WebhookEventType | SigilumEventType)[]; description: string },
  ): Promise<EndpointView & { secret: string }> {
    const url = await this.checkTarget(input.url);
    if ((await listEndpoints(sql)).length >= MAX_ENDPOINTS) {
      throw new AppError("bad_request", `A tenant may register at most ${MAX_ENDPOINTS} webhook endpoints`);
    }
    const id = newId("whk");
    const secret = `whsec_${randomBytes(32).toString("base64url")}`;
    const endpoint = await insertEndpoint(sql, {
      id,
      url,
      sealedSecret: sealSecret(secret, endpointBinding(id), this.deps.tenantKeys.sealingKeysFor(tenantId, "webhook").seal),
      format: input.format ?? "countersign",
      events: [...new Set(input.events)],
      description: input.description,
      createdAt: this.deps.clock.now(),
    });
    this.deps.outbox.invalidate(tenantId);
    return { ...endpoint, secret };
  }

  async listEndpoints(sql: Sql): Promise<EndpointView[]> {
    return listEndpoints(sql);
  }

  async deleteEndpoint(sql: Sql, tenantId: string, id: string): Promise<void> {
    if (!(await deleteEndpoint(sql, id))) throw new AppError("webhook_not_found", `No webhook endpoint ${id}`);
    this.deps.outbox.invalidate(tenantId);
  }

  async deliveries(sql: Sql, id: string, filter: { status?: OutboxStatus; limit: number }): Promise<OutboxEntryView[]> {
    if (!(await getEndpoint(sql, id))) throw new AppError("webhook_not_found", `No webhook endpoint ${id}`);
    return listEntries(sql, { ...filter, endpointId: id });
  }

  async sendTest(sql: Sql, id: string): Promise<{ delivery_id: string; event_type: "ping" }> {
    const endpoint = await getEndpoint(sql, id);
    if (!endpoint) throw new AppError("webhook_not_found", `No webhook endpoint ${id}`);
    return { delivery_id: await this.deps.outbox.ping(sql, id, endpoint.format), event_type: "ping" };
  }

  /** The Slack URLs are opened to be shown redacted, hence the tenant (whose keys seal them). */
  async readNotificationSettings(sql: Sql, tenantId: string): Promise<NotificationSettingsView> {
    return rowsToView(await readChannels(sql), this.deps.tenantKeys.sealingKeysFor(tenantId, "webhook").open);
  }

  async writeNotificationSettings(sql: Sql, tenantId: string, settings: NotificationSettings): Promise<NotificationSettingsView> {
    if (hasEmailRoutes(settings) && !this.deps.smtpConfigured) {
      throw new AppError("smtp_not_configured", "Email recipients need SMTP_HOST and SMTP_FROM to be set on the vault");
    }
    for (const url of slackUrlsOf(settings)) await this.checkTarget(url);
    await replaceChannels(sql, settingsToRows(settings, this.deps.tenantKeys.sealingKeysFor(tenantId, "webhook").seal), this.deps.clock.now());
    this.deps.outbox.invalidate(tenantId);
    return this.readNotificationSettings(sql, tenantId);
  }

  async listOutbox(sql: Sql, filter: { status?: OutboxStatus; kind?: OutboxKind; limit: number }): Promise<OutboxEntryView[]> {
    return listEntries(sql, filter);
  }

  /** A dead entry gets a fresh set of attempts; anything else is refused as it is not stuck. */
  async retry(sql: Sql, deliveryId: string): Promise<OutboxEntryView> {
    const revived = await reviveEntry(sql, deliveryId, this.deps.clock.now());
    if (revived) return revived;
    const entry = await findEntry(sql, deliveryId);
    if (!entry) throw new AppError("outbox_entry_not_found", `No outbox entry ${deliveryId}`);
    throw new AppError("bad_request", `Outbox entry ${deliveryId} is ${entry.status}; only dead entries can be retried`);
  }

  /** The normalised URL, or 400 webhook_target_forbidden naming the reason. */
  private async checkTarget(url: string): Promise<string> {
    try {
      return (await resolveTarget(url, { allowPrivate: this.deps.allowPrivateTargets })).url.toString();
    } catch (err) {
      if (err instanceof ForbiddenTargetError) throw new AppError("webhook_target_forbidden", err.message);
      throw err;
    }
  }
}
