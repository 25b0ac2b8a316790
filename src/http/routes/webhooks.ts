import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import type { AppContext } from "../../main/context.js";
import { webhookEventTypes } from "../../outbox/events.js";
import { notificationSettingsSchema } from "../../outbox/notification-settings.js";
import { OutboxAdmin } from "../../outbox/outbox-admin.js";
import { requireScope } from "../../tenancy/api-keys.js";
import { authenticate, principalOf } from "../auth.js";

const registerBody = z.strictObject({
  url: z.string().min(1).max(2048),
  // Empty (or absent) subscribes to every event.
  events: z.array(z.enum(webhookEventTypes)).max(webhookEventTypes.length * 2).default([]),
  description: z.string().max(500).default(""),
});
const endpointParams = z.object({ id: z.string().min(1).max(100) });
const deliveryParams = z.object({ delivery_id: z.string().min(1).max(100) });
const status = z.enum(["pending", "delivered", "dead"]);
const limit = z.coerce.number().int().min(1).max(200).default(50);
const deliveriesQuery = z.object({ status: status.optional(), limit });
const outboxQuery = z.object({ status: status.default("dead"), kind: z.enum(["webhook", "slack", "email"]).optional(), limit });

/**
 * Outbound webhooks, review notification channels, and the outbox listing (admin only: a webhook
 * URL decides where request data goes). Secrets are returned once, at registration.
 */
export function webhookRoutes(app: FastifyInstance, ctx: AppContext) {
  const outboxAdmin = new OutboxAdmin({
    tenantSql: (tenantId) => ctx.tenantDbs.get(tenantId),
    outbox: ctx.outbox,
    clock: ctx.clock,
    transportKey: ctx.config.ledger.transportKey,
    allowPrivateTargets: ctx.config.outbox.allowPrivateTargets,
    smtpConfigured: ctx.config.smtp !== undefined,
  });
  const admin = (request: FastifyRequest, action: string) => {
    const principal = principalOf(request);
    requireScope(principal, ["admin"], action);
    return principal.tenantId;
  };

  app.post("/webhooks", { preHandler: authenticate(ctx) }, async (request, reply) => {
    const tenantId = admin(request, "register webhook endpoints");
    const body = registerBody.parse(request.body);
    return reply.code(201).send(await outboxAdmin.registerEndpoint(tenantId, body));
  });

  app.get("/webhooks", { preHandler: authenticate(ctx) }, async (request) => {
    const tenantId = admin(request, "list webhook endpoints");
    return { webhooks: await outboxAdmin.listEndpoints(tenantId) };
  });

  app.delete("/webhooks/:id", { preHandler: authenticate(ctx) }, async (request, reply) => {
    const tenantId = admin(request, "remove webhook endpoints");
    await outboxAdmin.deleteEndpoint(tenantId, endpointParams.parse(request.params).id);
    return reply.code(204).send();
  });

  app.get("/webhooks/:id/deliveries", { preHandler: authenticate(ctx) }, async (request) => {
    const tenantId = admin(request, "list webhook deliveries");
    const { id } = endpointParams.parse(request.params);
    return { deliveries: await outboxAdmin.deliveries(tenantId, id, deliveriesQuery.parse(request.query)) };
  });

  app.post("/webhooks/:id/test", { preHandler: authenticate(ctx) }, async (request, reply) => {
    const tenantId = admin(request, "test webhook endpoints");
    return reply.code(202).send(await outboxAdmin.sendTest(tenantId, endpointParams.parse(request.params).id));
  });

  app.get("/notification-settings", { preHandler: authenticate(ctx) }, async (request) => {
    return outboxAdmin.readNotificationSettings(admin(request, "read notification settings"));
  });

  app.put("/notification-settings", { preHandler: authenticate(ctx) }, async (request) => {
    const tenantId = admin(request, "change notification settings");
    return outboxAdmin.writeNotificationSettings(tenantId, notificationSettingsSchema.parse(request.body));
  });

  // Dead entries by default: what the console shows as "never silently dropped".
  app.get("/outbox", { preHandler: authenticate(ctx) }, async (request) => {
    const tenantId = admin(request, "list the outbox");
    return { entries: await outboxAdmin.listOutbox(tenantId, outboxQuery.parse(request.query)) };
  });

  app.post("/outbox/:delivery_id/retry", { preHandler: authenticate(ctx) }, async (request) => {
    const tenantId = admin(request, "retry outbox entries");
    return outboxAdmin.retry(tenantId, deliveryParams.parse(request.params).delivery_id);
  });
}
