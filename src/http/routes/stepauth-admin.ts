import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import { isValidId } from "../../protocols/stepauth/wire-rules.js";
import { senderCreateSchema, senderUpdateSchema } from "../../stepauth/sender-admin.js";
import { requireScope } from "../../tenancy/api-keys.js";
import type { AppContext } from "../app-context.js";
import { authenticate, principalOf } from "../auth.js";
import { documented } from "../openapi/route-doc.js";
import { hubExample, hubSchema, senderCreateExample, senderExample, senderSchema } from "./stepauth-docs.js";

const senderParams = z.object({ id: z.string().min(1).max(100) });
const hubBody = z.strictObject({ entity: z.string().refine(isValidId, "1-256 printable ASCII characters, no '#'").describe("The hub's entity: the recipientId SPs address.") });
const tags = ["stepauth"];
const auth = ["admin"] as const;
const adminErrors = ["insufficient_scope", "tenant_secrets_unavailable"] as const;
const changeErrors = [...adminErrors, "csrf_header_missing", "validation_failed"] as const;
const senderList = z.object({ senders: z.array(senderSchema) });

const docs = {
  create: documented({
    summary: "Register a StepAuth sender (service provider)",
    description: "Its entity (senderId), its public keysets (hybrid or seed-era Ed25519, verified all-of), and the callback URL pattern its decisions may go to.",
    tags, auth, body: senderCreateSchema, bodyExample: senderCreateExample,
    responses: { 201: { description: "The registered sender", schema: senderSchema, example: senderExample } },
    errors: [...changeErrors, "stepauth_sender_exists"],
  }),
  list: documented({ summary: "List StepAuth senders", tags, auth, responses: { 200: { description: "Every sender, removed ones too", schema: senderList, example: { senders: [senderExample] } } }, errors: [...adminErrors] }),
  get: documented({ summary: "Read one StepAuth sender", tags, auth, params: senderParams, responses: { 200: { description: "The sender", schema: senderSchema, example: senderExample } }, errors: [...adminErrors, "validation_failed", "stepauth_sender_not_found"] }),
  update: documented({
    summary: "Change a StepAuth sender",
    description: "Keysets, callback pattern, description; `disabled: false` enables a removed sender again.",
    tags, auth, params: senderParams, body: senderUpdateSchema, bodyExample: { callback_pattern: "https://sp.example.com/stepauth/callback" },
    responses: { 200: { description: "The sender as changed", schema: senderSchema, example: senderExample } },
    errors: [...changeErrors, "stepauth_sender_not_found"],
  }),
  remove: documented({
    summary: "Remove a StepAuth sender",
    description: "Disables it: its requests are refused as unknown_sender and its callbacks stop; its requests and replay state stay.",
    tags, auth, params: senderParams,
    responses: { 200: { description: "The sender, disabled", schema: senderSchema, example: { ...senderExample, disabled_at: "2026-02-01T00:00:00.000Z" } } },
    errors: [...changeErrors, "stepauth_sender_not_found"],
  }),
  hub: documented({ summary: "Read the tenant's StepAuth hub: entity, host, keysets", tags, auth, responses: { 200: { description: "The hub", schema: hubSchema, example: hubExample } }, errors: [...adminErrors] }),
  rotate: documented({
    summary: "Rotate the hub keyset",
    description: "A new keyset signs the decisions of new requests; the old one keeps signing those submitted under it and stays published while any is undecided or its callback pending.",
    tags, auth, responses: { 200: { description: "The hub after the rotation", schema: hubSchema, example: hubExample } },
    errors: [...adminErrors, "csrf_header_missing"],
  }),
  entity: documented({
    summary: "Set the hub's entity",
    description: "The recipientId SPs address. Requests already submitted keep the entity they were addressed to.",
    tags, auth, body: hubBody, bodyExample: { entity: "hub.example.com" },
    responses: { 200: { description: "The hub", schema: hubSchema, example: hubExample } },
    errors: [...changeErrors],
  }),
};

/** The admin API of the StepAuth hub: senders, hub keysets and entity (admin keys; the CLI uses it). */
export function stepAuthAdminRoutes(app: FastifyInstance, ctx: AppContext) {
  const preHandler = authenticate(ctx);
  const admin = (request: FastifyRequest, action: string) => {
    const principal = principalOf(request);
    requireScope(principal, ["admin"], action);
    return principal;
  };
  const id = (request: FastifyRequest) => senderParams.parse(request.params).id;

  app.post("/stepauth/senders", { preHandler, config: docs.create }, async (request, reply) => {
    admin(request, "register StepAuth senders");
    reply.code(201);
    return ctx.stepauth.senders.create(request.tenantSql, senderCreateSchema.parse(request.body));
  });
  app.get("/stepauth/senders", { preHandler, config: docs.list }, async (request) => {
    admin(request, "list StepAuth senders");
    return ctx.stepauth.senders.list(request.tenantSql);
  });
  app.get("/stepauth/senders/:id", { preHandler, config: docs.get }, async (request) => {
    admin(request, "read StepAuth senders");
    return ctx.stepauth.senders.get(request.tenantSql, id(request));
  });
  app.patch("/stepauth/senders/:id", { preHandler, config: docs.update }, async (request) => {
    admin(request, "change StepAuth senders");
    return ctx.stepauth.senders.update(request.tenantSql, id(request), senderUpdateSchema.parse(request.body));
  });
  app.delete("/stepauth/senders/:id", { preHandler, config: docs.remove }, async (request) => {
    admin(request, "remove StepAuth senders");
    return ctx.stepauth.senders.remove(request.tenantSql, id(request));
  });
  app.get("/stepauth/hub", { preHandler, config: docs.hub }, async (request) => {
    const principal = admin(request, "read the StepAuth hub");
    return ctx.stepauth.hub(request.tenantSql, principal.tenantId);
  });
  app.post("/stepauth/hub/rotate", { preHandler, config: docs.rotate }, async (request) => {
    const principal = admin(request, "rotate the StepAuth hub keyset");
    return ctx.stepauth.rotate(request.tenantSql, principal.tenantId);
  });
  app.put("/stepauth/hub", { preHandler, config: docs.entity }, async (request) => {
    const principal = admin(request, "set the StepAuth hub entity");
    return ctx.stepauth.setEntity(request.tenantSql, principal.tenantId, hubBody.parse(request.body).entity);
  });
}
