import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import YAML from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditRecordOf } from "../../src/ledger/core/audit-event.js";
import { runCli } from "../helpers/ledger-fixture.js";
import { allowPrivate, register } from "../helpers/outbox-api.js";
import { HttpReceiver } from "../helpers/outbox-receivers.js";
import { recordHistory, type RecordedEnd } from "../helpers/recorded-history.js";
import { call, newDatabase, newKey, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

/** docs/shadow-mode.md's examples, as written, run against a live vault. "…" in an example stands for any text. */
const PAGE = readFileSync(path.resolve(import.meta.dirname, "../../docs/shadow-mode.md"), "utf8");

/** The fenced block that follows `<!-- name -->`. */
function marked(name: string): string {
  const at = PAGE.indexOf(`<!-- ${name} -->`);
  if (at < 0) throw new Error(`docs/shadow-mode.md has no example marked <!-- ${name} -->`);
  const block = /^\s*```\w*\n([\s\S]*?)```/.exec(PAGE.slice(at + name.length + 9));
  if (!block) throw new Error(`<!-- ${name} --> is not followed by a fenced block`);
  return block[1]!;
}
const json = (name: string) => JSON.parse(marked(name)) as any;
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
/** An example as a matcher: a string with "…" matches any text in its place. */
function like(v: unknown): unknown {
  if (typeof v === "string" && v.includes("…")) return expect.stringMatching(new RegExp(`^${v.split("…").map(escape).join(".+")}$`));
  if (Array.isArray(v)) return v.map(like);
  if (v && typeof v === "object") return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, like(x)]));
  return v;
}

// The live version of the policy the page's examples replay and shadow.
const live = {
  policy_id: "refund-limits",
  tools: ["refund"],
  conditions: [
    { id: "over-500", when: "args.amount > 500", decision: "deny", reason: "Refunds over $500 need a manager" },
    { id: "small", when: "args.amount <= 100", decision: "approve", reason: "Small refund" },
  ],
  default_decision: "review",
};
// Newest first, decided as the live version decides. Under the page's candidate (deny over 300,
// approve up to 50): 3 approved→approved, 2 approved→review, 2 review→denied, 2 review→review, 3 denied→denied.
const AMOUNTS = [400, 20, 350, 80, 600, 10, 90, 150, 700, 50, 200, 900];
const endOf = (amount: number): RecordedEnd => (amount > 500 ? "denied" : amount <= 100 ? "approved" : "pending");

describe("docs/shadow-mode.md", () => {
  let db: TestDatabase;
  let v: TestVault;
  let dir: string;

  beforeAll(async () => {
    db = newDatabase("pglite");
    v = await startTestVault(db, { env: allowPrivate });
    dir = mkdtempSync(path.join(os.tmpdir(), "cs-shadow-doc-"));
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: live })).status).toBe(200);
    const now = Date.now();
    await recordHistory(
      await v.vault.ctx.tenantDbs.get(v.tenantId),
      AMOUNTS.map((amount, i) => ({ tool: "refund", args: { amount }, end: endOf(amount), createdAt: new Date(now - 60_000 - i * 1000), policyId: "refund-limits" })),
    );
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("replays the page's candidate into the page's report", async () => {
    const res = await call(v.url, "POST", "/policies/refund-limits/replay", { key: v.adminKey, body: json("replay-body") });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    const { changed, duration_ms: _ms, ...rest } = json("replay-report");
    expect(res.body).toMatchObject({ ...(like(rest) as object), duration_ms: expect.any(Number) });
    expect(res.body.changed).toHaveLength(res.body.changed_total);
    expect(res.body.changed[0]).toEqual(like(changed[0]));
  });

  it("runs the command lines as written", async () => {
    writeFileSync(path.join(dir, "refund-limits.yaml"), YAML.stringify(json("replay-body").candidate));
    const env = { COUNTERSIGN_URL: v.url, COUNTERSIGN_API_KEY: v.adminKey };
    const lines = marked("cli-lines").trim().split("\n");
    expect(lines).toHaveLength(4);
    const outputs: string[] = [];
    for (const line of lines) {
      // Shell words: a quoted one is one argument; the candidate file is the one written above.
      const words = (line.match(/"[^"]*"|\S+/g) ?? []).map((w) => w.replace(/^"|"$/g, "")).map((w) => (w === "refund-limits.yaml" ? path.join(dir, w) : w));
      const out = await runCli(words.slice(1), env);
      expect(out.code, `${line}\n${out.stderr}`).toBe(0);
      outputs.push(out.stdout);
    }
    expect(outputs[0]).toMatch(/^refund-limits: shadow \(log-only/);
    expect(outputs[1]).toContain("policies in shadow: refund-limits");
    expect(outputs[2]).toMatch(/\nreview → denied\s+2\s+changed\n/);
    expect(outputs[3]).toMatch(/^refund-limits: enforce; recorded as ledger event/);
  }, 120_000);

  it("switches the policy with the page's body: the answer, the request's chunk, the audit details and the webhook are the page's", async () => {
    const hook = await HttpReceiver.start();
    try {
      await register(v, hook.url, { events: ["policy.mode_changed"] });
      // An enforcing policy beside it, so a request is decided while refund-limits only shadows.
      const basic = { policy_id: "refunds-basic", tools: ["refund"], conditions: [{ id: "any", when: "true", decision: "approve", reason: "ok" }], default_decision: "review" };
      expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: basic })).status).toBe(200);
      const switched = await call(v.url, "PUT", "/policies/refund-limits/mode", { key: v.adminKey, body: json("mode-switch") });
      expect(switched.body).toMatchObject(like(json("mode-answer")) as object);

      const agent = await newKey(v, "agent");
      const answer = (await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "refund", tool_args: { amount: 800 } } })).body;
      expect(answer).toMatchObject({ status: "approved", policy_id: "refunds-basic" });
      await v.vault.ctx.ledgerLoop.drain();
      const event = (await call(v.url, "GET", `/ledger/proof/bundle?request_id=${answer.request_id}`, { key: agent })).body.event;
      expect(event.evidence_chunks).toEqual([like(json("shadow-chunk"))]);
      const audit = (await call(v.url, "GET", `/ledger/proof/bundle?event_uuid=${switched.body.ledger_event_uuid}`, { key: v.adminKey })).body.event;
      expect(auditRecordOf(audit)?.details).toEqual(json("audit-details"));

      await v.vault.ctx.outboxWorker.drain();
      await hook.waitFor(1);
      expect(JSON.parse(hook.requests[0]!.raw.toString("utf8")).data).toEqual(like(json("webhook-data")));
    } finally {
      await hook.close();
    }
  });
});
