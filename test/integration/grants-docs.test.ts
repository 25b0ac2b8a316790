import { readFileSync } from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeConstraint } from "../../src/grants/describe-constraint.js";
import { canonicalJson, toolArgsHash } from "../../src/tokens/canonical-json.js";
import { ledgerEntriesOf, setUpGrants, steadyCel, type Reviewer } from "../helpers/grants.js";
import { runCli } from "../helpers/ledger-fixture.js";
import { call, newDatabase, newKey, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

/** docs/grants.md's examples, as written, run against a live vault. */
const PAGE = readFileSync(path.resolve(import.meta.dirname, "../../docs/grants.md"), "utf8");

/** The fenced block (or table) that follows `<!-- name -->`. */
function marked(name: string): string {
  const at = PAGE.indexOf(`<!-- ${name} -->`);
  if (at < 0) throw new Error(`docs/grants.md has no example marked <!-- ${name} -->`);
  const rest = PAGE.slice(at + name.length + 9);
  const block = /^\s*```\w*\n([\s\S]*?)```/.exec(rest);
  if (block) return block[1]!;
  return rest.trimStart().split("\n\n")[0]!;
}
const json = (name: string) => JSON.parse(marked(name)) as any;

describe("docs/grants.md", () => {
  let db: TestDatabase;
  let v: TestVault;
  let agent: string;
  let people: Record<string, Reviewer>;

  beforeAll(async () => {
    db = newDatabase("pglite");
    v = await startTestVault(db, { env: { ...steadyCel, VAULT_REVIEW_SWEEP_INTERVAL_SECONDS: "3600" } });
    agent = await newKey(v, "agent");
    people = await setUpGrants(v, ["ana"]);
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("renders each constraint of the plain-words table as the table says", () => {
    const rows = marked("constraint-words")
      .split("\n")
      .slice(2)
      .map((line) => line.split(/(?<!\\)\|/).map((cell) => cell.trim().replace(/\\\|/g, "|")))
      .map((cells) => [cells[1]!.replace(/^`|`$/g, ""), cells[2]!.replace(/^`|`$/g, "")]);
    expect(rows.length).toBeGreaterThanOrEqual(5);
    for (const [expression, words] of rows) expect(describeConstraint(expression!), expression).toBe(words);
  });

  it("runs the vote, the describe call, the later request, the ledger chunks and the CLI lines as written", async () => {
    const vote = json("grant-vote");
    const pending = await call(v.url, "POST", "/request-clearance", {
      key: agent,
      body: { tool_name: "stripe_refund", tool_args: { amount: 900, currency: "usd", order_id: "A-1043" }, agent_id: "agent-7", session_id: "s-1" },
    });
    expect(pending.body.status).toBe("pending_review");
    const approved = await call(v.url, "POST", `/reviews/${pending.body.request_id}/decision`, { key: people.ana!.api_key, body: vote });
    expect(approved.status, JSON.stringify(approved.body)).toBe(200);
    expect(approved.body).toMatchObject({ status: "approved", edited_tool_args: vote.edited_tool_args, grant: { scope: "window", window_minutes: 60, constraint: vote.grant.constraint } });
    const grantId = approved.body.grant.id as string;

    const described = await call(v.url, "POST", "/grants/describe-constraint", { key: people.ana!.api_key, body: json("describe-constraint") });
    expect(described.body).toEqual(json("describe-constraint-answer"));

    const later = await call(v.url, "POST", "/request-clearance", { key: agent, body: json("later-request") });
    expect(later.body).toMatchObject({ ...json("later-answer"), grant_id: grantId });

    await v.vault.ctx.ledgerLoop.drain();
    const [grantChunk, editChunk] = json("ledger-chunks");
    const [decision] = await ledgerEntriesOf(v, v.adminKey, later.body.request_id);
    expect(decision!.evidence_chunks).toContainEqual({ ...grantChunk, grant: grantId });
    const approval = (await ledgerEntriesOf(v, v.adminKey, pending.body.request_id)).find((e) => e.event_type === "review.approved")!;
    expect(editChunk.args).toBe(canonicalJson(vote.edited_tool_args));
    expect(approval.evidence_chunks).toContainEqual({ ...editChunk, hash: toolArgsHash(vote.edited_tool_args) });
    expect(approval.evidence_chunks).toContainEqual({ ...grantChunk, grant: grantId });

    const env = { COUNTERSIGN_URL: v.url, COUNTERSIGN_API_KEY: people.ana!.api_key };
    const lines = marked("cli-lines").trim().split("\n");
    expect(lines.map((l) => l.split(" ").slice(0, 3).join(" "))).toEqual(["countersign grants list", "countersign grants show", "countersign grants revoke"]);
    for (const line of lines) {
      // Shell words: a quoted one ("ticket closed") is one argument.
      const words = (line.replace(/#.*$/, "").trim().replace(/grt_[0-9a-f-]+/, grantId).match(/"[^"]*"|\S+/g) ?? []).map((w) => w.replace(/^"|"$/g, ""));
      const out = await runCli(words.slice(1), env);
      expect(out.code, `${line}\n${out.stderr}`).toBe(0);
    }
    expect((await call(v.url, "GET", `/grants/${grantId}`, { key: v.adminKey })).body).toMatchObject({ status: "revoked", revoke_reason: "ticket closed" });
  });
});
