import { readFile } from "node:fs/promises";
import { CommandError } from "./cli-errors.js";
import type { Printed } from "./policy-actions.js";
import type { VaultApi } from "./vault-api.js";

/**
 * `countersign policies mode|tenant-mode|replay` (docs/shadow-mode.md), against the vault's API
 * (PUT /policies/{id}/mode, GET/PUT /policy-mode, POST /policies/{id}/replay). Each returns the JSON
 * value and the text the command prints.
 */
interface ModeAnswer {
  policy_id?: string;
  mode: string;
  shadow_default?: string;
  changed: boolean;
  ledger_event_uuid: string | null;
}

const policyPath = (id: string, rest: string) => `/policies/${encodeURIComponent(id)}${rest}`;
const recorded = (a: ModeAnswer) => (a.changed ? `recorded as ledger event ${a.ledger_event_uuid}` : "unchanged: nothing recorded");

export async function policyModeAction(vault: VaultApi, policyId: string, mode: string | undefined, reason: string | undefined): Promise<Printed> {
  if (mode === undefined) {
    const a = await vault.request<ModeAnswer & { changed_at: string | null; changed_by: string | null }>("GET", policyPath(policyId, "/mode"));
    return { value: a, text: `${policyId}: ${a.mode}${a.changed_at ? ` (set ${a.changed_at} by ${a.changed_by})` : ""}` };
  }
  const a = await vault.request<ModeAnswer>("PUT", policyPath(policyId, "/mode"), { body: reason === undefined ? { mode } : { mode, reason } });
  const note = a.mode === "shadow" && a.changed ? " (log-only: its decisions are recorded, not enforced)" : "";
  return { value: a, text: `${policyId}: ${a.mode}${note}; ${recorded(a)}` };
}

interface ModesView {
  mode: string;
  shadow_default: string;
  policies: { policy_id: string; mode: string }[];
}

export async function tenantModeAction(vault: VaultApi, mode: string | undefined, opts: { shadowDefault?: string; reason?: string }): Promise<Printed> {
  if (mode === undefined) {
    if (opts.shadowDefault !== undefined) throw new CommandError("--shadow-default needs the mode too: countersign policies tenant-mode enforce --shadow-default review");
    const view = await vault.request<ModesView>("GET", "/policy-mode");
    const shadowed = view.policies.filter((p) => p.mode === "shadow").map((p) => p.policy_id);
    return {
      value: view,
      text: [`tenant: ${view.mode}, shadow default ${view.shadow_default}`, `policies in shadow: ${shadowed.length > 0 ? shadowed.join(", ") : "(none)"}`].join("\n"),
    };
  }
  const body: Record<string, string> = { mode };
  if (opts.shadowDefault !== undefined) body.shadow_default = opts.shadowDefault;
  if (opts.reason !== undefined) body.reason = opts.reason;
  const a = await vault.request<ModeAnswer>("PUT", "/policy-mode", { body });
  const note = a.mode === "shadow" && a.changed ? " (log-only: every request gets the shadow default)" : "";
  return { value: a, text: `tenant: ${a.mode}, shadow default ${a.shadow_default}${note}; ${recorded(a)}` };
}

export interface ReplayAnswer {
  replay_id: string;
  policy_id: string;
  candidate_content_hash: string;
  window: { since: string; until: string };
  requests: number;
  evaluated: number;
  skipped: number;
  stopped: "limit" | "time_budget" | "condition_timeouts" | null;
  transitions: Record<string, number>;
  changed_total: number;
  changed: { request_id: string; created_at: string; tool: string; old: string; new: string; matched_condition_ids: string[]; relied_on_llm: boolean }[];
  relied_on_llm_count: number;
  llm_not_replayed: number;
  duration_ms: number;
  ledger_event_uuid: string;
}

const STOPPED: Record<NonNullable<ReplayAnswer["stopped"]>, string> = {
  limit: "stopped at the limit",
  time_budget: "stopped at the time budget",
  condition_timeouts: "stopped: the conditions ran over their time budget (VAULT_CEL_TIMEOUT_MS) on too many requests",
};

/** The report as a reader scans it: the counts table first, then the changed requests. */
export function replayText(r: ReplayAnswer, maxChanged = 50): string {
  const lines = [
    `replay ${r.replay_id} of ${r.policy_id} (candidate ${r.candidate_content_hash})`,
    `window ${r.window.since} … ${r.window.until}: ${r.requests} recorded, ${r.evaluated} evaluated, ${r.skipped} skipped${r.stopped ? `, ${STOPPED[r.stopped]}` : ""} (${r.duration_ms} ms)`,
    "",
    "old → new            requests",
    ...Object.entries(r.transitions).map(([pair, n]) => `${pair.replace("→", " → ").padEnd(20)} ${String(n).padStart(8)}${pair.split("→")[0] === pair.split("→")[1] ? "" : "  changed"}`),
    "",
    `${r.changed_total} would change${r.relied_on_llm_count > 0 ? `; ${r.relied_on_llm_count} decisions relied on the LLM` : ""}${r.llm_not_replayed > 0 ? `; ${r.llm_not_replayed} would have gone to the LLM (not replayed: --with-llm)` : ""}`,
    ...r.changed.slice(0, maxChanged).map((c) => `  ${c.request_id}  ${c.created_at}  ${c.tool}  ${c.old} → ${c.new}${c.matched_condition_ids.length ? `  [${c.matched_condition_ids.join(", ")}]` : ""}${c.relied_on_llm ? "  (LLM)" : ""}`),
    ...(r.changed_total > Math.min(maxChanged, r.changed.length) ? [`  … ${r.changed_total - Math.min(maxChanged, r.changed.length)} more (--json lists up to ${r.changed.length})`] : []),
    "",
    `recorded as ledger event ${r.ledger_event_uuid}`,
  ];
  return lines.join("\n");
}

export async function replayAction(
  vault: VaultApi,
  opts: { policy: string; candidate: string; since?: string; limit?: number; withLlm?: boolean },
): Promise<Printed<ReplayAnswer>> {
  let text: string;
  try {
    text = await readFile(opts.candidate, "utf8");
  } catch (err) {
    throw new CommandError(`${opts.candidate}: ${(err as NodeJS.ErrnoException).code === "ENOENT" ? "no such file" : (err as Error).message}`);
  }
  // The text goes as it is (YAML or JSON): the vault parses and validates it as it does every candidate.
  const body: Record<string, unknown> = { candidate: text };
  if (opts.since !== undefined) body.since = opts.since;
  if (opts.limit !== undefined) body.limit = opts.limit;
  if (opts.withLlm) body.with_llm = true;
  const r = await vault.request<ReplayAnswer>("POST", policyPath(opts.policy, "/replay"), { body });
  return { value: r, text: replayText(r) };
}
