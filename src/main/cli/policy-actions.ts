import { mkdir, writeFile } from "node:fs/promises";
import path from "node:path";
import type { PolicyFormat } from "../../policies/policy-diff.js";
import { exportedPolicyText, loadPolicyFiles, PolicyFileError, policyFileName, registrableContent, type PolicyFile } from "../../policies/policy-files.js";
import { hasChanges, planPolicies, renderPlan, type Plan, type PlanStep, type VaultPolicy } from "../../policies/policy-plan.js";
import type { PolicyDocument } from "../../policies/policy-schema.js";
import { CommandError } from "./cli-errors.js";
import { VaultApiError, type VaultApi } from "./vault-api.js";

/**
 * What `countersign policies ...` does, against the vault's API (GET/DELETE /policies...,
 * POST /register-policy). Each action returns the JSON value and the text the command prints, so
 * it is tested over a real vault without a process per call.
 */
export interface Printed<T = unknown> {
  value: T;
  text: string;
}

export interface PolicySummary {
  policy_id: string;
  policy_version_id: string;
  version: number;
  status: "active" | "retired";
  content_hash: string;
  description: string;
  tools: string[];
  default_decision: string;
  condition_count: number;
  registered_at: string;
}

export interface PolicyDetail {
  policy_id: string;
  status: "active" | "retired";
  policy_version_id: string;
  version: number;
  content_hash: string;
  registered_at: string;
  description: string;
  rules: string[];
  tools: string[];
  conditions: { id: string; when: string; decision: string; reason: string }[];
  default_decision: string;
  documents: { document_id: string; title: string; media_type: string; content_hash: string }[];
}

interface VersionEntry { policy_version_id: string; version: number; status: string; content_hash: string; registered_at: string; current: boolean }
interface RetireAnswer { policy_id: string; status: "retired"; policy_version_id: string; version: number; content_hash: string }
interface RegisterAnswer { policy_id: string; status: "registered" | "unchanged"; policy_version_id: string; version: number; policy_content_hash: string }

const policyPath = (id: string, rest = "") => `/policies/${encodeURIComponent(id)}${rest}`;

/** Every policy, through all pages of GET /policies. */
export async function allPolicies(vault: VaultApi, includeRetired: boolean): Promise<PolicySummary[]> {
  const all: PolicySummary[] = [];
  let cursor: string | undefined;
  do {
    const page = await vault.request<{ policies: PolicySummary[]; next_cursor: string | null }>("GET", "/policies", {
      query: { limit: 200, cursor, include_retired: includeRetired },
    });
    all.push(...page.policies);
    cursor = page.next_cursor ?? undefined;
  } while (cursor);
  return all;
}

export async function listAction(vault: VaultApi, includeRetired: boolean): Promise<Printed> {
  const policies = await allPolicies(vault, includeRetired);
  const lines = policies.map((p) => `${p.policy_id}  v${p.version}  ${p.status}  ${p.tools.length > 0 ? p.tools.join(",") : "(all tools)"}  default ${p.default_decision}  ${p.condition_count} condition(s)`);
  return { value: { policies }, text: lines.join("\n") || "(no policies)" };
}

/** The policy as text: a header, then the registration body as YAML (what `export` writes). */
function detailText(p: PolicyDetail): string {
  const head = [`${p.policy_id}  v${p.version}  ${p.status}  ${p.content_hash}  registered ${p.registered_at}`];
  for (const d of p.documents) head.push(`document: ${d.title} (${d.document_id}, ${d.media_type})`);
  return `${head.join("\n")}\n\n${exportedPolicyText(registrableContent(p), "yaml").trimEnd()}`;
}

export async function getAction(vault: VaultApi, policyId: string, version?: number): Promise<Printed> {
  const p = await vault.request<PolicyDetail>("GET", version === undefined ? policyPath(policyId) : policyPath(policyId, `/versions/${version}`));
  return { value: p, text: detailText(p) };
}

export async function versionsAction(vault: VaultApi, policyId: string): Promise<Printed> {
  const answer = await vault.request<{ policy_id: string; versions: VersionEntry[] }>("GET", policyPath(policyId, "/versions"));
  const lines = answer.versions.map((v) => `v${v.version}  ${v.status}  ${v.content_hash}  ${v.registered_at}${v.current ? "  (current)" : ""}`);
  return { value: answer, text: lines.join("\n") };
}

export async function diffAction(vault: VaultApi, policyId: string, range: { from?: number; to?: number; format?: PolicyFormat }): Promise<Printed> {
  const answer = await vault.request<{ diff: string }>("GET", policyPath(policyId, "/diff"), { query: { from: range.from, to: range.to, format: range.format } });
  return { value: answer, text: answer.diff.trimEnd() };
}

export async function retireAction(vault: VaultApi, policyId: string): Promise<Printed> {
  const r = await vault.request<RetireAnswer>("DELETE", policyPath(policyId));
  return { value: r, text: `retired ${r.policy_id} (v${r.version}, ${r.content_hash})` };
}

/** Reads and checks the files (every problem at once, exit 1), then plans against the vault. */
export async function planAction(vault: VaultApi, target: string, opts: { prune: boolean }): Promise<Plan> {
  let files: PolicyFile[];
  try {
    files = await loadPolicyFiles(target);
  } catch (err) {
    if (err instanceof PolicyFileError) throw new CommandError(`nothing applied: ${err.problems.length} problem(s) in the policy files\n${err.message}`);
    throw err;
  }
  const named = new Set(files.map((f) => f.doc.policy_id));
  const state: VaultPolicy[] = [];
  for (const p of await allPolicies(vault, true)) {
    // Only the policies the files name need their content (to compare); the others only their status.
    const content = named.has(p.policy_id) ? vaultContent(await vault.request<PolicyDetail>("GET", policyPath(p.policy_id))) : null;
    state.push({ policy_id: p.policy_id, status: p.status, version: p.version, content });
  }
  return planPolicies(files, state, opts);
}

/** The vault's content as a registration body, or null when it no longer passes today's schema (then it differs from any file). */
function vaultContent(p: PolicyDetail): PolicyDocument | null {
  try {
    return registrableContent(p);
  } catch {
    return null;
  }
}

export function planValue(plan: Plan) {
  // The plan's JSON: each step without the parsed body it would send (the diff shows it).
  const steps = plan.steps.map((s) => {
    if (!("doc" in s)) return s;
    const { doc: _doc, ...rest } = s;
    return rest;
  });
  return { steps, not_in_files: plan.notInFiles };
}

export interface AppliedStep { policy_id: string; action: PlanStep["action"]; status: string; version: number; content_hash: string }

/** Carries the plan out in its order. A failure stops it, saying what was applied before. */
/** What the plan assumed of the policy, or why the vault no longer matches it (someone changed it since). */
async function driftSincePlan(vault: VaultApi, step: Exclude<PlanStep, { action: "unchanged" }>): Promise<string | null> {
  let now: PolicyDetail | null;
  try {
    now = await vault.request<PolicyDetail>("GET", policyPath(step.policy_id));
  } catch (err) {
    if (!(err instanceof VaultApiError) || err.code !== "policy_not_found") throw err;
    now = null;
  }
  const seen = now ? `v${now.version}, ${now.status}` : "absent";
  if (step.action === "create") {
    const expected = step.reactivates ? now?.status === "retired" : now === null;
    return expected ? null : `planned as ${step.reactivates ? "retired" : "absent"}, now ${seen}`;
  }
  return now?.status === "active" && now.version === step.version ? null : `planned at v${step.version}, active; now ${seen}`;
}

export async function applyPlan(vault: VaultApi, plan: Plan): Promise<Printed<{ applied: AppliedStep[] }>> {
  const applied: AppliedStep[] = [];
  const doneSoFar = () => (applied.length > 0 ? `applied before it: ${applied.map((a) => `${a.action} ${a.policy_id}`).join(", ")}` : "nothing was applied before it");
  for (const step of plan.steps) {
    if (step.action === "unchanged") continue;
    // The plan was shown (and perhaps confirmed) a while ago: a policy someone changed since is not overwritten blindly.
    const drift = await driftSincePlan(vault, step);
    if (drift) throw new CommandError(`${step.action} ${step.policy_id} stopped: the policy changed since the plan (${drift}); ${doneSoFar()}. Run apply again to plan anew`);
    try {
      if (step.action === "retire") {
        const r = await vault.request<RetireAnswer>("DELETE", policyPath(step.policy_id));
        applied.push({ policy_id: r.policy_id, action: "retire", status: r.status, version: r.version, content_hash: r.content_hash });
      } else {
        const r = await vault.request<RegisterAnswer>("POST", "/register-policy", { body: step.doc });
        applied.push({ policy_id: r.policy_id, action: step.action, status: r.status, version: r.version, content_hash: r.policy_content_hash });
      }
    } catch (err) {
      if (!(err instanceof VaultApiError)) throw err;
      throw new CommandError(`${step.action} ${step.policy_id} failed: ${err.message}; ${doneSoFar()}`);
    }
  }
  const lines = applied.map((a) => `${a.action === "retire" ? "retired" : a.status === "unchanged" ? "unchanged" : a.action === "create" ? "created" : "changed"} ${a.policy_id} (v${a.version}, ${a.content_hash})`);
  return { value: { applied }, text: lines.join("\n") || "nothing to apply" };
}

export { hasChanges, renderPlan };

/** Writes one file per active policy into `dir`; `apply` of that directory then plans every policy unchanged. */
export async function exportAction(vault: VaultApi, dir: string, format: PolicyFormat): Promise<Printed> {
  await mkdir(dir, { recursive: true });
  const written: { policy_id: string; version: number; file: string }[] = [];
  for (const p of await allPolicies(vault, false)) {
    const detail = await vault.request<PolicyDetail>("GET", policyPath(p.policy_id));
    const file = path.join(dir, policyFileName(p.policy_id, format));
    const note = [
      `Exported from ${vault.target}: ${p.policy_id} v${detail.version}, ${detail.content_hash}.`,
      ...detail.documents.map((d) => `Attached document (kept by apply, not in this file): ${JSON.stringify(d.title)} (${d.document_id})`),
    ];
    await writeFile(file, exportedPolicyText(registrableContent(detail), format, note));
    written.push({ policy_id: p.policy_id, version: detail.version, file });
  }
  return { value: { written }, text: written.map((w) => `${w.file}  (${w.policy_id} v${w.version})`).join("\n") || "(no active policies)" };
}
