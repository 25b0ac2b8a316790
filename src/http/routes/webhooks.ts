import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import type { AppContext } from "../app-context.js";
import { webhookFormats } from "../../outbox/endpoint-store.js";
import { sigilumEventTypes, webhookEventTypes } from "../../outbox/events.js";
import { notificationSettingsSchema } from "../../outbox/notification-settings.js";
import { requireScope } from "../../tenancy/api-keys.js";
import { authenticate, principalOf } from "../auth.js";
import { documented } from "../openapi/route-doc.js";
import {
  deliveryListExample,
  deliveryListSchema,
  notificationSettingsExample,
  notificationSettingsViewExample,
  notificationSettingsViewSchema,
  outboxEntryExample,
  outboxEntrySchema,
  outboxListExample,
  outboxListSchema,
  registeredWebhookExample,
  registeredWebhookSchema,
  registerWebhookExample,
  webhookListExample,
  webhookListSchema,
  webhookTestExample,
  webhookTestSchema,
} from "../openapi/schemas/webhooks.js";

type AnyEventType = (typeof webhookEventTypes)[number] | (typeof sigilumEventTypes)[number];
const anyEventType = [...new Set([...webhookEventTypes, ...sigilumEventTypes])] as [AnyEventType, ...AnyEventType[]];
const registerBody = z
  .strictObject({
    url: z.string().min(1).max(2048),
    // sigilum: agent-claim events only, in Sigilum's body and X-Sigilum-Signature (docs/agent-identity.md).
    format: z.enum(webhookFormats as ["countersign", "sigilum"]).default("countersign"),
    // Empty (or absent) subscribes to every event of the format.
    events: z.array(z.enum(anyEventType)).max(anyEventType.length * 2).default([]),
    description: z.string().max(500).default(""),
  })
  .superRefine((b, ctx) => {
    const allowed: readonly string[] = b.format === "sigilum" ? sigilumEventTypes : webhookEventTypes;
    b.events.forEach((e, i) => {
      if (!allowed.includes(e)) ctx.addIssue({ code: "custom", path: ["events", i], message: `${e} is not an event of the ${b.format} format` });
    });
  });
const endpointParams = z.object({ id: z.string().min(1).max(100) });
const deliveryParams = z.object({ delivery_id: z.string().min(1).max(100) });
// The descriptions are for the OpenAPI document only; they change nothing in parsing.
const status = z.enum(["pending", "delivered", "dead"]).describe("pending: waiting for its next attempt; dead: out of attempts.");
const limit = z.coerce.number().int().min(1).max(200).default(50).describe("At most this many entries, newest first (1-200, default 50).");
const deliveriesQuery = z.object({ status: status.optional(), limit });
const outboxQuery = z.object({ status: status.default("dead"), kind: z.enum(["webhook", "slack", "email", "callback"]).optional(), limit });

// Admin only, and every route opens the tenant's database: these apply to all of them.
const adminErrors = ["insufficient_scope", "tenant_secrets_unavailable"] as const;
const changeErrors = [...adminErrors, "csrf_header_missing"] as const;
const tags = ["notifications"];

const registerDoc = documented({
  summary: "Register a webhook endpoint",
  description:
    "Signed POSTs of request events to `url` (public addresses only). `events` empty subscribes to every event of the format. " +
    "`format: sigilum` sends the agent-claim events (`request.submitted|approved|rejected|revoked`) in Sigilum's body with X-Sigilum-Signature instead. " +
    "The signing secret is returned here, once.",
  tags,
  auth: ["admin"],
  body: registerBody,
  bodyExample: registerWebhookExample,
  responses: { 201: { description: "The endpoint and its one-time signing secret", schema: registeredWebhookSchema, example: registeredWebhookExample } },
  errors: [...changeErrors, "validation_failed", "webhook_target_forbidden", "bad_request"],
});

const listDoc = documented({
  summary: "List webhook endpoints",
  description: "Never with their secrets.",
  tags,
  auth: ["admin"],
  responses: { 200: { description: "The tenant's endpoints, oldest first", schema: webhookListSchema, example: webhookListExample } },
  errors: [...adminErrors],
});

const removeDoc = documented({
  summary: "Remove a webhook endpoint",
  tags,
  auth: ["admin"],
  params: endpointParams,
  responses: { 204: { description: "Removed" } },
  errors: [...changeErrors, "validation_failed", "webhook_not_found"],
});

const deliveriesDoc = documented({
  summary: "List an endpoint's deliveries",
  tags,
  auth: ["admin"],
  params: endpointParams,
  query: deliveriesQuery,
  responses: { 200: { description: "Its outbox entries, newest first", schema: deliveryListSchema, example: deliveryListExample } },
  errors: [...adminErrors, "validation_failed", "webhook_not_found"],
});

const testDoc = documented({
  summary: "Send a test ping to an endpoint",
  description: "Queues a `ping` event for this endpoint only; follow it with GET /webhooks/{id}/deliveries.",
  tags,
  auth: ["admin"],
  params: endpointParams,
  responses: { 202: { description: "The ping is queued", schema: webhookTestSchema, example: webhookTestExample } },
  errors: [...changeErrors, "validation_failed", "webhook_not_found"],
});

const readSettingsDoc = documented({
  summary: "Read where review notifications go",
  description: "Slack URLs are credentials: they are shown as their origin and last characters only.",
  tags,
  auth: ["admin"],
  responses: { 200: { description: "The notification channels", schema: notificationSettingsViewSchema, example: notificationSettingsViewExample } },
  errors: [...adminErrors],
});

const writeSettingsDoc = documented({
  summary: "Replace where review notifications go",
  description:
    "Slack and email channels, each with a tenant default and optional per-policy routes; `notify` limits the kinds sent (empty or absent: all). The whole document replaces the previous one. Email needs SMTP settings on the vault.",
  tags,
  auth: ["admin"],
  body: notificationSettingsSchema,
  bodyExample: notificationSettingsExample,
  responses: { 200: { description: "The settings as now stored (Slack URLs redacted)", schema: notificationSettingsViewSchema, example: notificationSettingsViewExample } },
  errors: [...changeErrors, "validation_failed", "webhook_target_forbidden", "smtp_not_configured"],
});

const outboxDoc = documented({
  summary: "List outbox entries (dead ones by default)",
  description: "Webhook, Slack and email deliveries; a dead entry ran out of attempts and waits for an admin retry.",
  tags,
  auth: ["admin"],
  query: outboxQuery,
  responses: { 200: { description: "Entries, newest first", schema: outboxListSchema, example: outboxListExample } },
  errors: [...adminErrors, "validation_failed"],
});

const retryDoc = documented({
  summary: "Retry a dead outbox entry",
  description: "Gives a dead entry a fresh set of attempts; an entry that is not dead is refused (400 bad_request).",
  tags,
  auth: ["admin"],
  params: deliveryParams,
  responses: { 200: { description: "The entry, pending again", schema: outboxEntrySchema, example: outboxEntryExample } },
  errors: [...changeErrors, "validation_failed", "outbox_entry_not_found", "bad_request"],
});

/**
 * Outbound webhooks, review notification channels, and the outbox listing (admin only: a webhook
 * URL decides where request data goes). Secrets are returned once, at registration.
 */
export function webhookRoutes(app: FastifyInstance, ctx: AppContext) {
  const { outboxAdmin } = ctx;
  const admin = (request: FastifyRequest, action: string) => {
    const principal = principalOf(request);
    requireScope(principal, ["admin"], action);
    return principal.tenantId;
  };

  app.post("/webhooks", { preHandler: authenticate(ctx), config: registerDoc }, async (request, reply) => {
    const tenantId = admin(request, "register webhook endpoints");
    const body = registerBody.parse(request.body);
    return reply.code(201).send(await outboxAdmin.registerEndpoint(request.tenantSql, tenantId, body));
  });

  app.get("/webhooks", { preHandler: authenticate(ctx), config: listDoc }, async (request) => {
    admin(request, "list webhook endpoints");
    return { webhooks: await outboxAdmin.listEndpoints(request.tenantSql) };
  });

  app.delete("/webhooks/:id", { preHandler: authenticate(ctx), config: removeDoc }, async (request, reply) => {
    const tenantId = admin(request, "remove webhook endpoints");
    await outboxAdmin.deleteEndpoint(request.tenantSql, tenantId, endpointParams.parse(request.params).id);
    return reply.code(204).send();
  });

  app.get("/webhooks/:id/deliveries", { preHandler: authenticate(ctx), config: deliveriesDoc }, async (request) => {
    admin(request, "list webhook deliveries");
    const { id } = endpointParams.parse(request.params);
    return { deliveries: await outboxAdmin.deliveries(request.tenantSql, id, deliveriesQuery.parse(request.query)) };
  });

  app.post("/webhooks/:id/test", { preHandler: authenticate(ctx), config: testDoc }, async (request, reply) => {
    admin(request, "test webhook endpoints");
    return reply.code(202).send(await outboxAdmin.sendTest(request.tenantSql, endpointParams.parse(request.params).id));
  });

  app.get("/notification-settings", { preHandler: authenticate(ctx), config: readSettingsDoc }, async (request) => {
    const tenantId = admin(request, "read notification settings");
    return outboxAdmin.readNotificationSettings(request.tenantSql, tenantId);
  });

  app.put("/notification-settings", { preHandler: authenticate(ctx), config: writeSettingsDoc }, async (request) => {
    const tenantId = admin(request, "change notification settings");
    return outboxAdmin.writeNotificationSettings(request.tenantSql, tenantId, notificationSettingsSchema.parse(request.body));
  });

  // Dead entries by default: what the console shows as "never silently dropped".
  app.get("/outbox", { preHandler: authenticate(ctx), config: outboxDoc }, async (request) => {
    admin(request, "list the outbox");
    return { entries: await outboxAdmin.listOutbox(request.tenantSql, outboxQuery.parse(request.query)) };
  });

  app.post("/outbox/:delivery_id/retry", { preHandler: authenticate(ctx), config: retryDoc }, async (request) => {
    admin(request, "retry outbox entries");
    return outboxAdmin.retry(request.tenantSql, deliveryParams.parse(request.params).delivery_id);
  });
}
