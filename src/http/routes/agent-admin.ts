import type { FastifyInstance } from "fastify";
import { consoleClaims } from "../../agents/claim-views.js";
import { listNamespaces, registerNamespace } from "../../agents/namespaces.js";
import { createService, createServiceKey, listServices } from "../../agents/protected-services.js";
import { requireScope } from "../../tenancy/api-keys.js";
import type { AppContext } from "../app-context.js";
import { authenticate, principalOf } from "../auth.js";
import { documented } from "../openapi/route-doc.js";
import { z } from "zod";
import * as s from "./agent-schemas.js";

const tags = ["agent identity"];
const iso = (d: Date) => new Date(d).toISOString();

/**
 * Administration of agent identity (admin keys): the tenant's agent namespaces (unique across the
 * vault), its protected services and their `service` keys; and the reviewers' listing of claims.
 */
export function agentAdminRoutes(app: FastifyInstance, ctx: AppContext) {
  // Namespaces are in the control database: these two routes do not open the tenant's.
  const controlOnly = authenticate(ctx, { tenantDatabase: false });
  const tenant = authenticate(ctx);

  app.post("/agent-namespaces", {
    preHandler: controlOnly,
    config: documented({
      summary: "Register an agent namespace",
      description: "The namespace agents of this tenant sign with (sigilum-namespace). Unique across the vault; a request signed without an API key is routed to this tenant by it. At most 100 per tenant.",
      tags, auth: ["admin"], body: s.namespaceBody, bodyExample: { namespace: "acme-corp" },
      responses: { 201: { description: "The namespace, now this tenant's", schema: s.namespaceSchema, example: s.agentExamples.namespace } },
      errors: ["agent_namespace_taken", "bad_request", "csrf_header_missing"],
    }),
  }, async (request, reply) => {
    const principal = principalOf(request);
    requireScope(principal, ["admin"], "register agent namespaces");
    const { namespace } = s.namespaceBody.parse(request.body);
    const row = await registerNamespace(ctx.control, principal.tenantId, namespace);
    return reply.code(201).send({ namespace: row.namespace, tenant_id: row.tenant_id, created_at: iso(row.created_at) });
  });

  app.get("/agent-namespaces", {
    preHandler: controlOnly,
    config: documented({
      summary: "List the tenant's agent namespaces",
      tags, auth: ["admin"],
      responses: { 200: { description: "Its namespaces, by name", schema: z.object({ namespaces: z.array(s.namespaceSchema) }), example: { namespaces: [s.agentExamples.namespace] } } },
    }),
  }, async (request) => {
    const principal = principalOf(request);
    requireScope(principal, ["admin"], "list agent namespaces");
    const rows = await listNamespaces(ctx.control, principal.tenantId);
    return { namespaces: rows.map((r) => ({ namespace: r.namespace, tenant_id: r.tenant_id, created_at: iso(r.created_at) })) };
  });

  app.post("/protected-services", {
    preHandler: tenant,
    config: documented({
      summary: "Register a protected service",
      description: "A service agents claim access to (Sigilum's service slug). Give it a key with POST /protected-services/{slug}/keys.",
      tags, auth: ["admin"], body: s.serviceBody, bodyExample: { slug: "billing-api", name: "Billing API", description: "Invoices and refunds" },
      responses: { 201: { description: "The service", schema: s.serviceSchema, example: s.agentExamples.service } },
      errors: ["protected_service_exists", "bad_request", "csrf_header_missing"],
    }),
  }, async (request, reply) => {
    requireScope(principalOf(request), ["admin"], "register protected services");
    const body = s.serviceBody.parse(request.body);
    const row = await createService(request.tenantSql, { ...body, now: ctx.clock.now() });
    return reply.code(201).send({ ...row, created_at: iso(row.created_at) });
  });

  app.get("/protected-services", {
    preHandler: tenant,
    config: documented({
      summary: "List protected services",
      tags, auth: ["admin"],
      responses: { 200: { description: "The tenant's services, by slug", schema: z.object({ services: z.array(s.serviceSchema) }), example: { services: [s.agentExamples.service] } } },
    }),
  }, async (request) => {
    requireScope(principalOf(request), ["admin"], "list protected services");
    return { services: (await listServices(request.tenantSql)).map((r) => ({ ...r, created_at: iso(r.created_at) })) };
  });

  app.post("/protected-services/:slug/keys", {
    preHandler: tenant,
    config: documented({
      summary: "Create a service key",
      description: "A `service` key for this service: it submits agent claims (POST /v1/claims) and lists approved ones (GET /v1/namespaces/claims), nothing else. The raw key is in this answer only; revoke it with DELETE /keys/{api_key_id}.",
      tags, auth: ["admin"], params: s.serviceParams, body: s.serviceKeyBody, bodyExample: { label: "billing gateway" },
      responses: { 201: { description: "The key, with its raw value (shown once)", schema: s.serviceKeySchema, example: s.agentExamples.serviceKey } },
      errors: ["protected_service_not_found", "csrf_header_missing"],
    }),
  }, async (request, reply) => {
    const principal = principalOf(request);
    requireScope(principal, ["admin"], "create service keys");
    const { slug } = s.serviceParams.parse(request.params);
    const body = s.serviceKeyBody.parse(request.body ?? undefined);
    const key = await createServiceKey(ctx.control, request.tenantSql, principal.tenantId, slug, body?.label || undefined);
    return reply.code(201).send({ api_key_id: key.id, service: slug, label: key.label, key_prefix: key.keyPrefix, created_at: iso(key.createdAt), api_key: key.apiKey });
  });

  app.get("/agent-claims", {
    preHandler: tenant,
    config: documented({
      summary: "List agent claims (console)",
      description: "Newest first, optionally of one status. Each claim's `request_id` is its review request (GET /reviews/{request_id}).",
      tags, auth: ["reviewer", "admin"], query: s.claimListQuery,
      responses: { 200: { description: "The claims", schema: s.claimListSchema, example: s.agentExamples.claimList } },
    }),
  }, async (request) => {
    requireScope(principalOf(request), ["reviewer", "admin"], "list agent claims");
    const q = s.claimListQuery.parse(request.query);
    return consoleClaims(request.tenantSql, q);
  });
}
