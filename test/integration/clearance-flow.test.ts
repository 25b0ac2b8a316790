import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canonicalJson, sha256Hex } from "../../src/tokens/canonical-json.js";
import { ledgixClearanceResponse, verifyLikeSdk } from "../helpers/sdk-checks.js";
import { call, newDatabase, newKey, newTenant, refundPolicy, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

describe.each<Engine>(["postgres", "pglite"])("clearance flow on %s", (engine) => {
  let db: TestDatabase;
  let v: TestVault;
  let agent: string;
  let reviewer: string;
  const clear = (body: object, key = agent, headers: Record<string, string> = {}) =>
    call(v.url, "POST", "/request-clearance", { key, body, headers });

  beforeAll(async () => {
    db = newDatabase(engine);
    v = await startTestVault(db);
    agent = await newKey(v, "agent");
    reviewer = await newKey(v, "reviewer");
    const reg = await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy });
    expect(reg.status).toBe(200);
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("approves within policy with an A-JWT that verifies against the JWKS and binds tool and args", async () => {
    const toolArgs = { amount: 45, currency: "usd", order_id: "o-1" };
    const res = await clear({ tool_name: "stripe_refund", tool_args: toolArgs, agent_id: "agent-7", session_id: "s-1", parent_jti: "parent-1" });
    expect(res.status).toBe(200);
    const body = ledgixClearanceResponse.parse(res.body);
    expect(body).toMatchObject({ status: "approved", decision_status: "approved", reason: "Within the automatic limit" });
    expect(body.policy_version_id).toMatch(/^pv_/);
    expect(body.policy_content_hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    const claims = await verifyLikeSdk(v.url, body.token!);
    expect(claims).toMatchObject({
      sub: "clearance",
      tool: "stripe_refund",
      tool_args_hash: sha256Hex(canonicalJson(toolArgs)),
      agent_id: "agent-7",
      session_id: "s-1",
      policy_id: "refund-policy",
      decision: "yes",
      request_id: body.request_id,
      tenant_id: v.tenantId,
      parent_jti: "parent-1",
    });
    expect(claims.exp! - claims.iat!).toBe(300);
    expect(claims.nbf).toBeUndefined();
    // The status endpoint returns the same token (re-derived, never stored).
    const status = await call(v.url, "GET", `/clearance-status/${body.request_id}`, { key: agent });
    expect(status.body.token).toBe(body.token);
  });

  it("denies with a 2xx denial carrying the reason and no token", async () => {
    const res = await clear({ tool_name: "stripe_refund", tool_args: { amount: 5000 } });
    expect(res.status).toBe(200);
    expect(ledgixClearanceResponse.parse(res.body)).toMatchObject({ status: "denied", decision_status: "denied", token: null, reason: "Amount exceeds $1000 limit" });
  });

  it("applies server defaults to the smallest body and fails closed when no policy applies", async () => {
    const res = await clear({ tool_name: "unknown_tool" });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: "pending_review", decision_status: "approved_pending_review", reason_code: "no_applicable_policy", token: null });
    const named = await clear({ tool_name: "stripe_refund", tool_args: { amount: 1 }, context: { policy_id: "missing-policy" } });
    expect(named.body).toMatchObject({ status: "pending_review", reason_code: "policy_not_found" });
    // An agent may not pick a lenient policy written for another tool.
    await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: { policy_id: "search", tools: ["web_search"], default_decision: "approve" } });
    const chosen = await clear({ tool_name: "stripe_refund", tool_args: { amount: 999999 }, context: { policy_id: "search" } });
    expect(chosen.body).toMatchObject({ status: "pending_review", reason_code: "policy_not_applicable", token: null });
  });

  it("sends reviews to a human; an approval makes the next poll return approved with a fresh token", async () => {
    const res = await clear({ tool_name: "stripe_refund", tool_args: { amount: 250 } });
    expect(res.body).toMatchObject({ status: "pending_review", decision_status: "approved_pending_review", requires_manual_review: true });
    const id = res.body.request_id;
    const poll = await call(v.url, "GET", `/clearance-status/${id}`, { key: agent });
    expect(poll.body.status).toBe("pending_review");
    const approve = await call(v.url, "POST", `/reviews/${id}/decision`, { key: reviewer, body: { approved: true, review_reason: "checked the order" } });
    expect(approve.status).toBe(200);
    // The reviewer sees the decision, never a bearer token for the agent's action.
    expect(approve.body).toMatchObject({ status: "approved", token: null });
    const otherAgent = await newKey(v, "agent");
    expect((await call(v.url, "GET", `/clearance-status/${id}`, { key: otherAgent })).body.token).toBeNull();
    const after = await call(v.url, "GET", `/clearance-status/${id}`, { key: agent });
    expect(after.body).toMatchObject({ status: "approved", decision_status: "approved", reason: "checked the order", reason_code: "review_approved" });
    // Without a policy_version_id the SDK does not cache a human approval for /mint-token re-issue.
    expect(after.body.policy_version_id).toBeNull();
    const claims = await verifyLikeSdk(v.url, after.body.token);
    expect(claims.request_id).toBe(id);
    // One human approval is one action: it cannot be re-issued through /mint-token.
    const remint = await call(v.url, "POST", "/mint-token", {
      key: agent,
      body: { tool_name: "stripe_refund", tool_args: { amount: 250 }, agent_id: "default-agent", original_request_id: id },
    });
    expect(remint.status).toBe(409);
    expect(remint.body.code).toBe("approval_not_reusable");
    const again = await call(v.url, "POST", `/reviews/${id}/decision`, { key: reviewer, body: { approved: false } });
    expect(again.status).toBe(409);
  });

  it("lets a reviewer deny, and an agent only cancel", async () => {
    const a = await clear({ tool_name: "stripe_refund", tool_args: { amount: 300 } });
    const deny = await call(v.url, "POST", `/reviews/${a.body.request_id}/decision`, { key: reviewer, body: { approved: false } });
    expect(deny.body).toMatchObject({ status: "denied", decision_status: "denied", reason_code: "review_denied" });

    const b = await clear({ tool_name: "stripe_refund", tool_args: { amount: 301 } });
    const selfApprove = await call(v.url, "POST", `/reviews/${b.body.request_id}/decision`, { key: agent, body: { approved: true } });
    expect(selfApprove.status).toBe(403);
    const cancel = await call(v.url, "POST", `/reviews/${b.body.request_id}/decision`, { key: agent, body: { approved: false, review_reason: "cancelled by agent" } });
    expect(cancel.status).toBe(200);
    const status = await call(v.url, "GET", `/clearance-status/${b.body.request_id}`, { key: agent });
    expect(ledgixClearanceResponse.parse(status.body)).toMatchObject({ status: "denied", decision_status: "denied" });
    expect(status.body.reason_code).toBe("cancelled_by_agent");
  });

  it("honours Idempotency-Key: same body, same answer and one decision; other body, 422", async () => {
    const key = `idem-${engine}-${Date.now()}`;
    const body = { tool_name: "stripe_refund", tool_args: { amount: 12 } };
    const first = await clear(body, agent, { "idempotency-key": key });
    const second = await clear(body, agent, { "idempotency-key": key });
    expect(second.body.request_id).toBe(first.body.request_id);
    expect(second.body.token).toBe(first.body.token);
    const rows = await (await v.vault.ctx.tenantDbs.get(v.tenantId)).query("SELECT count(*)::int AS n FROM clearance_requests WHERE idempotency_key = $1", [key]);
    expect(rows[0]!.n).toBe(1);
    const other = await clear({ ...body, tool_args: { amount: 13 } }, agent, { "idempotency-key": key });
    expect(other.status).toBe(422);
    expect(other.body.code).toBe("idempotency_key_reused");
    // Another key replaying the same key and body must not receive this key's token.
    const thief = await clear(body, await newKey(v, "agent"), { "idempotency-key": key });
    expect(thief.status).toBe(422);
  });

  it("burns a token once: 200 then 409, after checking tool and argument binding", async () => {
    const res = await clear({ tool_name: "stripe_refund", tool_args: { amount: 20, orderId: "x" } });
    const token = res.body.token;
    const wrongTool = await call(v.url, "POST", "/consume-token", { key: agent, body: { token, tool_name: "stripe_payout" } });
    expect(wrongTool.status).toBe(403);
    const wrongArgs = await call(v.url, "POST", "/consume-token", { key: agent, body: { token, tool_args: { amount: 21, orderId: "x" } } });
    expect(wrongArgs.body.code).toBe("token_binding_mismatch");
    // A camelCase twin of an approved snake_case key must not smuggle another value past the binding.
    const approvedSnake = await clear({ tool_name: "stripe_refund", tool_args: { amount: 20, amount_cents: 100 } });
    const smuggled = await call(v.url, "POST", "/consume-token", {
      key: agent,
      body: { token: approvedSnake.body.token, tool_args: { amountCents: 100000, amount: 20, amount_cents: 100 } },
    });
    expect(smuggled.body.code).toBe("token_binding_mismatch");
    const ok = await call(v.url, "POST", "/consume-token", { key: agent, body: { token, tool_name: "stripe_refund", tool_args: { amount: 20, orderId: "x" } } });
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ consumed: true, request_id: res.body.request_id });
    const replay = await call(v.url, "POST", "/consume-token", { key: agent, body: { token } });
    expect(replay.status).toBe(409);
    expect(replay.body.code).toBe("token_already_consumed");
  });

  it("refuses a token of another tenant with 403", async () => {
    const other = await newTenant(v, `other-${engine}`);
    await call(v.url, "POST", "/register-policy", { key: other.adminKey, body: refundPolicy });
    const theirs = await clear({ tool_name: "stripe_refund", tool_args: { amount: 1 } }, other.adminKey);
    expect(theirs.body.status).toBe("approved");
    const res = await call(v.url, "POST", "/consume-token", { key: agent, body: { token: theirs.body.token } });
    expect(res.status).toBe(403);
    expect(res.body.code).toBe("tenant_mismatch");
    const peek = await call(v.url, "GET", `/clearance-status/${theirs.body.request_id}`, { key: agent });
    expect(peek.status).toBe(404);
  });

  it("mints a fresh token for a remembered approval, and refuses once the policy changed", async () => {
    const res = await clear({ tool_name: "stripe_refund", tool_args: { amount_cents: 10, amount: 10 }, agent_id: "cache-agent" });
    const original = ledgixClearanceResponse.parse(res.body);
    const mintBody = {
      tool_name: "stripe_refund",
      tool_args: { amountCents: 10, amount: 10 }, // the SDK sends the caller's original keys here
      agent_id: "cache-agent",
      session_id: "",
      policy_id: "",
      policy_version_id: original.policy_version_id,
      policy_content_hash: original.policy_content_hash,
      original_request_id: original.request_id,
      confidence_bucket: original.confidence_bucket,
      reason: original.reason,
    };
    const byOtherKey = await call(v.url, "POST", "/mint-token", { key: await newKey(v, "agent"), body: mintBody });
    expect(byOtherKey.status).toBe(409);
    const minted = await call(v.url, "POST", "/mint-token", { key: agent, body: mintBody, headers: { "idempotency-key": `mint-${engine}` } });
    expect(minted.status).toBe(200);
    expect(minted.body.request_id).not.toBe(original.request_id);
    const a = await verifyLikeSdk(v.url, original.token!);
    const b = await verifyLikeSdk(v.url, minted.body.token);
    expect(b.jti).not.toBe(a.jti);
    expect(b.request_id).toBe(minted.body.request_id);

    const changed = { ...refundPolicy, rules: [...refundPolicy.rules, "Refunds need an order id"] };
    const reg = await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: changed });
    expect(reg.body).toMatchObject({ status: "registered", version: 2 });
    const refused = await call(v.url, "POST", "/mint-token", { key: agent, body: mintBody });
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe("approval_not_reusable");
  });

  it("keeps the version when the same policy content is registered again", async () => {
    const first = await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: { ...refundPolicy, policy_id: "stable" } });
    const again = await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: { ...refundPolicy, policy_id: "stable" } });
    expect(again.body).toMatchObject({ status: "unchanged", policy_version_id: first.body.policy_version_id, policy_content_hash: first.body.policy_content_hash });
  });

  it("publishes the token key and the ledger key as Ed25519 OKP keys at the public JWKS", async () => {
    const res = await call(v.url, "GET", "/.well-known/jwks.json");
    expect(res.status).toBe(200);
    const kids = (res.body.keys as { kid: string }[]).map((k) => k.kid);
    expect(kids.slice(0, 2)).toEqual(["test-key-1", "test-key-1.ledger"]);
    // Each tenant's own token key, published with the tenant's first token (docs/tokens.md#signing-keys).
    expect(kids).toContain(`test-key-1.${v.tenantId}`);
    for (const key of res.body.keys) expect(key).toMatchObject({ kty: "OKP", crv: "Ed25519", use: "sig", alg: "EdDSA" });
    expect(res.body.keys[0].x).not.toBe(res.body.keys[1].x);
    for (const key of res.body.keys) expect(key.d).toBeUndefined();
  });
});
