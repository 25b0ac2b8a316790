/**
 * GET /metrics counts what happened, in Prometheus' text format: HTTP answers by route pattern and
 * status with their latency, decisions by status and reason_code with the time to decide, tokens
 * issued by source and burned. Read as deltas, so other work in the process cannot make it pass.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, newDatabase, newKey, refundPolicy, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

/** Every sample of the text format, by its series (name and labels as printed). */
async function scrape(v: TestVault): Promise<Map<string, number>> {
  const text = await fetch(`${v.url}/metrics`).then((r) => r.text());
  const samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (!line || line.startsWith("#")) continue;
    const at = line.lastIndexOf(" ");
    samples.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return samples;
}

describe("GET /metrics", () => {
  let db: TestDatabase;
  let v: TestVault;
  beforeAll(async () => {
    db = newDatabase("postgres");
    v = await startTestVault(db);
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy })).status).toBe(200);
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("counts HTTP answers by route pattern, decisions by outcome and reason, and tokens issued and burned", async () => {
    const agent = await newKey(v, "agent");
    const reviewer = await newKey(v, "reviewer");
    const before = await scrape(v);
    const clear = (amount: number) => call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount } } });
    const approved = await clear(50);
    expect((await clear(5000)).body.status).toBe("denied");
    const review = await clear(500);
    expect((await call(v.url, "POST", "/consume-token", { key: agent, body: { token: approved.body.token } })).status).toBe(200);
    expect((await call(v.url, "POST", "/consume-token", { key: agent, body: { token: approved.body.token } })).status).toBe(409);
    expect((await call(v.url, "GET", `/clearance-status/${review.body.request_id}`, { key: agent })).status).toBe(200);
    expect((await call(v.url, "GET", "/no-such-route")).status).toBe(404);
    const vote = await call(v.url, "POST", `/reviews/${review.body.request_id}/decision`, { key: reviewer, body: { approved: true, review_reason: "ok" } });
    expect(vote.status).toBe(200);
    const after = await scrape(v);
    const delta = (series: string) => (after.get(series) ?? 0) - (before.get(series) ?? 0);

    const http = (route: string, status: number, method = "POST") =>
      delta(`countersign_http_request_duration_seconds_count{method="${method}",route="${route}",status_code="${status}"}`);
    expect(http("/request-clearance", 200)).toBe(3);
    expect(http("/consume-token", 200)).toBe(1);
    expect(http("/consume-token", 409)).toBe(1);
    // The route pattern, not the request's own id.
    expect(http("/clearance-status/:request_id", 200, "GET")).toBe(1);
    expect(http("unmatched", 404, "GET")).toBe(1);
    expect([...after.keys()].some((k) => k.includes(review.body.request_id))).toBe(false);

    expect(delta('countersign_decisions_total{status="approved",reason_code="condition_matched"}')).toBe(1);
    expect(delta('countersign_decisions_total{status="denied",reason_code="condition_matched"}')).toBe(1);
    expect(delta('countersign_decisions_total{status="pending_review",reason_code="condition_matched"}')).toBe(1);
    expect(delta('countersign_decisions_total{status="approved",reason_code="review_approved"}')).toBe(1);
    expect(delta("countersign_clearance_decision_seconds_count")).toBe(3);
    expect(delta('countersign_tokens_issued_total{source="judge"}')).toBe(1);
    expect(delta('countersign_tokens_issued_total{source="review"}')).toBe(1);
    expect(delta("countersign_tokens_consumed_total")).toBe(1);
    // Every request's conditions ran; none needed retrieval (a condition settled each one).
    expect(delta('countersign_judge_step_seconds_count{step="conditions"}')).toBe(3);
    expect(delta('countersign_judge_step_seconds_count{step="retrieval"}')).toBe(0);
  });
});
