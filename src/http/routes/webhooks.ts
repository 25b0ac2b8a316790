import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import type { AppContext } from "../app-context.js";
import { webhookEventTypes } from "../../outbox/events.js";
import { notificationSettingsSchema } from "../../outbox/notification-settings.js";
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
  const { outboxAdmin } = ctx;
  const admin = (request: FastifyRequest, action: string) => {
    const principal = principalOf(request);
    requireScope(principal, ["admin"], action);
    return principal.tenantId;
  };

  app.post("/webhooks", { preHandler: authenticate(ctx) }, async (request, reply) => {
    const tenantId = admin(request, "register webhook endpoints");
    const body = registerBody.parse(request.body);
    return reply.code(201).send(await outboxAdmin.registerEndpoint(request.tenantSql, tenantId, body));
  });

  app.get("/webhooks", { preHandler: authenticate(ctx) }, async (request) => {
    admin(request, "list webhook endpoints");
    return { webhooks: await outboxAdmin.listEndpoints(request.tenantSql) };
  });

  app.delete("/webhooks/:id", { preHandler: authenticate(ctx) }, async (request, reply) => {
    const tenantId = admin(request, "remove webhook endpoints");
    await outboxAdmin.deleteEndpoint(request.tenantSql, tenantId, endpointParams.parse(request.params).id);
    return reply.code(204).send();
  });

  app.get("/webhooks/:id/deliveries", { preHandler: authenticate(ctx) }, async (request) => {
    admin(request, "list webhook deliveries");
    const { id } = endpointParams.parse(request.params);
    return { deliveries: await outboxAdmin.deliveries(request.tenantSql, id, deliveriesQuery.parse(request.query)) };
  });

  app.post("/webhooks/:id/test", { preHandler: authenticate(ctx) }, async (request, reply) => {
    admin(request, "test webhook endpoints");
    return reply.code(202).send(await outboxAdmin.sendTest(request.tenantSql, endpointParams.parse(request.params).id));
  });

  app.get("/notification-settings", { preHandler: authenticate(ctx) }, async (request) => {
    const tenantId = admin(request, "read notification settings");
    return outboxAdmin.readNotificationSettings(request.tenantSql, tenantId);
  });

  app.put("/notification-settings", { preHandler: authenticate(ctx) }, async (request) => {
    const tenantId = admin(request, "change notification settings");
    return outboxAdmin.writeNotificationSettings(request.tenantSql, tenantId, notificationSettingsSchema.parse(request.body));
  });

  // Dead entries by default: what the console shows as "never silently dropped".
  app.get("/outbox", { preHandler: authenticate(ctx) }, async (request) => {
    admin(request, "list the outbox");
    return { entries: await outboxAdmin.listOutbox(request.tenantSql, outboxQuery.parse(request.query)) };
  });

  app.post("/outbox/:delivery_id/retry", { preHandler: authenticate(ctx) }, async (request) => {
    admin(request, "retry outbox entries");
    return outboxAdmin.retry(request.tenantSql, deliveryParams.parse(request.params).delivery_id);
  });
}
