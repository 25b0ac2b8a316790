/**
 * StepAuth interop, decisions: by callback (§6), by poll (§7), cancel before and after a decision (§7),
 * each decision verified by the SP as reference §5 says (all-of signature, senderId, recipientId,
 * requestDigest over the exact bytes sent) and decidedBy checked.
 * Written from ../shared/reference/stepauth-protocol.md; this folder MUST NOT import server modules (nothing under src/).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, type Engine } from "../../helpers/vault.js";
import { expectError, HUB_ENTITY, POLICIES, reviewIdOf, startInterop, TYPES, type Interop } from "./fixture.js";
import { digestOf, stamp, type Decision } from "./sp-client.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.each<Engine>(["postgres", "pglite"])("StepAuth decisions (reference §5-§7) on %s", (engine) => {
  let x: Interop;
  beforeAll(async () => {
    x = await startInterop(engine);
  });
  afterAll(async () => {
    await x?.close();
  });
  const submit = async (type: string, over: Record<string, unknown> = {}) => {
    const res = await x.sp.submit({ callbackUrl: x.spReceiver.url, action: { type, category: "code.deploy", summary: `Run ${type}` }, ...over });
    expect(res.status, res.text).toBe(202);
    return res;
  };
  /** Polls until the hub has a decision (200) and verifies it as the SP does. */
  async function decided(requestId: string): Promise<Decision> {
    for (let i = 0; i < 100; i++) {
      const res = await x.sp.poll(requestId);
      if (res.status === 200) {
        const v = x.sp.verify(res.text, x.hub);
        expect(v.ok, v.ok ? "" : v.reason).toBe(true);
        return (v as { decision: Decision }).decision;
      }
      expect(res.status, res.text).toBe(202);
      await sleep(100);
    }
    throw new Error(`no decision for ${requestId}`);
  }

  it("delivers an approval by callback, signed by the published hub keyset, with decidedBy and requestDigest", async () => {
    const res = await submit(TYPES.approve);
    const d = await x.spReceiver.decisionFor(res.requestId);
    expect(d).toMatchObject({
      requestId: res.requestId,
      senderId: HUB_ENTITY,
      recipientId: x.sp.senderId,
      decision: "approved",
      decidedBy: [`policy:${POLICIES.approve}`],
      requestDigest: { algorithm: "sha256", value: digestOf(res.requestBytes) },
    });
    const delivery = x.spReceiver.deliveries.find((e) => e.verified.ok && e.verified.decision.requestId === res.requestId)!;
    expect(delivery.contentType).toMatch(/^application\/json/);
    expect(delivery.path).toBe(new URL(x.spReceiver.url).pathname);
    // The poll serves the same signed decision.
    expect(await decided(res.requestId)).toEqual(d);
    // The SP's ExecutionResult answer is recorded (design §E, review detail).
    await expect.poll(async () => (await call(x.v.url, "GET", `/reviews/${await reviewIdOf(x, x.sp.senderId, res.requestId)}`, { key: x.v.adminKey })).body.stepauth?.execution?.status).toBe("success");
  });

  it("delivers a denial by a deny policy by callback", async () => {
    const res = await submit(TYPES.deny);
    const d = await x.spReceiver.decisionFor(res.requestId);
    expect(d).toMatchObject({ requestId: res.requestId, decision: "denied", decidedBy: [`policy:${POLICIES.deny}`] });
  });

  it("a request in human review polls 202 pending, then 200 with the reviewer as decidedBy", async () => {
    const res = await submit(TYPES.review);
    const pending = await x.sp.poll(res.requestId);
    expect(pending.status, pending.text).toBe(202);
    expect(pending.body).toEqual({ requestId: res.requestId, status: "pending" });
    const reviewId = await reviewIdOf(x, x.sp.senderId, res.requestId);
    const vote = await call(x.v.url, "POST", `/reviews/${reviewId}/decision`, { key: x.reviewers.rita, body: { approved: true, review_reason: "invoice checked" } });
    expect(vote.status, JSON.stringify(vote.body)).toBe(200);
    const d = await decided(res.requestId);
    expect(d).toMatchObject({ requestId: res.requestId, decision: "approved", decidedBy: ["email:rita@example.com"], requestDigest: { value: digestOf(res.requestBytes) } });
    expect(Date.parse(d.decidedAt)).toBeGreaterThan(Date.now() - 60_000);
    expect(await x.spReceiver.decisionFor(res.requestId)).toEqual(d);
  });

  it("a reviewer's denial is signed denied with the reviewer; a poll with a wrong requestUri is wrong_recipient", async () => {
    const res = await submit(TYPES.review);
    const reviewId = await reviewIdOf(x, x.sp.senderId, res.requestId);
    expect((await call(x.v.url, "POST", `/reviews/${reviewId}/decision`, { key: x.reviewers.sam, body: { approved: false, review_reason: "no" } })).status).toBe(200);
    expect(await decided(res.requestId)).toMatchObject({ decision: "denied", decidedBy: ["email:sam@example.com"] });
    expectError(await x.sp.poll(res.requestId, { requestUri: `/v1/authorization-requests/${res.requestId}/decision` }), "wrong_recipient", 403);
    expectError(await x.sp.poll(res.requestId, { recipientId: "other.hub" }), "wrong_recipient", 403);
  });

  it("cancel before a decision: 200, then the decision is denied and no callback ever says approved", async () => {
    const res = await submit(TYPES.review);
    const cancelled = await x.sp.cancel(res.requestId);
    expect(cancelled.status, cancelled.text).toBe(200);
    const d = await decided(res.requestId);
    expect(d).toMatchObject({ decision: "denied", decidedBy: [] });
    await x.spReceiver.decisionFor(res.requestId);
    // A reviewer can no longer approve it.
    const reviewId = await reviewIdOf(x, x.sp.senderId, res.requestId);
    const late = await call(x.v.url, "POST", `/reviews/${reviewId}/decision`, { key: x.reviewers.rita, body: { approved: true } });
    expect(late.status).toBeGreaterThanOrEqual(400);
    await sleep(1500);
    const said = x.spReceiver.deliveries.filter((e) => e.verified.ok && e.verified.decision.requestId === res.requestId).map((e) => (e.verified as { decision: Decision }).decision.decision);
    expect(said.length).toBeGreaterThan(0);
    expect(said.every((s) => s === "denied")).toBe(true);
    expect(x.spReceiver.deliveries.every((e) => e.verified.ok)).toBe(true);
    expect((await decided(res.requestId)).decision).toBe("denied");
  });

  it("cancel with senderId in place of spId ([CHOICE]) and timestamps checked", async () => {
    const res = await submit(TYPES.review);
    expectError(await x.sp.cancel(res.requestId, { overrides: { timestamp: new Date(Date.now() - 10 * 60_000).toISOString() } }), "timestamp_out_of_range", 400);
    expect((await x.sp.cancel(res.requestId, { as: "senderId" })).status).toBe(200);
  });

  it("expiry signs denied with decidedBy [] ([CHOICE] §5), never approved", async () => {
    const now = Date.now();
    const res = await submit(TYPES.review, { timestamp: stamp(new Date(now)), expiresAt: stamp(new Date(now + 4_000)) });
    expect((await x.sp.poll(res.requestId)).status).toBe(202);
    // The vault's review sweeper runs every 5 s: the decision comes within a few of its rounds.
    const d = await x.spReceiver.decisionFor(res.requestId, 30_000);
    expect(d).toMatchObject({ decision: "denied", decidedBy: [] });
    expect(await decided(res.requestId)).toEqual(d);
  });

  it("records the SP's ExecutionResult, an error too", async () => {
    const res = await submit(TYPES.approve);
    const before = x.spReceiver.answer;
    x.spReceiver.answer = (dd) => ({ status: 200, body: { requestId: dd.requestId, status: "error", error: "deploy target unreachable" } });
    try {
      await x.spReceiver.decisionFor(res.requestId);
      const reviewId = await reviewIdOf(x, x.sp.senderId, res.requestId);
      await expect.poll(async () => (await call(x.v.url, "GET", `/reviews/${reviewId}`, { key: x.v.adminKey })).body.stepauth?.execution).toEqual({ status: "error", error: "deploy target unreachable" });
    } finally {
      x.spReceiver.answer = before;
    }
  });

  it("cancel after a decision is 409, and the decision stands", async () => {
    const res = await submit(TYPES.approve);
    const d = await x.spReceiver.decisionFor(res.requestId);
    expect(d.decision).toBe("approved");
    const cancelled = await x.sp.cancel(res.requestId);
    expect(cancelled.status, cancelled.text).toBe(409);
    expect(await decided(res.requestId)).toEqual(d);
  });
});
