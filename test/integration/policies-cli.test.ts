import { execFile } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { promisify } from "node:util";
import YAML from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CommandError } from "../../src/main/cli/cli-errors.js";
import {
  applyPlan,
  diffAction,
  exportAction,
  getAction,
  listAction,
  planAction,
  planValue,
  renderPlan,
  retireAction,
  versionsAction,
} from "../../src/main/cli/policy-actions.js";
import type { VaultApi } from "../../src/main/cli/vault-api.js";
import { RemoteVault } from "../../src/main/cli/vault-clients.js";
import { call, newPgDatabase, refundPolicy, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

const execFileAsync = promisify(execFile);
const wirePolicy = { policy_id: "wires", tools: ["wire_transfer"], conditions: [{ id: "huge", when: "args.amount > 10000", decision: "deny", reason: "too large" }] };

describe("countersign policies", () => {
  let db: TestDatabase;
  let v: TestVault;
  let api: VaultApi;
  const temp: string[] = [];
  const dir = (files: Record<string, string> = {}) => {
    const d = mkdtempSync(path.join(os.tmpdir(), "cs-policies-cli-"));
    temp.push(d);
    for (const [name, text] of Object.entries(files)) writeFileSync(path.join(d, name), text);
    return d;
  };
  /** The real command line, against the running test vault: exit code, stdout and stderr. */
  const cli = async (...args: string[]) => {
    try {
      const { stdout, stderr } = await execFileAsync("node", ["--import", "tsx", "src/main/cli.ts", "--url", v.url, "--api-key", v.adminKey, "policies", ...args], {
        env: { ...process.env, LOG_LEVEL: "silent", COUNTERSIGN_URL: "", COUNTERSIGN_API_KEY: "" },
      });
      return { code: 0, stdout, stderr };
    } catch (err) {
      const e = err as { code: number; stdout: string; stderr: string };
      return { code: e.code, stdout: e.stdout, stderr: e.stderr };
    }
  };
  const current = async (id: string) => (await call(v.url, "GET", `/policies/${id}`, { key: v.adminKey })).body;

  beforeAll(async () => {
    db = newPgDatabase();
    v = await startTestVault(db);
    api = RemoteVault.at(v.url, v.adminKey);
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy })).status).toBe(200);
  });
  afterAll(async () => {
    for (const d of temp) rmSync(d, { recursive: true, force: true });
    await v?.close();
    await db?.drop();
  });

  it("apply --dry-run shows what would be created and changed, with the diff, and changes nothing", async () => {
    const changed = { ...refundPolicy, default_decision: "deny" };
    const files = dir({ "refund.yaml": YAML.stringify(changed), "wires.json": JSON.stringify(wirePolicy) });
    const run = await cli("apply", "-f", files, "--dry-run");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain("Plan: 1 to create, 1 to change, 0 to retire, 0 unchanged.");
    expect(run.stdout).toContain(`~ change     refund-policy  v1 -> v2  (${path.join(files, "refund.yaml")})`);
    expect(run.stdout).toContain("-default_decision: review\n    +default_decision: deny");
    expect(run.stdout).toContain(`+ create     wires  (${path.join(files, "wires.json")})`);
    expect(await current("refund-policy")).toMatchObject({ version: 1, default_decision: "review" });
    expect((await call(v.url, "GET", "/policies/wires", { key: v.adminKey })).status).toBe(404);
  });

  it("apply exits 1 before planning on a condition that does not compile, naming the file, the policy and the condition", async () => {
    const broken = { ...wirePolicy, conditions: [{ id: "huge", when: "args.amount >", decision: "deny" }] };
    const files = dir({ "refund.yaml": YAML.stringify({ ...refundPolicy, default_decision: "deny" }), "wires.yaml": YAML.stringify(broken) });
    const run = await cli("apply", "-f", files);
    expect(run.code).toBe(1);
    expect(run.stderr).toMatch(new RegExp(`nothing applied: 1 problem\\(s\\) in the policy files\\n${escape(path.join(files, "wires.yaml"))}: policy wires: condition huge: does not compile: .+`));
    expect(run.stdout).not.toContain("Plan:");
    expect(await current("refund-policy")).toMatchObject({ version: 1 });
  });

  it("applies a plan, after which the same files plan nothing; --prune retires the policies no file names", async () => {
    const files = dir({ "refund.yaml": YAML.stringify({ ...refundPolicy, default_decision: "deny" }), "wires.yaml": YAML.stringify(wirePolicy) });
    const plan = await planAction(api, files, { prune: false });
    const done = await applyPlan(api, plan);
    expect(done.value.applied).toEqual([
      { policy_id: "refund-policy", action: "change", status: "registered", version: 2, content_hash: expect.stringMatching(/^sha256:/) },
      { policy_id: "wires", action: "create", status: "registered", version: 1, content_hash: expect.stringMatching(/^sha256:/) },
    ]);
    expect(done.text).toBe(`changed refund-policy (v2, ${done.value.applied[0]!.content_hash})\ncreated wires (v1, ${done.value.applied[1]!.content_hash})`);
    expect(await current("refund-policy")).toMatchObject({ version: 2, default_decision: "deny" });

    const again = await planAction(api, files, { prune: false });
    expect(again.steps.map((s) => s.action)).toEqual(["unchanged", "unchanged"]);
    expect((await applyPlan(api, again)).text).toBe("nothing to apply");

    // One file alone never retires the rest, unless --prune says so.
    const single = path.join(files, "wires.yaml");
    const alone = await planAction(api, single, { prune: false });
    expect(planValue(alone)).toEqual({ steps: [{ action: "unchanged", policy_id: "wires", file: single, version: 1 }], not_in_files: ["refund-policy"] });
    const pruned = await planAction(api, single, { prune: true });
    expect(renderPlan(pruned)).toContain("- retire     refund-policy  v2 (not in the files)");
    await applyPlan(api, pruned);
    expect(await current("refund-policy")).toMatchObject({ status: "retired", version: 3 });

    // A retired policy in the files is registered again.
    const back = await planAction(api, files, { prune: false });
    expect(back.steps[0]).toMatchObject({ action: "create", policy_id: "refund-policy", reactivates: true });
    await applyPlan(api, back);
    expect(await current("refund-policy")).toMatchObject({ status: "active", version: 4 });
  });

  it("stops, without overwriting, when a planned policy changed in the vault after the plan", async () => {
    const drifting = { policy_id: "drifting", tools: ["drift_tool"], default_decision: "deny" };
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: drifting })).status).toBe(200);
    const files = dir({ "drifting.yaml": YAML.stringify({ ...drifting, default_decision: "review" }), "fresh.yaml": "policy_id: fresh-after-drift\n" });
    const plan = await planAction(api, files, { prune: false });
    expect(plan.steps.map((s) => [s.action, s.policy_id])).toEqual([["change", "drifting"], ["create", "fresh-after-drift"]]);
    // Someone else registers a new version between the plan and its application.
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: { ...drifting, description: "edited elsewhere" } })).body.version).toBe(2);
    const err = await applyPlan(api, plan).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect((err as Error).message).toBe(
      "change drifting stopped: the policy changed since the plan (planned at v1, active; now v2, active); nothing was applied before it. Run apply again to plan anew",
    );
    expect(await current("drifting")).toMatchObject({ version: 2, description: "edited elsewhere", default_decision: "deny" });
    expect((await call(v.url, "GET", "/policies/fresh-after-drift", { key: v.adminKey })).status).toBe(404);
    // The other tests list the tenant's active policies.
    expect((await call(v.url, "DELETE", "/policies/drifting", { key: v.adminKey })).status).toBe(200);
  });

  it("refuses a policy id given by two files, naming both", async () => {
    const files = dir({ "a.yaml": "policy_id: twice\n", "b.json": '{"policy_id":"twice"}' });
    const err = await planAction(api, files, { prune: false }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CommandError);
    expect((err as Error).message).toContain(`policy twice is defined twice: in ${path.join(files, "a.yaml")} and in ${path.join(files, "b.json")}`);
  });

  it("exports every active policy to files that apply reads back as unchanged", async () => {
    await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: { policy_id: "team/mail:out", description: "Line one\nline two", rules: ["a rule"] } });
    await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: { policy_id: "gone" } });
    await call(v.url, "DELETE", "/policies/gone", { key: v.adminKey });
    const out = path.join(dir(), "exported");
    const run = await cli("export", "-o", out);
    expect(run.code).toBe(0);
    expect(readdirSync(out).sort()).toEqual(["refund-policy.yaml", "team%2Fmail%3Aout.yaml", "wires.yaml"]);
    expect(readFileSync(path.join(out, "wires.yaml"), "utf8")).toMatch(/^# Exported from .*: wires v1, sha256:[0-9a-f]{64}\.\npolicy_id: wires\n/);

    const planned = await cli("apply", "-f", out, "--json");
    expect(planned.code).toBe(0);
    const answer = JSON.parse(planned.stdout);
    expect(answer.plan.steps.map((s: { action: string; policy_id: string }) => [s.action, s.policy_id])).toEqual([
      ["unchanged", "refund-policy"],
      ["unchanged", "team/mail:out"],
      ["unchanged", "wires"],
    ]);
    expect(answer).toMatchObject({ plan: { not_in_files: [] }, applied: [] });

    const json = path.join(dir(), "json");
    await exportAction(api, json, "json");
    expect((await planAction(api, json, { prune: true })).steps.every((s) => s.action === "unchanged")).toBe(true);
  });

  it("lists, reads, lists versions, diffs and retires", async () => {
    const listed = await listAction(api, false);
    expect(listed.text.split("\n").map((l) => l.split("  ")[0])).toEqual(["refund-policy", "team/mail:out", "wires"]);
    expect((await listAction(api, true)).text).toContain("gone  v2  retired");

    const got = await getAction(api, "refund-policy");
    expect(got.value).toMatchObject({ policy_id: "refund-policy", version: 4, status: "active" });
    expect(got.text).toMatch(/^refund-policy {2}v4 {2}active {2}sha256:[0-9a-f]{64} {2}registered \S+\n\npolicy_id: refund-policy\n/);
    expect((await getAction(api, "refund-policy", 1)).value).toMatchObject({ version: 1, default_decision: "review" });

    expect((await versionsAction(api, "refund-policy")).text.split("\n").map((l) => l.split("  ").slice(0, 2).join(" "))).toEqual([
      "v4 active",
      "v3 retired",
      "v2 active",
      "v1 active",
    ]);
    expect((await diffAction(api, "refund-policy", { from: 1, to: 2 })).text).toContain("-default_decision: review\n+default_decision: deny");
    expect((await diffAction(api, "refund-policy", { from: 2, to: 3, format: "json" })).text).toContain('+  "retired": true,');

    const run = await cli("retire", "wires", "--json");
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ policy_id: "wires", status: "retired", version: 2 });
    expect((await retireAction(api, "wires")).text).toMatch(/^retired wires \(v2, sha256:/);
    const missing = await cli("get", "no-such-policy");
    expect([missing.code, missing.stderr]).toEqual([1, expect.stringContaining("policy_not_found")]);
    const usage = await cli("get", "wires", "0");
    expect([usage.code, usage.stderr]).toEqual([2, expect.stringContaining("a version is a positive integer")]);
  });

  it("apply without a terminal needs --yes; with it, registers what it planned", async () => {
    const file = path.join(dir({ "late.yaml": "policy_id: late\ntools: [late_tool]\ndefault_decision: deny\n" }), "late.yaml");
    const refused = await cli("apply", "-f", file);
    expect([refused.code, refused.stderr]).toEqual([2, expect.stringContaining("pass --yes")]);
    expect(refused.stdout).toContain(`+ create     late  (${file})`);
    expect((await call(v.url, "GET", "/policies/late", { key: v.adminKey })).status).toBe(404);
    const run = await cli("apply", "-f", file, "--yes");
    expect(run.code).toBe(0);
    expect(run.stdout).toContain(`+ create     late  (${file})`);
    expect(run.stdout).toMatch(/\ncreated late \(v1, sha256:[0-9a-f]{64}\)\n$/);
    expect(await current("late")).toMatchObject({ status: "active", version: 1, default_decision: "deny", tools: ["late_tool"] });
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
