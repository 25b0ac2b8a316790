import { z } from "zod";
import { isoTime } from "./common.js";
import { notificationKinds } from "../../../outbox/events.js";

/**
 * What the webhook, notification-settings and outbox routes answer (src/outbox/outbox-admin.ts),
 * for the OpenAPI document. z.object, not strict: a field added later must not make the document wrong.
 */

const outboxStatus = z.enum(["pending", "delivered", "dead"]);

export const webhookEndpointSchema = z.object({
  id: z.string(),
  url: z.string().describe("Normalised by the target guard."),
  format: z.enum(["countersign", "sigilum"]).describe("countersign: request and token events; sigilum: agent-claim events in Sigilum's body and signature."),
  events: z.array(z.string()).describe("Empty: every event of the format."),
  description: z.string(),
  enabled: z.boolean(),
  created_at: isoTime,
});

const endpointExample = {
  id: "whk_2d7f0a3c-9b1e-4c5d-8a6f-3e0b7c9d1a24",
  url: "https://hooks.example.com/countersign",
  format: "countersign",
  events: ["request.approved", "request.denied"],
  description: "ops pager",
  enabled: true,
  created_at: "2026-03-01T09:00:00.000Z",
};

export const registerWebhookExample = { url: "https://hooks.example.com/countersign", events: ["request.approved", "request.denied"], description: "ops pager" };

/** The signing secret is in this answer only; listings never carry it. */
export const registeredWebhookSchema = webhookEndpointSchema.extend({ secret: z.string() });

export const registeredWebhookExample = { ...endpointExample, secret: "whsec_3q9Zk1Vb7Xy2Mn5Rt8Wc0Pd4Lf6Hj1Ga9Se3Ku7Oi2Y" };

export const webhookListSchema = z.object({ webhooks: z.array(webhookEndpointSchema) });

export const webhookListExample = { webhooks: [endpointExample] };

/** One outbox entry as listings show it: never the payload nor a target credential. */
export const outboxEntrySchema = z.object({
  delivery_id: z.string(),
  kind: z.enum(["webhook", "slack", "email", "callback"]),
  event_type: z.string(),
  request_id: z.string().nullable(),
  endpoint_id: z.string().nullable(),
  status: outboxStatus,
  attempts: z.number().int().min(0),
  next_attempt_at: isoTime,
  last_error: z.string().nullable(),
  last_status: z.number().int().nullable().describe("The receiver's last HTTP status, when it answered."),
  created_at: isoTime,
  delivered_at: isoTime.nullable(),
});

const deadEntryExample = {
  delivery_id: "dlv_6e2a9c1f-0b4d-4f7a-93c8-5d1e7b2a0c46",
  kind: "webhook",
  event_type: "request.denied",
  request_id: "req_3f6c2a9e-8d41-4b7a-9c55-1e2f0a7b6d13",
  endpoint_id: "whk_2d7f0a3c-9b1e-4c5d-8a6f-3e0b7c9d1a24",
  status: "dead",
  attempts: 3,
  next_attempt_at: "2026-03-02T04:12:00.000Z",
  last_error: "HTTP 500: upstream unavailable",
  last_status: 500,
  created_at: "2026-03-01T10:07:00.000Z",
  delivered_at: null,
};

export const deliveryListSchema = z.object({ deliveries: z.array(outboxEntrySchema) });

export const deliveryListExample = {
  deliveries: [
    { ...deadEntryExample, event_type: "request.approved", status: "delivered", attempts: 1, last_error: null, last_status: 200, delivered_at: "2026-03-01T10:07:01.000Z" },
  ],
};

export const webhookTestSchema = z.object({ delivery_id: z.string(), event_type: z.literal("ping") });

export const webhookTestExample = { delivery_id: "dlv_9a3c5e7f-1b2d-4e6f-8a0c-2d4f6b8e0a13", event_type: "ping" };

export const outboxListSchema = z.object({ entries: z.array(outboxEntrySchema) });

export const outboxListExample = { entries: [deadEntryExample] };

export const outboxEntryExample = { ...deadEntryExample, status: "pending", attempts: 0, next_attempt_at: "2026-03-02T09:30:00.000Z" };

/** Slack URLs are credentials: shown as their origin and last characters only. */
export const notificationSettingsViewSchema = z.object({
  slack: z
    .object({ webhook_url: z.string().nullable(), policies: z.record(z.string(), z.string()), notify: z.array(z.enum(notificationKinds)) })
    .nullable(),
  email: z
    .object({ recipients: z.array(z.string()), policies: z.record(z.string(), z.array(z.string())), notify: z.array(z.enum(notificationKinds)) })
    .nullable(),
});

export const notificationSettingsExample = {
  slack: { webhook_url: "https://hooks.slack.com/services/T0000/B0000/XXXXXXXXXXXX", policies: {}, notify: ["review.requested", "review.escalation"] },
  email: { recipients: ["reviews@example.com"], policies: { "refund-policy": ["finance@example.com"] }, notify: [] },
};

export const notificationSettingsViewExample = {
  slack: { webhook_url: "https://hooks.slack.com/…XXXX", policies: {}, notify: ["review.requested", "review.escalation"] },
  email: { recipients: ["reviews@example.com"], policies: { "refund-policy": ["finance@example.com"] }, notify: [] },
};
