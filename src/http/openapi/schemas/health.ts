import { z } from "zod";
import { isoTime } from "./common.js";

export const healthSchema = z.object({ status: z.literal("ok"), version: z.string().describe("The vault's package version.") });

export const rootSchema = z.object({
  name: z.literal("Countersign"),
  version: z.string(),
  links: z.object({ console: z.literal("/console"), docs: z.literal("/docs"), openapi: z.literal("/openapi.json") }),
});

const queueStatusSchema = z.object({
  kind: z.enum(["memory", "sqs"]),
  local_depth: z.int().nonnegative(),
  in_flight: z.int().nonnegative(),
  approximate_depth: z.int().nonnegative().optional(),
  lag_ms: z.number().optional(),
  degraded: z.string().optional(),
});

const tenantLedgerSchema = z.object({
  tree_size: z.int().nonnegative(),
  unsequenced_events: z.int().nonnegative(),
  unexported_checkpoints: z.int().nonnegative(),
  anchor_lag_seconds: z.number(),
  last_export_error: z.string().optional(),
  witnessing: z
    .object({
      checkpoint_id: z.int().positive(),
      status: z.enum(["none", "pending", "witnessed", "unwitnessed"]),
      cosignatures: z.int().nonnegative().describe("Configured witnesses whose cosignature on this checkpoint verifies."),
      quorum: z.int().positive(),
      attempts: z.int().nonnegative(),
      next_attempt_at: isoTime.nullable(),
      error: z.string().optional(),
      witnessed_checkpoint_id: z.int().positive().nullable().describe("The newest checkpoint that reached the quorum."),
    })
    .optional()
    .describe("The newest checkpoint's witnessing; present when VAULT_LEDGER_WITNESSES is set."),
});

export const readinessSchema = z.object({
  status: z.literal("ready"),
  degraded: z.array(z.string()).optional().describe("Present only when a part does not work right now; never a reason to refuse traffic."),
  queue_depth: z.int().nonnegative(),
  queue: queueStatusSchema,
  judge: z.enum(["remote", "stub", "in-process"]),
  judge_failures: z.int().nonnegative(),
  embedding_model: z.string(),
  signing_kid: z.string(),
  ledger_kid: z.string(),
  ledger: z.object({
    interval_ms: z.int(),
    anchor: z.enum(["local", "s3"]),
    last_tick_at: isoTime.nullable(),
    witnesses: z.object({ names: z.array(z.string()), quorum: z.int().positive() }).optional().describe("The configured witnesses; present when VAULT_LEDGER_WITNESSES is set."),
    tenants: z.record(z.string(), tenantLedgerSchema),
  }),
});
