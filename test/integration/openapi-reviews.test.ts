import Fastify from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z, type ZodType } from "zod";
import { ManualClock } from "../../src/clock.js";
import { errorCatalog } from "../../src/errors.js";
import type { RouteDoc } from "../../src/http/openapi/route-doc.js";
import { reviewSummarySchema } from "../../src/http/openapi/schemas/reviews.js";
import { reviewerRoutes } from "../../src/http/routes/reviewers.js";
import { reviewRoutes } from "../../src/http/routes/reviews.js";
import { webhookRoutes } from "../../src/http/routes/webhooks.js";
import { allowPrivate, DAY_MS, emit } from "../helpers/outbox-api.js";
import { HttpReceiver, SmtpReceiver } from "../helpers/outbox-receivers.js";
import { call, newDatabase, newKey, refundPolicy, startTestVault, type HttpResult, type TestDatabase, type TestVault } from "../helpers/vault.js";

/**
 * The OpenAPI descriptions of the review, reviewer, console and notification routes hold against
 * the server: every example validates against its schema, and every answer the real vault gives is
 * parsed with the response schema its route documents.
 */

/** The RouteDocs of the three route modules, read by registering them on a bare app with the real context. */
async function docsOf(v: TestVault): Promise<Map<string, RouteDoc>> {
  const docs = new Map<string, RouteDoc>();
  const app = Fastify();
  app.addHook("onRoute", (route) => {
    for (const method of [route.method].flat()) {
      if (method === "HEAD") continue;
      const doc = route.config?.openapi;
      if (!doc) throw new Error(`${method} ${route.url} has no RouteDoc`);
      docs.set(`${method} ${route.url}`, doc);
    }
  });
  reviewRoutes(app, v.vault.ctx);
  reviewerRoutes(app, v.vault.ctx);
  webhookRoutes(app, v.vault.ctx);
  await app.ready();
  await app.close();
  return docs;
}

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  additionalProperties?: boolean | JsonSchema;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
}

/**
 * Members of `value` its schema does not name, as paths. Response schemas are open (z.object) so a
 * later field cannot make the document wrong; this is what keeps them from falling behind the server.
 */
function undocumentedMembers(schema: JsonSchema, value: unknown, at = ""): string[] {
  if (value === null || typeof value !== "object") return [];
  if (schema.anyOf) return schema.anyOf.flatMap((branch) => (branch.type === (Array.isArray(value) ? "array" : "object") ? undocumentedMembers(branch, value, at) : []));
  if (Array.isArray(value)) return schema.items ? value.flatMap((item, i) => undocumentedMembers(schema.items!, item, `${at}[${i}]`)) : [];
  const members = Object.entries(value as Record<string, unknown>);
  if (schema.properties) {
    const props = schema.properties;
    return members.flatMap(([k, v]) => (k in props ? undocumentedMembers(props[k]!, v, `${at}.${k}`) : [`${at}.${k}`]));
  }
  const each = schema.additionalProperties;
  return typeof each === "object" ? members.flatMap(([k, v]) => undocumentedMembers(each, v, `${at}.${k}`)) : [];
}

describe("OpenAPI descriptions of the review and notification routes", () => {
  let db: TestDatabase;
  let v: TestVault;
  let docs: Map<string, RouteDoc>;
  let agent: string;
  let smtp: SmtpReceiver;
  let receiver: HttpReceiver;
  const people: Record<string, { reviewer_id: string; api_key: string }> = {};
  const clock = new ManualClock(Date.now());

  /** The answer, parsed with the schema its route documents for its status (which must be documented). */
  const conforms = (route: string, res: HttpResult) => {
    const doc = docs.get(route);
    expect(doc, route).toBeDefined();
    const response = doc!.responses[res.status];
    expect(response, `${route} answered ${res.status}: ${JSON.stringify(res.body)}`).toBeDefined();
    if (response!.schema) {
      (response!.schema as ZodType).parse(res.body);
      expect(undocumentedMembers(z.toJSONSchema(response!.schema, { io: "output" }) as JsonSchema, res.body), route).toEqual([]);
    }
    return res.body;
  };
  /** A refusal whose code the route lists among its errors. */
  const refusedWith = (route: string, res: HttpResult, code: string) => {
    expect(res.body.code, JSON.stringify(res.body)).toBe(code);
    expect(res.status).toBe(errorCatalog[code as keyof typeof errorCatalog].status);
    expect(docs.get(route)!.errors, route).toContain(code);
  };
  const pending = async () => {
    const res = await call(v.url, "POST", "/request-clearance", {
      key: agent,
      body: { tool_name: "stripe_refund", tool_args: { amount: 500, order_id: "o-1" }, agent_id: "agent-7", human_principal: "alice@example.com" },
    });
    expect(res.body.status, JSON.stringify(res.body)).toBe("pending_review");
    return res.body.request_id as string;
  };

  beforeAll(async () => {
    smtp = await SmtpReceiver.start();
    receiver = await HttpReceiver.start();
    db = newDatabase("pglite");
    v = await startTestVault(db, {
      env: { ...allowPrivate, SMTP_HOST: "127.0.0.1", SMTP_PORT: String(smtp.port), SMTP_FROM: "Countersign <countersign@example.test>", VAULT_REVIEW_SWEEP_INTERVAL_SECONDS: "3600" },
      overrides: { clock },
    });
    docs = await docsOf(v);
    agent = await newKey(v, "agent");
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy })).status).toBe(200);
    const rules = { minimum_confidence_bucket: "high", approvals_required: 2, groups: [{ name: "finance", approvals_required: 1 }] };
    expect((await call(v.url, "PUT", "/review-settings", { key: v.adminKey, body: rules })).status).toBe(200);
    for (const [name, groups] of [["ana", ["finance"]], ["bo", []]] as const) {
      const res = await call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name, email: `${name}@example.com`, groups } });
      people[name] = conforms("POST /reviewers", res);
    }
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
    await receiver?.close();
    await smtp?.close();
  });

  it("documents every route of the three modules, with known error codes and tags", () => {
    expect([...docs.keys()].sort()).toEqual(
      [
        "GET /reviews",
        "GET /reviews/stream",
        "GET /reviews/:request_id",
        "POST /reviews/:request_id/decision",
        "POST /reviewers",
        "GET /reviewers",
        "DELETE /reviewers/:reviewer_id",
        "POST /console/session",
        "GET /console/session",
        "DELETE /console/session",
        "POST /webhooks",
        "GET /webhooks",
        "DELETE /webhooks/:id",
        "GET /webhooks/:id/deliveries",
        "POST /webhooks/:id/test",
        "GET /notification-settings",
        "PUT /notification-settings",
        "GET /outbox",
        "POST /outbox/:delivery_id/retry",
      ].sort(),
    );
    for (const [route, doc] of docs) {
      expect(doc.tags.length, route).toBeGreaterThan(0);
      for (const tag of doc.tags) expect(["reviews", "reviewers", "console", "notifications"], route).toContain(tag);
      for (const code of doc.errors ?? []) expect(Object.keys(errorCatalog), `${route}: ${code}`).toContain(code);
      expect(Object.keys(doc.responses).length, route).toBeGreaterThan(0);
    }
  });

  it("every example validates against its schema, and a wrong one does not", () => {
    let examples = 0;
    for (const [route, doc] of docs) {
      if (doc.body) {
        expect(doc.bodyExample, `${route} body example`).toBeDefined();
        expect(() => (doc.body as ZodType).parse(doc.bodyExample), route).not.toThrow();
        examples++;
      }
      for (const [status, response] of Object.entries(doc.responses)) {
        if (!response.schema) continue;
        expect(response.example, `${route} ${status} example`).toBeDefined();
        expect(() => (response.schema as ZodType).parse(response.example), `${route} ${status}`).not.toThrow();
        expect(undocumentedMembers(z.toJSONSchema(response.schema, { io: "output" }) as JsonSchema, response.example), `${route} ${status}`).toEqual([]);
        examples++;
      }
    }
    expect(examples).toBeGreaterThanOrEqual(20);
    // The check has teeth: a summary with a wrong status is refused.
    const detail = docs.get("GET /reviews/:request_id")!.responses[200]!;
    expect(() => (detail.schema as ZodType).parse({ ...(detail.example as object), status: "maybe" })).toThrow();
  });

  it("the review routes answer what they document", async () => {
    const id = await pending();
    const ana = people.ana!.api_key;
    const bo = people.bo!.api_key;
    const list = conforms("GET /reviews", await call(v.url, "GET", "/reviews?limit=1", { key: ana }));
    expect(list.reviews.map((r: { request_id: string }) => r.request_id)).toContain(id);
    conforms("GET /reviews", await call(v.url, "GET", "/reviews?status=all", { key: v.adminKey }));
    // A request the conditions approved alone is listed, in the same shape, with decided_by=automatic.
    const small = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 50 } } });
    expect(small.body.status).toBe("approved");
    const automatic = conforms("GET /reviews", await call(v.url, "GET", "/reviews?status=all&decided_by=any", { key: ana }));
    expect(automatic.reviews.find((r: { request_id: string }) => r.request_id === small.body.request_id)).toMatchObject({ decided_by: "automatic" });
    conforms("GET /reviews/:request_id", await call(v.url, "GET", `/reviews/${small.body.request_id}`, { key: ana }));
    refusedWith("GET /reviews", await call(v.url, "GET", "/reviews?limit=0", { key: ana }), "validation_failed");
    refusedWith("GET /reviews", await call(v.url, "GET", "/reviews", { key: agent }), "insufficient_scope");

    const detail = conforms("GET /reviews/:request_id", await call(v.url, "GET", `/reviews/${id}`, { key: ana }));
    expect(detail.rules.groups).toEqual([{ name: "finance", approvals_required: 1 }]);
    refusedWith("GET /reviews/:request_id", await call(v.url, "GET", "/reviews/req_missing", { key: ana }), "request_not_found");

    const decision = "POST /reviews/:request_id/decision";
    refusedWith(decision, await call(v.url, "POST", `/reviews/${id}/decision`, { key: ana, body: { approved: "yes" } }), "validation_failed");
    const first = conforms(decision, await call(v.url, "POST", `/reviews/${id}/decision`, { key: ana, body: { approved: true, review_reason: "Order checked" } }));
    expect(first.status).toBe("pending_review");
    expect(first.review.approvals).toEqual({ received: 1, required: 2, groups: [{ name: "finance", received: 1, required: 1 }] });
    refusedWith(decision, await call(v.url, "POST", `/reviews/${id}/decision`, { key: ana, body: { approved: true } }), "already_voted");
    refusedWith(decision, await call(v.url, "POST", `/reviews/${id}/decision`, { key: agent, body: { approved: true } }), "insufficient_scope");
    // The admin may hold the token: the answer carries one, and still conforms.
    const approved = conforms(decision, await call(v.url, "POST", `/reviews/${id}/decision`, { key: v.adminKey, body: { approved: true } }));
    expect([approved.status, typeof approved.token]).toEqual(["approved", "string"]);
    refusedWith(decision, await call(v.url, "POST", `/reviews/${id}/decision`, { key: bo, body: { approved: false } }), "request_not_pending");
    conforms("GET /reviews/:request_id", await call(v.url, "GET", `/reviews/${id}`, { key: v.adminKey }));

    // An agent may cancel; the cancelled request's answer conforms too.
    const cancelled = conforms(decision, await call(v.url, "POST", `/reviews/${await pending()}/decision`, { key: agent, body: { approved: false } }));
    expect(cancelled.status).toBe("denied");
  });

  it("the review stream sends text/event-stream whose review events are review summaries", async () => {
    const doc = docs.get("GET /reviews/stream")!.responses[200]!;
    const controller = new AbortController();
    const res = await fetch(`${v.url}/reviews/stream`, { headers: { "x-vault-api-key": people.ana!.api_key }, signal: controller.signal });
    try {
      expect(res.status).toBe(200);
      expect(res.headers.get("content-type")).toMatch(new RegExp(`^${doc.mediaType}`));
      const id = await pending();
      const reader = res.body!.getReader();
      let text = "";
      const deadline = Date.now() + 5_000;
      while (!text.includes(`"request_id":"${id}"`) && Date.now() < deadline) {
        const { value, done } = await reader.read();
        if (done) break;
        text += Buffer.from(value).toString("utf8");
      }
      (doc.schema as ZodType).parse(text);
      const events = text.split("\n\n").filter((block) => block.startsWith("event: review\n"));
      expect(events.length).toBeGreaterThan(0);
      for (const block of events) {
        const summary: unknown = JSON.parse(block.split("\n").find((l) => l.startsWith("data: "))!.slice(6));
        reviewSummarySchema.parse(summary);
        expect(undocumentedMembers(z.toJSONSchema(reviewSummarySchema, { io: "output" }) as JsonSchema, summary)).toEqual([]);
      }
      // The documented example has the same framing.
      expect(String(doc.example)).toMatch(/^retry: 2000\n: connected\n\nevent: review\ndata: \{/);
    } finally {
      controller.abort();
    }
  });

  it("the reviewer and console routes answer what they document", async () => {
    conforms("GET /reviewers", await call(v.url, "GET", "/reviewers", { key: people.ana!.api_key }));
    refusedWith("POST /reviewers", await call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name: "Ana", email: "ana@example.com" } }), "reviewer_exists");
    refusedWith("POST /reviewers", await call(v.url, "POST", "/reviewers", { key: people.ana!.api_key, body: { name: "X", email: "x@example.com" } }), "insufficient_scope");
    const gone = conforms("POST /reviewers", await call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name: "Cy", email: "cy@example.com" } }));
    conforms("DELETE /reviewers/:reviewer_id", await call(v.url, "DELETE", `/reviewers/${gone.reviewer_id}`, { key: v.adminKey }));
    refusedWith("DELETE /reviewers/:reviewer_id", await call(v.url, "DELETE", `/reviewers/${gone.reviewer_id}`, { key: v.adminKey }), "reviewer_not_found");
    const listed = conforms("GET /reviewers", await call(v.url, "GET", "/reviewers", { key: v.adminKey }));
    expect(listed.reviewers.find((r: { id: string }) => r.id === gone.reviewer_id).disabled_at).toEqual(expect.any(String));

    refusedWith("POST /console/session", await call(v.url, "POST", "/console/session", { body: { api_key: agent } }), "insufficient_scope");
    refusedWith("POST /console/session", await call(v.url, "POST", "/console/session", { body: {} }), "validation_failed");
    const signIn = await call(v.url, "POST", "/console/session", { body: { api_key: people.ana!.api_key } });
    conforms("POST /console/session", signIn);
    const cookie = signIn.headers.get("set-cookie")!.split(";")[0]!;
    expect(conforms("GET /console/session", await call(v.url, "GET", "/console/session", { headers: { cookie } })).reviewer.name).toBe("ana");
    // A key without a reviewer identity gets the stand-in identity, in the same shape.
    expect(conforms("GET /console/session", await call(v.url, "GET", "/console/session", { key: v.adminKey })).scope).toBe("admin");
    refusedWith("DELETE /console/session", await call(v.url, "DELETE", "/console/session", { headers: { cookie } }), "csrf_header_missing");
    conforms("DELETE /console/session", await call(v.url, "DELETE", "/console/session", { headers: { cookie, "x-countersign-console": "1" } }));
  });

  it("the webhook, notification and outbox routes answer what they document", async () => {
    receiver.fallback = 500;
    const registered = await call(v.url, "POST", "/webhooks", { key: v.adminKey, body: { url: `${receiver.url}/down`, events: ["request.denied"], description: "ops" } });
    const endpoint = conforms("POST /webhooks", registered);
    refusedWith("POST /webhooks", await call(v.url, "POST", "/webhooks", { key: v.adminKey, body: { url: "ftp://example.com/x" } }), "webhook_target_forbidden");
    refusedWith("POST /webhooks", await call(v.url, "POST", "/webhooks", { key: people.ana!.api_key, body: { url: `${receiver.url}/x` } }), "insufficient_scope");
    conforms("GET /webhooks", await call(v.url, "GET", "/webhooks", { key: v.adminKey }));
    conforms("POST /webhooks/:id/test", await call(v.url, "POST", `/webhooks/${endpoint.id}/test`, { key: v.adminKey, body: {} }));
    refusedWith("POST /webhooks/:id/test", await call(v.url, "POST", "/webhooks/whk_missing/test", { key: v.adminKey, body: {} }), "webhook_not_found");

    // The receiver fails every attempt, so the event dies after the maximum and can be retried.
    await emit(v, "request.denied");
    for (let i = 0; i < 5; i++) {
      await v.vault.ctx.outboxWorker.drain();
      clock.advance(DAY_MS);
    }
    const deliveries = conforms("GET /webhooks/:id/deliveries", await call(v.url, "GET", `/webhooks/${endpoint.id}/deliveries`, { key: v.adminKey }));
    expect(deliveries.deliveries.length).toBeGreaterThanOrEqual(2);
    refusedWith("GET /webhooks/:id/deliveries", await call(v.url, "GET", `/webhooks/${endpoint.id}/deliveries?status=lost`, { key: v.adminKey }), "validation_failed");
    const outbox = conforms("GET /outbox", await call(v.url, "GET", "/outbox?kind=webhook", { key: v.adminKey }));
    const dead = outbox.entries.find((e: { endpoint_id: string | null }) => e.endpoint_id === endpoint.id);
    expect(dead).toMatchObject({ status: "dead", last_status: 500 });
    conforms("GET /outbox", await call(v.url, "GET", "/outbox?status=pending&limit=5", { key: v.adminKey }));
    const retry = "POST /outbox/:delivery_id/retry";
    expect(conforms(retry, await call(v.url, "POST", `/outbox/${dead.delivery_id}/retry`, { key: v.adminKey, body: {} })).status).toBe("pending");
    refusedWith(retry, await call(v.url, "POST", `/outbox/${dead.delivery_id}/retry`, { key: v.adminKey, body: {} }), "bad_request");
    refusedWith(retry, await call(v.url, "POST", "/outbox/dlv_missing/retry", { key: v.adminKey, body: {} }), "outbox_entry_not_found");

    const settings = { slack: { webhook_url: `${receiver.url}/slack/T000/B000/secretpart`, policies: { "refund-policy": `${receiver.url}/slack/refunds` }, notify: ["review.requested"] }, email: { recipients: ["reviews@example.com"], policies: { "refund-policy": ["finance@example.com"] } } };
    const written = conforms("PUT /notification-settings", await call(v.url, "PUT", "/notification-settings", { key: v.adminKey, body: settings }));
    expect(JSON.stringify(written)).not.toContain("secretpart");
    refusedWith("PUT /notification-settings", await call(v.url, "PUT", "/notification-settings", { key: v.adminKey, body: { slack: { webhook_url: "ftp://x" } } }), "webhook_target_forbidden");
    refusedWith("PUT /notification-settings", await call(v.url, "PUT", "/notification-settings", { key: v.adminKey, body: { teams: {} } }), "validation_failed");
    conforms("GET /notification-settings", await call(v.url, "GET", "/notification-settings", { key: v.adminKey }));
    // The documented example body is one the server accepts as is (its Slack host does not resolve here, so swap the URL only).
    const example = docs.get("PUT /notification-settings")!.bodyExample as { slack: { webhook_url: string } };
    conforms("PUT /notification-settings", await call(v.url, "PUT", "/notification-settings", { key: v.adminKey, body: { ...example, slack: { ...example.slack, webhook_url: `${receiver.url}/slack` } } }));
    conforms("PUT /notification-settings", await call(v.url, "PUT", "/notification-settings", { key: v.adminKey, body: {} }));

    const removed = await call(v.url, "DELETE", `/webhooks/${endpoint.id}`, { key: v.adminKey });
    expect(removed.status).toBe(204);
    expect(docs.get("DELETE /webhooks/:id")!.responses[204]).toBeDefined();
    refusedWith("DELETE /webhooks/:id", await call(v.url, "DELETE", `/webhooks/${endpoint.id}`, { key: v.adminKey }), "webhook_not_found");
  });
});
