import { expect } from "vitest";
import type { WebhookEventType } from "../../src/outbox/outbox.js";
import { inTenantTx, sampleRequest } from "./outbox-receivers.js";
import { call, type TestVault } from "./vault.js";

export const DAY_MS = 86_400_000;

/** Receivers in these tests listen on 127.0.0.1, which only the development flag allows. */
export const allowPrivate = { VAULT_WEBHOOK_ALLOW_PRIVATE_TARGETS: "true", VAULT_OUTBOX_MAX_ATTEMPTS: "3" };

/** POST /webhooks, expecting 201: the endpoint with its one-time secret. */
export async function register(v: TestVault, url: string, body: Record<string, unknown> = {}, key = v.adminKey) {
  const res = await call(v.url, "POST", "/webhooks", { key, body: { url, ...body } });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body as { id: string; secret: string; url: string; events: string[] };
}

/** Reports an event the way the review workflow does: inside a transaction of the tenant's database. */
export async function emit(v: TestVault, type: WebhookEventType, request = sampleRequest(), extra?: Record<string, unknown>, tenantId = v.tenantId) {
  await inTenantTx(v, tenantId, (tx) => v.vault.ctx.outbox.webhookEvent(tx, tenantId, type, request, extra));
  return request;
}

/** GET /webhooks/{id}/deliveries, newest first. */
export async function deliveries(v: TestVault, endpointId: string, query = "") {
  const res = await call(v.url, "GET", `/webhooks/${endpointId}/deliveries${query}`, { key: v.adminKey });
  expect(res.status).toBe(200);
  return res.body.deliveries as Record<string, any>[];
}
