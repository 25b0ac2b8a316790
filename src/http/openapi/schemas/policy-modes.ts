import { z } from "zod";
import { policyModes } from "../../../policies/policy-modes.js";
import { decisions } from "../../../policies/policy-schema.js";
import { isoTime } from "./common.js";

/** The shadow-mode and replay answers (src/http/routes/policy-modes.ts). They describe answers; nothing parses with them. */
const mode = z.enum(policyModes).describe("enforce: the policy decides; shadow: it is evaluated and recorded (ledger chunk `shadow`, enforced false) but does not decide");
const eventUuid = z.string().nullable().describe("The vault.audit ledger event of this change; null when the request changed nothing");
const AT = "2026-12-05T03:40:12.345Z";
const EVENT = "01939a4e-7c21-7e3a-9f00-3b5d2c1e0f9a";

export const policyModeSchema = z.object({
  policy_id: z.string(),
  mode,
  changed: z.boolean().describe("false: the policy already had this mode; nothing was written"),
  changed_at: isoTime.nullable(),
  changed_by: z.string().nullable().describe("The reviewer id or API key id that set it"),
  ledger_event_uuid: eventUuid,
});
export const policyModeExample = { policy_id: "refund-policy", mode: "shadow", changed: true, changed_at: AT, changed_by: "rvw_2f0c9a1d7e3b", ledger_event_uuid: EVENT };

const tenantFields = {
  mode: mode.describe("shadow: every policy of the tenant is in shadow, and every request gets the shadow default"),
  shadow_default: z.enum(decisions).describe("The answer when only shadow-mode policies apply to a request (default review: fail closed)"),
  changed_at: isoTime.nullable(),
  changed_by: z.string().nullable(),
};

export const tenantModeSchema = z.object({ ...tenantFields, changed: z.boolean(), ledger_event_uuid: eventUuid });
export const tenantModeExample = { mode: "enforce", shadow_default: "review", changed: true, changed_at: AT, changed_by: "key_7c1d", ledger_event_uuid: EVENT };

export const modesViewSchema = z.object({
  ...tenantFields,
  policies: z
    .array(z.object({ policy_id: z.string(), mode, changed_at: isoTime.nullable(), changed_by: z.string().nullable() }))
    .describe("Every policy whose mode was ever set; a policy not listed enforces"),
});
export const modesViewExample = {
  mode: "enforce",
  shadow_default: "review",
  changed_at: null,
  changed_by: null,
  policies: [{ policy_id: "refund-policy", mode: "shadow", changed_at: AT, changed_by: "rvw_2f0c9a1d7e3b" }],
};

const decision = z.enum(["approved", "denied", "review"]);
export const replayReportSchema = z.object({
  replay_id: z.string().describe("rpl_…: the subject of the policy.replayed ledger event"),
  policy_id: z.string(),
  candidate_content_hash: z.string().describe("The content hash registering the candidate would give"),
  replaced_version: z.object({ policy_version_id: z.string(), version: z.int(), content_hash: z.string() }).nullable(),
  window: z.object({ since: isoTime, until: isoTime }),
  requests: z.int().describe("Recorded clearance requests in the window"),
  limit: z.int(),
  stopped: z
    .enum(["limit", "time_budget", "condition_timeouts"])
    .nullable()
    .describe(
      "Why replay stopped before the window's oldest request: the limit, the time budget, or condition_timeouts (the conditions ran over VAULT_CEL_TIMEOUT_MS on 20 requests: each such run costs a condition worker); null when it read them all",
    ),
  with_llm: z.boolean(),
  evaluated: z.int(),
  skipped: z.int(),
  skipped_by_reason: z
    .object({ undecided: z.int(), failed_closed: z.int(), unreadable: z.int(), error: z.int() })
    .describe(
      "undecided: no decision yet, or cancelled before the judge answered; failed_closed: the judge could not decide it (a fail-closed review such as condition_timeout or llm_timeout), so there is nothing to compare; unreadable: stored arguments not an object; error: the candidate could not be evaluated on it (pool busy, retrieval or the LLM failed)",
    ),
  transitions: z.record(z.string(), z.int()).describe('"old→new" (approved, denied, review) → count; unchanged pairs included, so they add up to evaluated'),
  changed_total: z.int(),
  changed: z
    .array(
      z.object({
        request_id: z.string(),
        created_at: isoTime,
        tool: z.string(),
        old: decision,
        new: decision,
        reason_code: z.string().nullable(),
        matched_condition_ids: z.array(z.string()),
        relied_on_llm: z.boolean(),
      }),
    )
    .describe("The requests whose decision would change, newest first (at most 500; changed_total counts all)"),
  relied_on_llm_count: z.int(),
  llm_not_replayed: z.int().describe("Requests the live judge would have asked its LLM about, replayed without with_llm: their new decision is the policies' default"),
  duration_ms: z.int(),
  ledger_event_uuid: z.string(),
});
export const replayReportExample = {
  replay_id: "rpl_5d1e0c7a9b3f",
  policy_id: "refund-policy",
  candidate_content_hash: "sha256:9f1c2d3e4a5b6c7d8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5",
  replaced_version: { policy_version_id: "pv_3c9e1f", version: 3, content_hash: "sha256:4b8e1cd1a0c3f5bb2b7e3b0f9a8d7c6e5f4a3b2c1d0e9f8a7b6c5d4e3f2a1b0c" },
  window: { since: "2026-11-05T03:40:12.345Z", until: AT },
  requests: 12000,
  limit: 10000,
  stopped: "limit",
  with_llm: false,
  evaluated: 10000,
  skipped: 0,
  skipped_by_reason: { undecided: 0, failed_closed: 0, unreadable: 0, error: 0 },
  transitions: { "approved→approved": 6000, "approved→denied": 1500, "denied→denied": 2500 },
  changed_total: 1500,
  changed: [
    {
      request_id: "req_01939a4e7c217e3a9f003b5d2c1e0f9a",
      created_at: AT,
      tool: "stripe_refund",
      old: "approved",
      new: "denied",
      reason_code: "condition_matched",
      matched_condition_ids: ["refund-policy/over-500"],
      relied_on_llm: false,
    },
  ],
  relied_on_llm_count: 0,
  llm_not_replayed: 0,
  duration_ms: 1840,
  ledger_event_uuid: EVENT,
};
