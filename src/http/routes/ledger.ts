import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { AppContext } from "../app-context.js";
import { authenticate, principalOf } from "../auth.js";
import { queryInteger } from "../query.js";

const number = queryInteger;
const count = (min: number, max: number, fallback: number) => number(min, max).default(fallback);
const order = z.enum(["asc", "desc"]).default("asc");
const redact = z.enum(["auto", "none"]).default("auto");
const requestId = z.string().min(1).max(256);
// RFC 9562 text form, any version (ours are v8; protocol vectors use others), read case-insensitively
// as RFC 9562 §4 asks and compared in the lowercase the ledger stores.
const eventUuid = z
  .string()
  .regex(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, "must be a UUID such as 0190a6f2-3c4d-8e5f-9a0b-1c2d3e4f5a6b")
  .transform((s) => s.toLowerCase());

const entriesQuery = z.object({ limit: count(1, 1000, 100), after_leaf_index: number(0, Number.MAX_SAFE_INTEGER).optional(), order, redact });
const checkpointsQuery = z.object({ limit: count(1, 1000, 24), after_id: count(0, Number.MAX_SAFE_INTEGER, 0), order });
/** An event is named by its request (its decision as it stands), by its event_uuid, or by both. */
const eventQuery = z
  .object({ request_id: requestId.optional(), event_uuid: eventUuid.optional(), redact })
  .refine((q) => q.request_id !== undefined || q.event_uuid !== undefined, { message: "request_id or event_uuid is required", path: ["request_id"] });
const consistencyQuery = z.object({ from: number(1, Number.MAX_SAFE_INTEGER), to: number(1, Number.MAX_SAFE_INTEGER) });

/**
 * Tenant-scoped ledger reads (protocol §2.7–2.11) plus the C2SP views: the latest signed note, its
 * verifier key and tlog-proof@v1 texts. Any key of the tenant may read: verifying is everyone's right.
 * Listings run in tree order from genesis by default, as the SDK's verifyLedgerProof needs them.
 */
export function ledgerRoutes(app: FastifyInstance, ctx: AppContext) {
  const preHandler = authenticate(ctx);
  // The caller's tenant ledger: its id and the database the preHandler opened for this request.
  const tenantOf = (request: Parameters<typeof principalOf>[0]) => ({ tenantId: principalOf(request).tenantId, sql: request.tenantSql });

  app.get("/ledger", { preHandler }, async (request) => {
    const q = entriesQuery.parse(request.query);
    const entries = await ctx.ledgerService.entries(tenantOf(request), { limit: q.limit, afterLeaf: q.after_leaf_index ?? -1, descending: q.order === "desc", redact: q.redact });
    return { entries };
  });

  app.get("/ledger/checkpoints", { preHandler }, async (request) => {
    const q = checkpointsQuery.parse(request.query);
    return { checkpoints: await ctx.ledgerService.checkpoints(tenantOf(request), { limit: q.limit, afterId: q.after_id, descending: q.order === "desc" }) };
  });

  app.get("/ledger/proof/inclusion", { preHandler }, async (request) => {
    const q = eventQuery.parse(request.query);
    return ctx.ledgerService.inclusion(tenantOf(request), q.request_id, q.event_uuid);
  });

  app.get("/ledger/proof/consistency", { preHandler }, async (request) => {
    const q = consistencyQuery.parse(request.query);
    return ctx.ledgerService.consistency(tenantOf(request), q.from, q.to);
  });

  app.get("/ledger/proof/bundle", { preHandler }, async (request) => {
    const q = eventQuery.parse(request.query);
    return ctx.ledgerService.bundle(tenantOf(request), q.request_id, q.event_uuid, q.redact);
  });

  app.get("/ledger/proof/tlog", { preHandler }, async (request, reply) => {
    const q = eventQuery.parse(request.query);
    const text = await ctx.ledgerService.tlogProof(tenantOf(request), q.request_id, q.event_uuid);
    return reply.type("text/plain; charset=utf-8").header("content-disposition", 'inline; filename="event.tlog-proof"').send(text);
  });

  app.get("/ledger/checkpoint", { preHandler }, async (request, reply) => {
    return reply.type("text/plain; charset=utf-8").send(await ctx.ledgerService.latestNote(tenantOf(request)));
  });

  app.get("/ledger/checkpoint-key", { preHandler }, async (request, reply) => {
    return reply.type("text/plain; charset=utf-8").send(await ctx.ledgerService.checkpointKey(tenantOf(request)));
  });
}
