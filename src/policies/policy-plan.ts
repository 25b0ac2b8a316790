import { canonicalJson } from "../tokens/canonical-json.js";
import { policyDiff } from "./policy-diff.js";
import type { PolicyFile } from "./policy-files.js";
import type { PolicyDocument } from "./policy-schema.js";

/**
 * A policy as the vault holds it now: its current version's status and registrable content (null
 * when not read: a policy no file names, or content today's schema no longer accepts).
 */
export interface VaultPolicy {
  policy_id: string;
  status: "active" | "retired";
  version: number;
  content: PolicyDocument | null;
}

export type PlanStep =
  /** `reactivates`: the vault holds the policy retired; registering it makes a new active version. */
  | { action: "create"; policy_id: string; file: string; reactivates: boolean; diff: string; doc: PolicyDocument }
  | { action: "change"; policy_id: string; file: string; version: number; diff: string; doc: PolicyDocument }
  | { action: "unchanged"; policy_id: string; file: string; version: number }
  | { action: "retire"; policy_id: string; version: number };

export interface Plan {
  steps: PlanStep[];
  /** Active policies in the vault that no file names, left alone because --prune was not given. */
  notInFiles: string[];
}

const sameContent = (a: PolicyDocument, b: PolicyDocument): boolean => canonicalJson(a) === canonicalJson(b);

/**
 * What `policies apply` would do: create the policies the vault lacks (or holds retired), change
 * those whose content differs, and with `prune` retire active policies no file names. Without
 * `prune` nothing is retired: applying a single file must not retire every other policy.
 */
export function planPolicies(files: PolicyFile[], vault: VaultPolicy[], opts: { prune: boolean }): Plan {
  const inVault = new Map(vault.map((p) => [p.policy_id, p]));
  const named = new Set(files.map((f) => f.doc.policy_id));
  const steps: PlanStep[] = [];
  for (const { file, doc } of [...files].sort((a, b) => compare(a.doc.policy_id, b.doc.policy_id))) {
    const current = inVault.get(doc.policy_id);
    const id = doc.policy_id;
    if (!current || current.status === "retired") {
      const from = current ? { label: `vault: ${id} v${current.version} (retired)`, content: current.content } : { label: "vault: (none)", content: null };
      steps.push({ action: "create", policy_id: id, file, reactivates: Boolean(current), diff: policyDiff(from, { label: file, content: doc }, "yaml"), doc });
    } else if (current.content && sameContent(current.content, doc)) {
      steps.push({ action: "unchanged", policy_id: id, file, version: current.version });
    } else {
      const diff = policyDiff({ label: `vault: ${id} v${current.version}`, content: current.content }, { label: file, content: doc }, "yaml");
      steps.push({ action: "change", policy_id: id, file, version: current.version, diff, doc });
    }
  }
  const absent = vault.filter((p) => p.status === "active" && !named.has(p.policy_id)).sort((a, b) => compare(a.policy_id, b.policy_id));
  if (opts.prune) for (const p of absent) steps.push({ action: "retire", policy_id: p.policy_id, version: p.version });
  return { steps, notInFiles: opts.prune ? [] : absent.map((p) => p.policy_id) };
}

// A stable order for the plan, whatever order the files were found in.
const compare = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

export function planCounts(plan: Plan) {
  const count = (action: PlanStep["action"]) => plan.steps.filter((s) => s.action === action).length;
  return { create: count("create"), change: count("change"), unchanged: count("unchanged"), retire: count("retire") };
}

export function hasChanges(plan: Plan): boolean {
  return plan.steps.some((s) => s.action !== "unchanged");
}

/** The plan as text: a summary line, one line per policy, and the diff of each created or changed one. */
export function renderPlan(plan: Plan): string {
  const c = planCounts(plan);
  const lines = [`Plan: ${c.create} to create, ${c.change} to change, ${c.retire} to retire, ${c.unchanged} unchanged.`];
  for (const s of plan.steps) {
    switch (s.action) {
      case "create":
        lines.push(`+ create     ${s.policy_id}  (${s.file})${s.reactivates ? "  registers the retired policy again" : ""}`, indent(s.diff));
        break;
      case "change":
        lines.push(`~ change     ${s.policy_id}  v${s.version} -> v${s.version + 1}  (${s.file})`, indent(s.diff));
        break;
      case "unchanged":
        lines.push(`= unchanged  ${s.policy_id}  v${s.version}  (${s.file})`);
        break;
      case "retire":
        lines.push(`- retire     ${s.policy_id}  v${s.version} (not in the files)`);
        break;
    }
  }
  if (plan.notInFiles.length > 0) {
    const one = plan.notInFiles.length === 1;
    lines.push(`${plan.notInFiles.length} active ${one ? "policy is" : "policies are"} in the vault but in no file, and ${one ? "stays" : "stay"}: ${plan.notInFiles.join(", ")} (--prune retires them)`);
  }
  return lines.join("\n");
}

function indent(diff: string): string {
  // The "=====" line of the patch adds nothing; its ---/+++ lines say which side is which.
  return diff
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith("==="))
    .map((l) => `    ${l}`)
    .join("\n");
}
