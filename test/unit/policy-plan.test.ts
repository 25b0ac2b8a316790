import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import YAML from "yaml";
import { afterEach, describe, expect, it } from "vitest";
import { canonicalPolicy, policyDiff, policyText } from "../../src/policies/policy-diff.js";
import { exportedPolicyText, loadPolicyFiles, PolicyFileError, policyFileName, registrableContent } from "../../src/policies/policy-files.js";
import { hasChanges, planCounts, planPolicies, renderPlan, type VaultPolicy } from "../../src/policies/policy-plan.js";
import { registerPolicySchema, type PolicyDocument } from "../../src/policies/policy-schema.js";

const doc = (over: Partial<PolicyDocument> & { policy_id: string }): PolicyDocument => registerPolicySchema.parse({ tools: ["t"], ...over });
const wires = doc({ policy_id: "wires", conditions: [{ id: "huge", when: "args.amount > 10000", decision: "deny", reason: "too large" }] });

const dirs: string[] = [];
function tree(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "cs-policy-files-"));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    mkdirSync(path.dirname(path.join(dir, name)), { recursive: true });
    writeFileSync(path.join(dir, name), text);
  }
  return dir;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function problemsOf(target: string): Promise<string[]> {
  const err = await loadPolicyFiles(target).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(PolicyFileError);
  return (err as PolicyFileError).problems;
}

describe("policy text and diffs", () => {
  it("writes policy content in one canonical order, whatever order it came in", () => {
    const shuffled = { default_decision: "deny", conditions: [{ reason: "r", decision: "deny", when: "true", id: "c" }], policy_id: "p", tools: [], rules: [], description: "" } as const;
    expect(Object.keys(canonicalPolicy(shuffled as never))).toEqual(["policy_id", "description", "tools", "rules", "conditions", "default_decision"]);
    expect(policyText(shuffled as never, "yaml")).toBe(policyText(doc({ policy_id: "p", tools: [], conditions: [{ id: "c", when: "true", decision: "deny", reason: "r" }], default_decision: "deny" }), "yaml"));
    expect(JSON.parse(policyText(wires, "json"))).toEqual(wires);
  });

  it("keeps a long condition on one line, so a diff shows the condition that changed", () => {
    const long = `args.amount > 10000 && ${"args.currency == 'usd' && ".repeat(8)}true`;
    const text = policyText({ ...wires, conditions: [{ ...wires.conditions[0]!, when: long }] }, "yaml");
    expect(text).toContain(`when: ${long}\n`);
    const d = policyDiff({ label: "a", content: wires }, { label: "b", content: { ...wires, default_decision: "deny" } }, "yaml");
    expect(d).toContain("--- a\n+++ b\n");
    expect(d).toContain("-default_decision: review\n+default_decision: deny\n");
    expect(d).not.toContain("+policy_id");
  });

  it("diffs from nothing as all added", () => {
    expect(policyDiff({ label: "none", content: null }, { label: "b", content: wires }, "yaml")).toContain("+policy_id: wires\n");
  });
});

describe("reading policy files", () => {
  it("reads YAML and JSON files recursively, one policy each, with the schema's defaults", async () => {
    const dir = tree({
      "a/wires.yaml": YAML.stringify({ policy_id: "wires", tools: ["t"], conditions: wires.conditions }),
      "mail.json": JSON.stringify({ policy_id: "mail" }),
      "notes.txt": "not a policy",
    });
    const files = await loadPolicyFiles(dir);
    expect(files.map((f) => [path.relative(dir, f.file), f.doc.policy_id])).toEqual([
      [path.join("a", "wires.yaml"), "wires"],
      ["mail.json", "mail"],
    ]);
    expect(files[1]!.doc).toEqual({ policy_id: "mail", description: "", rules: [], tools: [], conditions: [], default_decision: "review" });
    expect((await loadPolicyFiles(path.join(dir, "mail.json"))).map((f) => f.doc.policy_id)).toEqual(["mail"]);
  });

  it("names the file, the policy and the condition of a condition that does not compile, with the compiler's message", async () => {
    const dir = tree({
      "bad.yaml": YAML.stringify({ policy_id: "wires", conditions: [{ id: "ok", when: "true", decision: "deny" }, { id: "broken", when: "args.amount >", decision: "deny" }] }),
      "unknown.yaml": YAML.stringify({ policy_id: "mail", conditions: [{ id: "who", when: "user == 'x'", decision: "deny" }] }),
    });
    const problems = await problemsOf(dir);
    expect(problems).toHaveLength(2);
    expect(problems[0]).toMatch(new RegExp(`^${escape(path.join(dir, "bad.yaml"))}: policy wires: condition broken: does not compile: .+`));
    expect(problems[1]).toContain(`${path.join(dir, "unknown.yaml")}: policy mail: condition who: does not compile: unknown variable "user"`);
  });

  it("refuses invalid policies, unreadable files, several documents in one file and a policy id given twice", async () => {
    const dir = tree({
      "1-typo.yaml": "policy_id: p1\ncondtions: []\n",
      "2-broken.json": "{ nope",
      "3-two.yaml": "policy_id: p3\n---\npolicy_id: p4\n",
      "4-dup-key.yaml": "policy_id: p5\npolicy_id: p6\n",
      "5-first.yaml": "policy_id: same\n",
      "6-second.json": '{"policy_id": "same"}',
    });
    const problems = await problemsOf(dir);
    const at = (name: string) => problems.filter((p) => p.includes(name));
    expect(at("1-typo.yaml")[0]).toMatch(/1-typo\.yaml: policy p1: .*condtions/);
    expect(at("2-broken.json")[0]).toMatch(/cannot be read as JSON/);
    expect(at("3-two.yaml")[0]).toMatch(/holds 2 YAML documents; write one policy per file/);
    expect(at("4-dup-key.yaml")[0]).toMatch(/cannot be read as YAML/);
    expect(problems.find((p) => p.startsWith("policy same is defined twice"))).toBe(`policy same is defined twice: in ${path.join(dir, "5-first.yaml")} and in ${path.join(dir, "6-second.json")}`);
    expect(problems).toHaveLength(5);
  });

  it("refuses a missing path and a directory with no policy files", async () => {
    expect((await problemsOf("/nonexistent/policies"))[0]).toContain("no such file or directory");
    expect((await problemsOf(tree({ "readme.md": "x" })))[0]).toContain("no .yaml, .yml or .json policy files");
  });

  it("exports to a file name that keeps ids apart, and to text that reads back as the same policy", async () => {
    expect(policyFileName("team/a:b", "yaml")).toBe("team%2Fa%3Ab.yaml");
    expect(policyFileName("team_a_b", "json")).toBe("team_a_b.json");
    const stored = { ...wires, documents: [{ document_id: "doc_1", title: "T", media_type: "text/markdown" as const, content_hash: "sha256:x" }], retired: true };
    expect(registrableContent(stored)).toEqual(wires);
    for (const format of ["yaml", "json"] as const) {
      const dir = tree({ [policyFileName("wires", format)]: exportedPolicyText(wires, format, ["exported", "documents: T"]) });
      expect((await loadPolicyFiles(dir))[0]!.doc).toEqual(wires);
    }
    expect(exportedPolicyText(wires, "yaml", ["a note"])).toMatch(/^# a note\npolicy_id: wires\n/);
  });
});

describe("planning", () => {
  const vault = (p: PolicyDocument, over: Partial<VaultPolicy> = {}): VaultPolicy => ({ policy_id: p.policy_id, status: "active", version: 2, content: p, ...over });
  const file = (p: PolicyDocument) => ({ file: `${p.policy_id}.yaml`, doc: p });
  const mail = doc({ policy_id: "mail" });
  const old = doc({ policy_id: "old" });

  it("creates what the vault lacks, changes what differs (with a diff) and leaves the same content alone", () => {
    const changed = { ...wires, default_decision: "deny" as const };
    const plan = planPolicies([file(changed), file(mail), file(old)], [vault(wires), vault(mail)], { prune: false });
    expect(plan.steps.map((s) => [s.action, s.policy_id])).toEqual([
      ["unchanged", "mail"],
      ["create", "old"],
      ["change", "wires"],
    ]);
    const change = plan.steps[2]!;
    expect(change.action === "change" && change.diff).toContain("-default_decision: review\n+default_decision: deny\n");
    expect(planCounts(plan)).toEqual({ create: 1, change: 1, unchanged: 1, retire: 0 });
    expect(renderPlan(plan)).toMatch(/^Plan: 1 to create, 1 to change, 0 to retire, 1 unchanged\.\n/);
    expect(renderPlan(plan)).toContain("~ change     wires  v2 -> v3  (wires.yaml)\n");
  });

  it("compares content with the schema's defaults filled in, so an omitted default is no change", () => {
    const sparse = registerPolicySchema.parse({ policy_id: "mail", tools: ["t"], description: "", default_decision: "review" });
    expect(hasChanges(planPolicies([file(sparse)], [vault(mail)], { prune: false }))).toBe(false);
  });

  it("retires policies no file names only with prune, and otherwise says they stay", () => {
    const without = planPolicies([file(mail)], [vault(mail), vault(old), vault(wires, { status: "retired" })], { prune: false });
    expect(without.steps.map((s) => s.action)).toEqual(["unchanged"]);
    expect(without.notInFiles).toEqual(["old"]);
    expect(renderPlan(without)).toContain("1 active policy is in the vault but in no file, and stays: old (--prune retires them)");
    const pruned = planPolicies([file(mail)], [vault(mail), vault(old), vault(wires, { status: "retired" })], { prune: true });
    expect(pruned.steps.map((s) => [s.action, s.policy_id])).toEqual([
      ["unchanged", "mail"],
      ["retire", "old"],
    ]);
    expect(pruned.notInFiles).toEqual([]);
  });

  it("registers a retired policy again as a create, even with the same content", () => {
    const plan = planPolicies([file(wires)], [vault(wires, { status: "retired", version: 3 })], { prune: false });
    expect(plan.steps).toEqual([expect.objectContaining({ action: "create", policy_id: "wires", reactivates: true })]);
    expect(renderPlan(plan)).toContain("registers the retired policy again");
  });

  it("treats vault content it could not read as changed", () => {
    expect(planPolicies([file(mail)], [vault(mail, { content: null })], { prune: false }).steps[0]!.action).toBe("change");
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
