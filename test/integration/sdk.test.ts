import { randomBytes } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { failClosedVerdict, type Judge, type JudgeInput, type Verdict } from "../../src/judge/judge.js";
import {
  ClearanceDeniedError,
  Countersign,
  ConflictError,
  NotFoundError,
  TokenAlreadyConsumedError,
  TokenVerificationError,
  argsHash,
  type Clearance,
} from "../../src/sdk/index.js";
import { call, newDatabase, newKey, startTestVault, TEST_KEY_BASE64, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

/**
 * The SDK against a live vault. The judge is a real queued judge (as an LLM judge is) whose verdict
 * follows args.amount like the refund policy (> 1000 deny, > 100 review, else approve), and which
 * holds a request whose args carry `hold: true` until the test releases it: that is how a request
 * stays `processing` long enough to tell it apart from `pending_review`.
 */
class GateJudge implements Judge {
  private readonly held = new Map<string, () => void>();
  private readonly arrived = new Map<string, () => void>();

  async evaluate(input: JudgeInput): Promise<Verdict> {
    const key = String(input.args.order_id ?? "");
    if (input.args.hold === true) {
      this.arrived.get(key)?.();
      await new Promise<void>((resolve) => this.held.set(key, resolve));
    }
    const amount = Number(input.args.amount ?? 0);
    const base = { ...failClosedVerdict("", ""), reason_code: null, trace: { gate: true } };
    if (amount > 1000) return { ...base, decision: "deny", reason: "Amount exceeds $1000 limit", confidence_bucket: "extra_high" };
    if (amount > 100) return { ...base, decision: "review", reason: "Refunds over $100 need a human", confidence_bucket: "extra_high" };
    return { ...base, decision: "approve", reason: "Within the automatic limit", confidence_bucket: "extra_high" };
  }

  /** Resolves once the judge holds the request with this order_id. */
  whenHeld(orderId: string): Promise<void> {
    if (this.held.has(orderId)) return Promise.resolve();
    return new Promise((resolve) => this.arrived.set(orderId, resolve));
  }

  release(orderId: string): void {
    this.held.get(orderId)?.();
  }
}

const sdk = (url: string, apiKey: string, extra: Partial<ConstructorParameters<typeof Countersign>[0]> = {}) => new Countersign({ baseUrl: url, apiKey, timeoutMs: 10_000, ...extra });

describe.each<Engine>(["postgres", "pglite"])("SDK against a live vault on %s", (engine) => {
  let db: TestDatabase;
  let v: TestVault;
  let judge: GateJudge;
  let cs: Countersign;
  let reviewerKey: string;
  let orders = 0;
  const order = () => `o-${engine}-${++orders}`;

  beforeAll(async () => {
    db = newDatabase(engine);
    judge = new GateJudge();
    v = await startTestVault(db, { overrides: { judge } });
    cs = sdk(v.url, await newKey(v, "agent"));
    reviewerKey = await newKey(v, "reviewer");
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("approves with a token bound to the args exactly as given (keys never rewritten)", async () => {
    const args = { amount: 45, orderId: "camel-1", nested: { innerKey: [{ deepKey: 1 }] } };
    const c = await cs.requestClearance({ tool: "stripe_refund", args, agentId: "agent-7", sessionId: "s-1" }, { waitSeconds: 10 });
    expect(c).toMatchObject({ status: "approved", decisionStatus: "approved", reason: "Within the automatic limit", requiresManualReview: false });
    expect(c.token).toBeTruthy();
    expect(c.toolArgsHash).toBe(await argsHash(args));
    const claims = await cs.verifyToken(c.token!, { tool: "stripe_refund", args, tenantId: v.tenantId });
    expect(claims).toMatchObject({ tool: "stripe_refund", agent_id: "agent-7", session_id: "s-1", request_id: c.requestId, tenant_id: v.tenantId });
    expect(claims.tool_args_hash).toBe(await argsHash(args));
  });

  it("returns a denial as a clearance with status denied (no token)", async () => {
    const c = await cs.requestClearance({ tool: "stripe_refund", args: { amount: 5000, order_id: order() }, agentId: "a" }, { waitSeconds: 10 });
    expect(c).toMatchObject({ status: "denied", decisionStatus: "denied", reason: "Amount exceeds $1000 limit" });
    expect(c.token).toBeUndefined();
  });

  it("tells processing and pending_review apart, and waitForDecision long-polls through both to the reviewer's approval", async () => {
    const id = order();
    const args = { amount: 250, order_id: id, hold: true };
    const held = judge.whenHeld(id);
    const first = await cs.requestClearance({ tool: "stripe_refund", args, agentId: "a" });
    await held;
    expect(first.status).toBe("processing");
    expect(first.httpStatus).toBe(202);
    const progress: string[] = [];
    const waiting = cs.waitForDecision(first.requestId, { timeoutSeconds: 60, onProgress: (c) => progress.push(c.status) });
    judge.release(id);
    // The reviewer acts only once the request is pending review (seen through the SDK too).
    let seen: Clearance = first;
    for (const until = Date.now() + 20_000; seen.status !== "pending_review" && Date.now() < until; ) {
      seen = await cs.clearanceStatus(first.requestId, { waitSeconds: 5 });
    }
    expect(seen).toMatchObject({ status: "pending_review", decisionStatus: "approved_pending_review", requiresManualReview: true });
    expect(seen.token).toBeUndefined();
    const vote = await call(v.url, "POST", `/reviews/${first.requestId}/decision`, { key: reviewerKey, body: { approved: true, review_reason: "checked" } });
    expect(vote.status, JSON.stringify(vote.body)).toBe(200);
    const final = await waiting;
    expect(final).toMatchObject({ status: "approved", reasonCode: "review_approved" });
    expect(final.token).toBeTruthy();
    expect(progress).toContain("pending_review");
    expect(progress.every((s) => s === "processing" || s === "pending_review")).toBe(true);
  });

  it("requestClearance with waitSeconds returns the open clearance when time is up", async () => {
    const c = await cs.requestClearance({ tool: "stripe_refund", args: { amount: 300, order_id: order() }, agentId: "a" }, { waitSeconds: 1 });
    expect(c.status).toBe("pending_review");
  });

  it("cancel reports its outcome: cancelled, then already_decided, and not_found", async () => {
    const c = await cs.requestClearance({ tool: "stripe_refund", args: { amount: 400, order_id: order() }, agentId: "a" });
    expect(c.status).toBe("pending_review");
    const first = await cs.cancel(c.requestId);
    expect(first.outcome).toBe("cancelled");
    expect(first.clearance).toMatchObject({ status: "denied", reasonCode: "cancelled_by_agent" });
    const again = await cs.cancel(c.requestId);
    expect(again.outcome).toBe("already_decided");
    expect(again.clearance).toMatchObject({ status: "denied", reasonCode: "cancelled_by_agent" });
    expect((await cs.cancel("req_does_not_exist")).outcome).toBe("not_found");
  });

  it("consume burns once; a replay is TokenAlreadyConsumedError; a binding mismatch is refused by the vault and offline", async () => {
    const args = { amount: 20, order_id: order() };
    const c = await cs.requestClearance({ tool: "stripe_refund", args, agentId: "a" }, { waitSeconds: 10 });
    await expect(cs.verifyToken(c.token!, { tool: "other_tool" })).rejects.toMatchObject({ name: "TokenVerificationError", code: "binding_mismatch" });
    await expect(cs.verifyToken(c.token!, { args: { ...args, amount: 21 } })).rejects.toMatchObject({ code: "binding_mismatch" });
    await expect(cs.verifyToken(c.token!, { argsHash: "0".repeat(64) })).rejects.toMatchObject({ code: "binding_mismatch" });
    await expect(cs.verifyToken(c.token!, { tenantId: "t_other" })).rejects.toMatchObject({ code: "tenant_mismatch" });
    const wrong = cs.consume(c.token!, { tool: "stripe_refund", args: { ...args, amount: 21 } });
    await expect(wrong).rejects.toBeInstanceOf(TokenVerificationError);
    await expect(wrong).rejects.toMatchObject({ code: "binding_mismatch", status: 403 });
    const burned = await cs.consume(c.token!, { tool: "stripe_refund", args });
    expect(burned).toMatchObject({ consumed: true, requestId: c.requestId, tool: "stripe_refund", tenantId: v.tenantId });
    const replay = cs.consume(c.token!, { tool: "stripe_refund", args });
    await expect(replay).rejects.toBeInstanceOf(TokenAlreadyConsumedError);
    await expect(replay).rejects.toMatchObject({ code: "token_already_consumed", status: 409 });
  });

  it("verifyToken refuses a malformed token, a forged signature and an expired token", async () => {
    const c = await cs.requestClearance({ tool: "stripe_refund", args: { amount: 10, order_id: order() }, agentId: "a" }, { waitSeconds: 10 });
    await expect(cs.verifyToken("not-a-jwt")).rejects.toMatchObject({ code: "malformed" });
    const [h, p, s] = c.token!.split(".");
    const flipped = `${h}.${p}.${s!.startsWith("A") ? "B" : "A"}${s!.slice(1)}`;
    await expect(cs.verifyToken(flipped)).rejects.toMatchObject({ code: "invalid_signature" });
    const claims = JSON.parse(Buffer.from(p!, "base64url").toString());
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...claims, tool: "other" })).toString("base64url")}.${s}`;
    await expect(cs.verifyToken(forged)).rejects.toMatchObject({ code: "invalid_signature" });
    // A token 300 s old is expired even with the default 30 s skew; a skew of 400 s accepts it.
    const later = sdk(v.url, "unused", { now: () => Date.now() + 340_000 });
    await expect(later.verifyToken(c.token!)).rejects.toMatchObject({ code: "expired" });
    await expect(later.verifyToken(c.token!, { clockSkewSeconds: 400 })).resolves.toMatchObject({ jti: claims.jti });
  });

  it("guard runs the tool once after approval and reports the execution; a throwing tool is reported as error and rethrown", async () => {
    let calls = 0;
    const refund = cs.guard("stripe_refund", async (args: { amount: number; order_id: string }) => {
      calls++;
      return { refunded: args.amount };
    }, { agentId: "agent-g", waitSeconds: 10 });
    const id = order();
    await expect(refund({ amount: 30, order_id: id })).resolves.toEqual({ refunded: 30 });
    expect(calls).toBe(1);
    await expect(refund({ amount: 5000, order_id: order() })).rejects.toBeInstanceOf(ClearanceDeniedError);
    expect(calls).toBe(1);

    const failing = cs.guard("stripe_refund", async () => {
      throw new Error("upstream\nexploded");
    }, { agentId: "agent-g", waitSeconds: 10 });
    await expect(failing({ amount: 40, order_id: order() })).rejects.toThrow("upstream\nexploded");

    // Both executions are recorded as token.executed events with the guard's outcomes.
    const events = await executedEvents(v, ["succeeded", "error"]);
    expect(events).toEqual(expect.arrayContaining([expect.objectContaining({ outcome: "succeeded" }), expect.objectContaining({ outcome: "error", detail: "Error: upstream exploded" })]));
  });

  it("reportExecution: stored, replayed on an identical repeat, 409 for a different one or an unburned token", async () => {
    const args = { amount: 12, order_id: order() };
    const c = await cs.requestClearance({ tool: "stripe_refund", args, agentId: "a" }, { waitSeconds: 10 });
    const claims = await cs.verifyToken(c.token!);
    await expect(cs.reportExecution(claims.jti, { status: 200, durationMs: 5 })).rejects.toMatchObject({ code: "token_not_consumed", status: 409 });
    await cs.consume(c.token!);
    const report = { status: 200, outcome: "succeeded" as const, durationMs: 12, responseSha256: "a".repeat(64), detail: "ok" };
    const first = await cs.reportExecution(claims.jti, report);
    expect(first).toMatchObject({ jti: claims.jti, replayed: false });
    expect((await cs.reportExecution(claims.jti, report)).replayed).toBe(true);
    const other = cs.reportExecution(claims.jti, { ...report, status: 500, outcome: "failed" });
    await expect(other).rejects.toBeInstanceOf(ConflictError);
    await expect(other).rejects.toMatchObject({ code: "execution_already_reported" });
    await expect(cs.reportExecution("no-such-jti", report)).rejects.toBeInstanceOf(NotFoundError);
  });

  it("verifies tokens of a rotated key: an unknown kid makes the cache fetch the JWKS again", async () => {
    const before = await cs.requestClearance({ tool: "stripe_refund", args: { amount: 1, order_id: order() }, agentId: "a" }, { waitSeconds: 10 });
    const verifier = sdk(v.url, "unused");
    const oldKid = (await verifier.verifyToken(before.token!)).kid;
    // Restart the vault on the same database with a new signing key: the old one stays published.
    const agentKey = await newKey(v, "agent");
    await v.close();
    const seed = randomBytes(32).toString("base64");
    expect(seed).not.toBe(TEST_KEY_BASE64);
    v = await startTestVault(db, { overrides: { judge }, adminKey: v.adminKey, env: { VAULT_PRIVATE_KEY_BASE64: seed, VAULT_KEY_ID: `rotated-${engine}` } });
    cs = sdk(v.url, agentKey);
    const after = await cs.requestClearance({ tool: "stripe_refund", args: { amount: 2, order_id: order() }, agentId: "a" }, { waitSeconds: 10 });
    // The verifier points at the old URL's port no more: give it the new URL but its cached keys.
    const rotated = sdk(v.url, "unused");
    await rotated.verifyToken(before.token!); // fills the cache
    const claims = await rotated.verifyToken(after.token!);
    expect(claims.kid).not.toBe(oldKid);
    expect(claims.kid.startsWith(`rotated-${engine}`)).toBe(true);
    await expect(rotated.verifyToken(before.token!)).resolves.toMatchObject({ kid: oldKid });
  });
});

/** token.executed events of the tenant's ledger, as their evidence chunks (the execution reports). */
async function executedEvents(v: TestVault, outcomes: string[]): Promise<Record<string, unknown>[]> {
  const found: Record<string, unknown>[] = [];
  for (const until = Date.now() + 15_000; Date.now() < until; ) {
    const res = await call(v.url, "GET", "/ledger?limit=200", { key: v.adminKey });
    found.length = 0;
    for (const e of res.body.entries ?? []) {
      for (const chunk of e.evidence_chunks ?? []) if (chunk.type === "execution_report") found.push(chunk);
    }
    if (outcomes.every((o) => found.some((f) => f.outcome === o))) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return found;
}
