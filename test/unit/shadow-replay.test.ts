import { describe, expect, it } from "vitest";
import { ZodError } from "zod";
import { failClosedVerdict, type Verdict } from "../../src/judge/judge.js";
import { decisionOf, judgeCouldNotDecide, recordedDecision, ReplayTally, windowStart } from "../../src/judge/replay/replay-report.js";
import { decidingPolicies, isShadow, shadowDefaultVerdict, shadowInPlay, splitByMode, withShadow } from "../../src/judge/shadow.js";
import { ledgerEventFor, shadowChunk, type DecidedRequest } from "../../src/ledger/core/ledger-event.js";
import { modeChangeRoutes, modeEmailMessage, modeSlackMessage, weakens, type ModeChangeNotice } from "../../src/outbox/mode-notice.js";
import { DEFAULT_TENANT_MODE } from "../../src/policies/policy-modes.js";
import { registerPolicySchema } from "../../src/policies/policy-schema.js";
import { candidatePolicy, type ActivePolicy } from "../../src/policies/policy-store.js";
import { candidateDocument } from "../../src/requests/replay-schema.js";

const policy = (id: string): ActivePolicy => candidatePolicy(registerPolicySchema.parse({ policy_id: id }), undefined);
const verdict = (decision: Verdict["decision"], over: Partial<Verdict> = {}): Verdict => ({ ...failClosedVerdict("x", "r"), decision, reason_code: "condition_matched", ...over });

describe("shadow mode in the judge (src/judge/shadow.ts)", () => {
  const a = policy("a");
  const b = policy("b");
  it("splits by the policy's mode, and a shadow tenant shadows every policy", () => {
    const modes = new Map([["b", "shadow" as const]]);
    expect(splitByMode([a, b], { modes, tenant: DEFAULT_TENANT_MODE })).toEqual({ enforcing: [a], shadow: [b] });
    expect(splitByMode([a, b], { modes, tenant: { ...DEFAULT_TENANT_MODE, mode: "shadow" } })).toEqual({ enforcing: [], shadow: [a, b] });
    expect(isShadow("a", { modes: new Map([["a", "enforce" as const]]), tenant: DEFAULT_TENANT_MODE })).toBe(false);
  });

  it("answers the shadow default, review unless changed, naming no policy", () => {
    const v = shadowDefaultVerdict({ tenant: DEFAULT_TENANT_MODE }, [b]);
    expect(v).toMatchObject({ decision: "review", reason_code: "shadow_default", policy_id: null, applied_policies: [], matched_condition_ids: [] });
    expect(v.reason).toContain("(b)");
    expect(shadowDefaultVerdict({ tenant: { ...DEFAULT_TENANT_MODE, mode: "shadow", shadow_default: "deny" } }, [a]).reason).toMatch(/tenant is in shadow mode.*deny/);
  });

  it("adds trace.shadow only when there are shadow decisions, so other verdicts are unchanged", () => {
    const v = verdict("approve", { trace: { steps: ["conditions"] } });
    expect(withShadow(v, [])).toBe(v);
    const d = { policy_id: "b", policy_version_id: "pv_b", decision: "deny" as const, matched_condition_ids: ["b/x"], reason: "no" };
    expect(withShadow(v, [d]).trace).toEqual({ steps: ["conditions"], shadow: [d] });
  });
});

describe("who decides when a request names a shadow policy (review R4)", () => {
  const a = policy("a");
  const b = policy("b");
  const view = { policies: [a, b], modes: new Map([["b", "shadow" as const]]), tenant: DEFAULT_TENANT_MODE };
  it("naming a shadow policy leaves the enforcing ones deciding; naming an enforcing one is as before", () => {
    expect(decidingPolicies(view, "t", "b")).toEqual({ applicable: [b], enforcing: [a], shadow: [b] });
    expect(decidingPolicies(view, "t", "a")).toEqual({ applicable: [a], enforcing: [a], shadow: [] });
    expect(decidingPolicies(view, "t", undefined)).toEqual({ applicable: [a, b], enforcing: [a], shadow: [b] });
    // A shadow tenant: nothing enforces, named or not.
    expect(decidingPolicies({ ...view, tenant: { ...DEFAULT_TENANT_MODE, mode: "shadow" } }, "t", "b").enforcing).toEqual([]);
  });
  it("says when a mode could change the answer (and so must be confirmed against the database)", () => {
    expect(shadowInPlay([a], view)).toBe(false);
    expect(shadowInPlay([a, b], view)).toBe(true);
    expect(shadowInPlay([a], { ...view, tenant: { ...DEFAULT_TENANT_MODE, mode: "shadow" } })).toBe(true);
  });
});

describe("mode-change notifications that weaken enforcement ignore notify filters (review R4)", () => {
  const base: ModeChangeNotice = { scope: "policy", policyId: "p", from: "enforce", to: "shadow", shadowDefault: "review", actor: "k", reason: "", eventUuid: "e", consoleUrl: "" };
  const route = (policyId: string | null, notify: string[], slackUrl = `https://hooks.example/${policyId}`) => ({ kind: "slack" as const, policyId, slackUrl, recipients: null, notify });
  it("a switch to shadow or a more lenient shadow default weakens; a switch back does not", () => {
    expect(weakens(base)).toBe(true);
    expect(weakens({ ...base, from: "shadow", to: "enforce" })).toBe(false);
    expect(weakens({ ...base, from: "enforce", to: "enforce", shadowDefault: "approve", previousShadowDefault: "review" })).toBe(true);
    expect(weakens({ ...base, from: "enforce", to: "enforce", shadowDefault: "deny", previousShadowDefault: "review" })).toBe(false);
  });
  it("goes to the tenant route and the policy's own, whatever their filters; otherwise as a review would", () => {
    const channels = [route(null, ["review.requested"]), route("p", ["review.reminder"]), route("q", [])];
    expect(modeChangeRoutes(channels, "slack", base).map((c) => c.policyId)).toEqual([null, "p"]);
    expect(modeChangeRoutes(channels, "slack", { ...base, scope: "tenant", policyId: null }).map((c) => c.policyId)).toEqual([null, "p", "q"]);
    expect(modeChangeRoutes(channels, "slack", { ...base, from: "shadow", to: "enforce" })).toEqual([]);
    expect(modeChangeRoutes([route(null, [])], "slack", { ...base, from: "shadow", to: "enforce" })).toHaveLength(1);
  });
});

describe("the shadow ledger chunk (src/ledger/core/ledger-event.ts)", () => {
  const row: DecidedRequest = {
    id: "req_1", agent_id: "bot", session_id: "", human_principal: null, tool_name: "payout", tool_args: { amount: 1 }, tool_args_hash: "0".repeat(64),
    context: {}, status: "approved", decision_status: "approved", reason: "ok", confidence_bucket: "extra_high", policy_id: "a", applied_policies: [],
    matched_condition_ids: ["a/x"], citations: [], evidence_chunks: [], judge_trace: { steps: ["conditions"] },
  };
  const shadowed = { ...row, judge_trace: { steps: ["conditions"], shadow: [{ policy_id: "b", policy_version_id: "pv_b", decision: "deny", matched_condition_ids: ["b/x"], reason: "no" }] } };

  it("is absent without shadow decisions: the event is the one of before", () => {
    expect(shadowChunk(row)).toBeNull();
    expect(ledgerEventFor(row, "clearance.approved", new Date(0)).evidence_chunks).toEqual([]);
  });

  it("carries every shadow decision under one-word keys, on the judge's event only", () => {
    const chunk = { type: "shadow", enforced: false, decisions: [{ policy: "b", version: "pv_b", decision: "deny", matched: ["b/x"], reason: "no" }] };
    expect(shadowChunk(shadowed)).toEqual(chunk);
    const keys = (v: unknown): string[] => (Array.isArray(v) ? v.flatMap(keys) : v && typeof v === "object" ? Object.entries(v).flatMap(([k, x]) => [k, ...keys(x)]) : []);
    expect(keys(chunk).every((k) => /^[a-z]+$/.test(k))).toBe(true);
    expect(ledgerEventFor(shadowed, "clearance.approved", new Date(0)).evidence_chunks).toEqual([chunk]);
    expect(ledgerEventFor(shadowed, "token.consumed", new Date(0)).evidence_chunks).toEqual([]);
  });

  it("reads a hostile trace defensively: non-strings become empty, non-arrays empty lists", () => {
    const odd = { ...row, judge_trace: { shadow: [{ policy_id: 7, matched_condition_ids: "x", reason: null }] } };
    expect(shadowChunk(odd)).toEqual({ type: "shadow", enforced: false, decisions: [{ policy: "", version: "", decision: "", matched: [], reason: "" }] });
    expect(shadowChunk({ ...row, judge_trace: { shadow: "no" } })).toBeNull();
  });
});

describe("replay bookkeeping (src/judge/replay/replay-report.ts)", () => {
  it("reads the first decision a recorded request was given", () => {
    expect(recordedDecision({ status: "approved", reason_code: "condition_matched", reviewed: false })).toBe("approved");
    expect(recordedDecision({ status: "denied", reason_code: "policy_default", reviewed: false })).toBe("denied");
    expect(recordedDecision({ status: "approved", reason_code: "review_approved", reviewed: true })).toBe("review");
    expect(recordedDecision({ status: "denied", reason_code: "review_expired", reviewed: true })).toBe("review");
    expect(recordedDecision({ status: "approved", reason_code: "grant_approved", reviewed: false })).toBe("review");
    expect(recordedDecision({ status: "pending_review", reason_code: "llm_review", reviewed: true })).toBe("review");
    // Nothing to compare: still judging, or ended before the judge answered.
    expect(recordedDecision({ status: "processing", reason_code: null, reviewed: false })).toBeNull();
    expect(recordedDecision({ status: "denied", reason_code: "cancelled_by_agent", reviewed: false })).toBeNull();
    expect(recordedDecision({ status: "denied", reason_code: "review_denied", reviewed: false })).toBeNull();
    // A fail-closed review is no policy's decision, unless it says no policy applied.
    expect(judgeCouldNotDecide({ failed_closed: "condition_timeout" })).toBe(true);
    expect(judgeCouldNotDecide({ failed_closed: "llm_timeout" })).toBe(true);
    expect(judgeCouldNotDecide({ failed_closed: "no_applicable_policy" })).toBe(false);
    expect(judgeCouldNotDecide({ failed_closed: null })).toBe(false);
  });

  it("counts transitions (unchanged ones too) and keeps at most `cap` changed requests, counting all", () => {
    const tally = new ReplayTally(2);
    const req = (i: number) => ({ id: `req_${i}`, created_at: new Date(i * 1000), tool: "t" });
    tally.add(req(1), "approved", verdict("approve"), { reliedOnLlm: false, llmSkipped: false });
    tally.add(req(2), "approved", verdict("deny", { matched_condition_ids: ["p/x"] }), { reliedOnLlm: false, llmSkipped: false });
    tally.add(req(3), "review", verdict("approve", { reason_code: "llm_approved" }), { reliedOnLlm: true, llmSkipped: false });
    tally.add(req(4), "review", verdict("deny"), { reliedOnLlm: false, llmSkipped: true });
    tally.skip("undecided");
    const r = tally.result();
    expect(r.transitions).toEqual({ "approved→approved": 1, "approved→denied": 1, "review→approved": 1, "review→denied": 1 });
    expect(Object.keys(r.transitions)).toEqual(["approved→approved", "approved→denied", "review→approved", "review→denied"]);
    expect(r).toMatchObject({ evaluated: 4, skipped: 1, changed_total: 3, relied_on_llm_count: 1, llm_not_replayed: 1 });
    expect(r.changed.map((c) => [c.request_id, c.old, c.new, c.relied_on_llm])).toEqual([
      ["req_2", "approved", "denied", false],
      ["req_3", "review", "approved", true],
    ]);
    expect(r.changed[0]!.matched_condition_ids).toEqual(["p/x"]);
    expect([decisionOf("approve"), decisionOf("deny"), decisionOf("review")]).toEqual(["approved", "denied", "review"]);
  });

  it("reads a window as a duration back from now or an ISO time, and nothing else", () => {
    const now = new Date("2026-06-30T12:00:00.000Z");
    expect(windowStart("30d", now)?.toISOString()).toBe("2026-05-31T12:00:00.000Z");
    expect(windowStart("12h", now)?.toISOString()).toBe("2026-06-30T00:00:00.000Z");
    expect(windowStart("90m", now)?.toISOString()).toBe("2026-06-30T10:30:00.000Z");
    expect(windowStart("2026-06-01", now)?.toISOString()).toBe("2026-06-01T00:00:00.000Z");
    expect(windowStart("2026-06-01T08:00:00+02:00", now)?.toISOString()).toBe("2026-06-01T06:00:00.000Z");
    for (const bad of ["30", "d", "-3d", "yesterday", "2026-13-45", "1e3d", ""]) expect(windowStart(bad, now), bad).toBeUndefined();
    // Never before 1970 (a year BC was a 500 on the embedded database).
    expect(windowStart("999999d", now)?.toISOString()).toBe("1970-01-01T00:00:00.000Z");
    expect(windowStart("0001-01-01", now)?.toISOString()).toBe("1970-01-01T00:00:00.000Z");
  });
});

describe("the replay candidate (src/requests/replay-schema.ts)", () => {
  it("takes a document, or its YAML or JSON text, validated as registration validates it", () => {
    const doc = { policy_id: "p", conditions: [{ id: "c", when: "args.n > 1", decision: "deny" }] };
    expect(candidateDocument(doc)).toMatchObject({ policy_id: "p", default_decision: "review", tools: [] });
    expect(candidateDocument("policy_id: p\nconditions:\n  - {id: c, when: args.n > 1, decision: deny}\n")).toEqual(candidateDocument(doc));
    expect(candidateDocument(JSON.stringify(doc))).toEqual(candidateDocument(doc));
  });

  it("refuses unknown members (named under candidate.), several YAML documents and broken text", () => {
    try {
      candidateDocument({ policy_id: "p", condtions: [] });
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(ZodError);
      expect((err as ZodError).issues[0]!.path).toEqual(["candidate"]);
    }
    expect(() => candidateDocument("policy_id: a\n---\npolicy_id: b\n")).toThrow(/2 YAML documents/);
    expect(() => candidateDocument("policy_id: [a")).toThrow(/not valid YAML or JSON/);
  });

  it("hashes as registering it would, and names no version of its own", () => {
    const c = candidatePolicy(registerPolicySchema.parse({ policy_id: "p" }), undefined);
    expect(c).toMatchObject({ policyId: "p", versionId: "candidate", version: 1 });
    expect(c.contentHash).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});

describe("the mode-change notification (src/outbox/mode-notice.ts)", () => {
  const notice: ModeChangeNotice = {
    scope: "policy", policyId: "refunds <!channel>", from: "enforce", to: "shadow", shadowDefault: "review", actor: "rvw_1",
    reason: "try <b>it</b> & see", eventUuid: "e-1", consoleUrl: "https://vault.example/console/#/policies/refunds",
  };
  it("calls a switch to shadow log-only, and escapes what it quotes", () => {
    const message = modeSlackMessage(notice) as { text: string; blocks: { type: string }[] };
    expect(JSON.stringify(message)).toContain("log-only");
    // mrkdwn (the fallback text and the sections) would ping a channel: escaped there. Slack never parses plain_text headers.
    const mrkdwn = JSON.stringify([message.text, message.blocks.filter((b) => b.type !== "header")]);
    expect(mrkdwn).not.toContain("<!channel>");
    expect(mrkdwn).toContain("&lt;!channel&gt;");
    const mail = modeEmailMessage(notice);
    expect(mail.subject).toContain("log-only");
    expect(mail.html).not.toContain("<b>it</b>");
    expect(mail.text).toContain("enforce → shadow");
  });
  it("a switch back to enforce is not called log-only", () => {
    const back = modeEmailMessage({ ...notice, from: "shadow", to: "enforce" });
    expect(back.subject).toContain("switched to enforce mode");
    expect(back.text).not.toContain("log-only");
  });
});
