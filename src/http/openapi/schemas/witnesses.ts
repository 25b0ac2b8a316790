import { z } from "zod";
import { isoTime } from "./common.js";

const witnessStatus = z.enum(["none", "pending", "witnessed", "unwitnessed"]);

const checkpointWitnessing = z.object({
  checkpoint_id: z.int().positive(),
  tree_size: z.int().positive(),
  signed_at: isoTime,
  status: witnessStatus.describe("none: never submitted; pending: first attempt running; witnessed: quorum met; unwitnessed: below it, retried with backoff while newest."),
  cosigned_by: z.array(z.string()).describe("Configured witnesses whose cosignature verifies, re-checked with their keys on every read."),
  attempts: z.int().nonnegative(),
  next_attempt_at: isoTime.nullable(),
  error: z.string().nullable(),
  witnessed_at: isoTime.nullable(),
});

export const ledgerWitnessesSchema = z.object({
  quorum: z.int().nonnegative().describe("Cosignatures that make a checkpoint witnessed (VAULT_LEDGER_WITNESS_QUORUM); 0 when no witness is configured."),
  witnesses: z.array(
    z.object({
      name: z.string(),
      key: z.string().describe("The witness's cosignature verifier key: pass it to `countersign verify-bundle --witness`."),
      tree_size: z.int().nonnegative().describe("The size of this log the witness last said it holds (the next submission's `old`)."),
      last_cosigned_checkpoint: z.int().positive().nullable(),
      last_cosigned_at: isoTime.nullable(),
      last_attempt_at: isoTime.nullable(),
      last_error: z.string().nullable(),
      refusal: z
        .enum(["fork", "inconsistent", "untrusted", "unknown_log", "bad_request", "bad_cosignature", "ahead"])
        .nullable()
        .describe("Why it refuses this log's checkpoints, until it cosigns again; each change raised `ledger.witness_refused`."),
      refused_at: isoTime.nullable(),
    }),
  ),
  latest: checkpointWitnessing.nullable().describe("The newest checkpoint."),
  latest_witnessed: checkpointWitnessing.nullable().describe("The newest checkpoint that reached the quorum: bundles are proven in it when it holds their events."),
});

const key1 = "witness.example/w1+2609c855+BBHmQ0R/axYD1S4ICjVEnkxvEv7K2rXTe8kRcMNBacPh";
export const ledgerWitnessesExample = {
  quorum: 2,
  witnesses: [
    {
      name: "witness.example/w1",
      key: key1,
      tree_size: 42,
      last_cosigned_checkpoint: 7,
      last_cosigned_at: "2026-12-05T03:26:58.112Z",
      last_attempt_at: "2026-12-05T03:26:58.112Z",
      last_error: null,
      refusal: null,
      refused_at: null,
    },
  ],
  latest: {
    checkpoint_id: 7,
    tree_size: 42,
    signed_at: "2026-12-05T03:26:57.899Z",
    status: "witnessed",
    cosigned_by: ["witness.example/w1", "witness.example/w2"],
    attempts: 1,
    next_attempt_at: null,
    error: null,
    witnessed_at: "2026-12-05T03:26:58.120Z",
  },
  latest_witnessed: {
    checkpoint_id: 7,
    tree_size: 42,
    signed_at: "2026-12-05T03:26:57.899Z",
    status: "witnessed",
    cosigned_by: ["witness.example/w1", "witness.example/w2"],
    attempts: 1,
    next_attempt_at: null,
    error: null,
    witnessed_at: "2026-12-05T03:26:58.120Z",
  },
};
