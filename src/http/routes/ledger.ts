import type { FastifyInstance } from "fastify";
import { z } from "zod";
import type { AppContext } from "../app-context.js";
import { authenticate, principalOf } from "../auth.js";
import { ledgerExamples } from "../openapi/examples/ledger.js";
import { documented, type RouteDoc } from "../openapi/route-doc.js";
import { checkpointSchema, consistencyProofSchema, inclusionProofSchema, ledgerEntrySchema, proofBundleSchema } from "../openapi/schemas/ledger.js";
import { ledgerWitnessesExample, ledgerWitnessesSchema } from "../openapi/schemas/witnesses.js";
import { queryInteger } from "../query.js";

const number = queryInteger;
const count = (min: number, max: number, fallback: number) => number(min, max).default(fallback);
const order = z.enum(["asc", "desc"]).default("asc").describe("Tree order from genesis (asc) or newest first (desc).");
const redact = z
  .enum(["auto", "none"])
  .default("auto")
  .describe("auto: entries whose body this vault cannot open are served redacted (intent_hash \"\"); none: refuse them instead.");
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
const consistencyQuery = z.object({ from: number(1, Number.MAX_SAFE_INTEGER).describe("A checkpoint id (not a tree size)."), to: number(1, Number.MAX_SAFE_INTEGER).describe("A later checkpoint id.") });

const text = "text/plain; charset=utf-8";
/** Every ledger route: any key of the tenant may read, verifying is everyone's right. */
const ledgerDoc = (doc: Omit<RouteDoc, "tags" | "auth">) => documented({ ...doc, tags: ["ledger"], auth: ["agent", "reviewer", "admin"] });
const eventErrors = ["ledger_event_not_found", "ledger_event_pending", "ledger_key_unavailable"];

/**
 * Tenant-scoped ledger reads (protocol §2.7–2.11) plus the C2SP views: the latest signed note, its
 * verifier key and tlog-proof@v1 texts. Any key of the tenant may read: verifying is everyone's right.
 * Listings run in tree order from genesis by default, as the SDK's verifyLedgerProof needs them.
 */
export function ledgerRoutes(app: FastifyInstance, ctx: AppContext) {
  const preHandler = authenticate(ctx);
  // The caller's tenant ledger: its id and the database the preHandler opened for this request.
  const tenantOf = (request: Parameters<typeof principalOf>[0]) => ({ tenantId: principalOf(request).tenantId, sql: request.tenantSql });

  const entriesDoc = ledgerDoc({
    summary: "Ledger entries in tree order",
    description:
      "Leaves from 0, then events still waiting for the sequencer (`order=desc` for the reverse); `after_leaf_index` pages " +
      "(wire protocol §2.7). See [The ledger](ledger.md#the-tamper-evident-ledger).",
    query: entriesQuery,
    responses: { 200: { description: "The entries.", schema: z.object({ entries: z.array(ledgerEntrySchema) }), example: ledgerExamples.entries } },
    errors: ["ledger_key_unavailable"],
  });
  app.get("/ledger", { preHandler, config: entriesDoc }, async (request) => {
    const q = entriesQuery.parse(request.query);
    const entries = await ctx.ledgerService.entries(tenantOf(request), { limit: q.limit, afterLeaf: q.after_leaf_index ?? -1, descending: q.order === "desc", redact: q.redact });
    return { entries };
  });

  const checkpointsDoc = ledgerDoc({
    summary: "Signed checkpoints",
    description: "From genesis by default (wire protocol §2.8); `after_id` pages.",
    query: checkpointsQuery,
    responses: { 200: { description: "The checkpoints.", schema: z.object({ checkpoints: z.array(checkpointSchema) }), example: ledgerExamples.checkpoints } },
  });
  app.get("/ledger/checkpoints", { preHandler, config: checkpointsDoc }, async (request) => {
    const q = checkpointsQuery.parse(request.query);
    return { checkpoints: await ctx.ledgerService.checkpoints(tenantOf(request), { limit: q.limit, afterId: q.after_id, descending: q.order === "desc" }) };
  });

  const inclusionDoc = ledgerDoc({
    summary: "Inclusion proof of one event in the newest checkpoint",
    description: "The request's decision event, or the event `event_uuid` names (either parameter alone, or both; wire protocol §2.9).",
    query: eventQuery,
    responses: { 200: { description: "The RFC 6962 inclusion proof.", schema: inclusionProofSchema, example: ledgerExamples.inclusion } },
    errors: eventErrors,
  });
  app.get("/ledger/proof/inclusion", { preHandler, config: inclusionDoc }, async (request) => {
    const q = eventQuery.parse(request.query);
    return ctx.ledgerService.inclusion(tenantOf(request), q.request_id, q.event_uuid);
  });

  const consistencyDoc = ledgerDoc({
    summary: "Consistency proof between two checkpoints",
    description: "`from` and `to` are checkpoint **ids** (wire protocol §2.10).",
    query: consistencyQuery,
    responses: { 200: { description: "The RFC 6962 consistency proof.", schema: consistencyProofSchema, example: ledgerExamples.consistency } },
    errors: ["bad_request", "checkpoint_not_found"],
  });
  app.get("/ledger/proof/consistency", { preHandler, config: consistencyDoc }, async (request) => {
    const q = consistencyQuery.parse(request.query);
    return ctx.ledgerService.consistency(tenantOf(request), q.from, q.to);
  });

  const bundleDoc = ledgerDoc({
    summary: "Everything to verify one event offline",
    description:
      "The event, its inclusion in the newest checkpoint, consistency from the first checkpoint that covered it (omitted when that is " +
      "the newest), the keys of the signatures, and the same tree head as a C2SP signed note (wire protocol §2.11). Verify with the SDK " +
      "or `countersign verify-bundle`. With witnesses configured, the newest *witnessed* checkpoint that holds every event of the bundle " +
      "is used instead when there is one, and `c2sp_checkpoint` carries the witnesses' cosignatures (`verify-bundle --witness`).",
    query: eventQuery,
    responses: { 200: { description: "The proof bundle.", schema: proofBundleSchema, example: ledgerExamples.bundle } },
    errors: eventErrors,
  });
  app.get("/ledger/proof/bundle", { preHandler, config: bundleDoc }, async (request) => {
    const q = eventQuery.parse(request.query);
    return ctx.ledgerService.bundle(tenantOf(request), q.request_id, q.event_uuid, q.redact);
  });

  const tlogDoc = ledgerDoc({
    summary: "Inclusion proof as a C2SP tlog-proof@v1 text",
    description: "The same inclusion as /ledger/proof/inclusion, for tlog tooling; served inline as `event.tlog-proof`.",
    query: eventQuery,
    responses: { 200: { description: "A C2SP tlog-proof@v1 text.", mediaType: text, schema: z.string(), example: ledgerExamples.tlogProof } },
    errors: eventErrors,
  });
  app.get("/ledger/proof/tlog", { preHandler, config: tlogDoc }, async (request, reply) => {
    const q = eventQuery.parse(request.query);
    const text = await ctx.ledgerService.tlogProof(tenantOf(request), q.request_id, q.event_uuid);
    return reply.type("text/plain; charset=utf-8").header("content-disposition", 'inline; filename="event.tlog-proof"').send(text);
  });

  const noteDoc = ledgerDoc({
    summary: "The newest checkpoint as a C2SP signed note",
    description: "With the witnesses' cosignature lines after the vault's signature once the checkpoint is witnessed.",
    responses: { 200: { description: "A C2SP signed note (tlog-checkpoint).", mediaType: text, schema: z.string(), example: ledgerExamples.note } },
    errors: ["ledger_empty"],
  });
  app.get("/ledger/checkpoint", { preHandler, config: noteDoc }, async (request, reply) => {
    return reply.type("text/plain; charset=utf-8").send(await ctx.ledgerService.latestNote(tenantOf(request)));
  });

  const keyDoc = ledgerDoc({
    summary: "The C2SP verifier key of the tenant's log",
    description: "`<origin>+<key id>+<base64 key>`, what C2SP note verifiers are configured with.",
    responses: { 200: { description: "The verifier key.", mediaType: text, schema: z.string(), example: ledgerExamples.verifierKey } },
  });
  app.get("/ledger/checkpoint-key", { preHandler, config: keyDoc }, async (request, reply) => {
    return reply.type("text/plain; charset=utf-8").send(await ctx.ledgerService.checkpointKey(tenantOf(request)));
  });

  const witnessesDoc = ledgerDoc({
    summary: "The witnesses that cosign the log's checkpoints",
    description:
      "The C2SP witnesses of `VAULT_LEDGER_WITNESSES` with their verifier keys (for `countersign verify-bundle --witness`), what each " +
      "last answered, and who cosigned the newest checkpoint and the newest witnessed one. See [Witnesses](witness.md#cosigning-a-vaults-checkpoints).",
    responses: { 200: { description: "The tenant's witnessing.", schema: ledgerWitnessesSchema, example: ledgerWitnessesExample } },
  });
  app.get("/ledger/witnesses", { preHandler, config: witnessesDoc }, async (request) => ctx.ledgerService.witnesses(tenantOf(request)));
}
