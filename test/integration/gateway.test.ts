import { createHash } from "node:crypto";
import http from "node:http";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseGatewayFile } from "../../src/config/gateway-config.js";
import type { RunningTokenGateway } from "../../src/gateway/token/start.js";
import { trustedKeysFromJwks, verifyProofBundle } from "../../src/ledger/verify/bundle-verifier.js";
import { runVerifyBundle } from "../../src/main/verify-bundle.js";
import { gatewayConfigOf, startTestGateway, startTestUpstream, type TestUpstream } from "../helpers/gateway.js";
import { startSwitchableRelay, type SwitchableRelay } from "../helpers/gateway-relay.js";
import { call, newDatabase, newKey, newTenant, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

// The last three are the tools of the routes file in docs/gateway.md.
const TOOLS = ["create_refund", "get_order", "download_report", "slow_tool", "upload_file", "stripe_refund", "export_customer", "open_ticket"];
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

/** The complete routes file of docs/gateway.md: its first yaml block, exactly as written. */
function docExample(): string {
  const doc = readFileSync(path.join(ROOT, "docs/gateway.md"), "utf8");
  const block = /```yaml\n([\s\S]*?)```/.exec(doc);
  if (!block) throw new Error("docs/gateway.md has no yaml block");
  return block[1]!;
}
const jsonOf = async (res: Response) => (await res.json()) as Record<string, unknown>;
const jtiOf = (token: string) => JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8")).jti as string;

/** The routes file of these tests: two upstreams (one with a short time limit), four tools, one pass-through. */
function routesFile(vaultUrl: string, upstream: TestUpstream) {
  return {
    vault: { url: vaultUrl, api_key_env: "TEST_GATEWAY_KEY", timeout_ms: 2000 },
    upstreams: {
      billing: { url: upstream.url, allow_private: true, timeout_ms: 5000 },
      slow: { url: upstream.url, allow_private: true, timeout_ms: 400 },
    },
    routes: [
      { method: "POST", path: "/refunds/:order_id", upstream: "billing", tool: "create_refund", args: { body: true, params: ["order_id"] }, max_body_bytes: 1024 },
      { method: "GET", path: "/orders/:id", upstream: "billing", tool: "get_order", args: { params: ["id"], query: { verbose: "boolean" } } },
      { method: "GET", path: "/reports/:size", upstream: "billing", upstream_path: "/large/:size", tool: "download_report", args: { params: { size: "integer" } } },
      { method: "POST", path: "/slow", upstream: "slow", upstream_path: "/hang", tool: "slow_tool", args: { body: { into: "payload" } } },
      { method: "POST", path: "/uploads/:name", upstream: "billing", tool: "upload_file", args: { body: "unbound", params: ["name"] }, max_body_bytes: 512 * 1024 },
    ],
    pass_through: [
      { method: "GET", path: "/public/status", upstream: "billing", upstream_path: "/status/204" },
      { method: "GET", path: "/public/moved", upstream: "billing", upstream_path: "/status/302" },
    ],
  };
}

describe.each<Engine>(["postgres", "pglite"])("token gateway on %s", (engine) => {
  let db: TestDatabase;
  let v: TestVault;
  let agent: string;
  let upstream: TestUpstream;
  let gw: RunningTokenGateway;
  let tenantSql: Awaited<ReturnType<TestVault["vault"]["ctx"]["tenantDbs"]["get"]>>;

  const approve = async (tool: string, args: Record<string, unknown>) => {
    const res = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: tool, tool_args: args, agent_id: "gw-agent" } });
    expect(res.body.status, JSON.stringify(res.body)).toBe("approved");
    return { token: res.body.token as string, requestId: res.body.request_id as string, jti: jtiOf(res.body.token) };
  };
  const through = (method: string, pathname: string, opts: { token?: string; body?: string; headers?: Record<string, string>; base?: string } = {}) =>
    fetch(`${opts.base ?? gw.url}${pathname}`, {
      method,
      headers: { ...(opts.body !== undefined ? { "content-type": "application/json" } : {}), ...(opts.token ? { authorization: `Bearer ${opts.token}` } : {}), ...opts.headers },
      body: opts.body,
    });
  const tokenRow = async (jti: string) =>
    (
      await tenantSql.query<{ consumed_at: Date | null; execution_status: number | null; execution_outcome: string | null; execution_response_sha256: string | null; execution_detail: string | null }>(
        "SELECT consumed_at, execution_status, execution_outcome, execution_response_sha256, execution_detail FROM issued_tokens WHERE jti = $1",
        [jti],
      )
    )[0]!;
  /** The execution report arrives after the response: wait for it (bounded). */
  const reported = async (jti: string) => {
    for (let i = 0; i < 200; i++) {
      const row = await tokenRow(jti);
      if (row.execution_outcome) return row;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no execution report for ${jti}`);
  };
  const seenSince = (n: number) => upstream.seen.slice(n);

  beforeAll(async () => {
    db = newDatabase(engine);
    v = await startTestVault(db);
    agent = await newKey(v, "agent");
    tenantSql = await v.vault.ctx.tenantDbs.get(v.tenantId);
    const reg = await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: { policy_id: "gateway-tools", tools: TOOLS, default_decision: "approve" } });
    expect(reg.status).toBe(200);
    upstream = await startTestUpstream();
    gw = await startTestGateway(gatewayConfigOf(routesFile(v.url, upstream), await newKey(v, "agent")));
  });
  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
    await v?.close();
    await db?.drop();
  });

  it("forwards an approved call once with only allowed headers, reports it, and refuses the second use with 409", async () => {
    const args = { amount: 25, currency: "usd", order_id: "o-17" };
    const { token, jti } = await approve("create_refund", args);
    const before = upstream.seen.length;
    const res = await through("POST", "/refunds/o-17", {
      token,
      body: JSON.stringify({ amount: 25, currency: "usd" }),
      headers: { cookie: "session=abc", "x-vault-api-key": "csk_not_for_upstream", "x-request-id": "r-1", "x-custom": "dropped", "user-agent": "agent/1.0" },
    });
    const text = await res.text();
    expect(res.status, text).toBe(200);
    expect(JSON.parse(text)).toEqual({ method: "POST", url: "/refunds/o-17", body: '{"amount":25,"currency":"usd"}' });
    // Response headers: allow-listed ones pass, the upstream's cookie and internal header do not.
    expect(res.headers.get("etag")).toBe('"v1"');
    expect(res.headers.get("set-cookie")).toBeNull();
    expect(res.headers.get("x-internal")).toBeNull();

    const seen = seenSince(before);
    expect(seen).toHaveLength(1);
    const names = Object.keys(seen[0]!.headers).sort();
    expect(names.filter((h) => !["connection", "content-length", "host"].includes(h))).toEqual(["accept", "accept-language", "content-type", "user-agent", "x-request-id"]);
    expect(seen[0]!.headers.host).toBe(new URL(upstream.url).host);
    expect(JSON.stringify(seen[0]!.headers)).not.toContain(token);
    expect(JSON.stringify(seen[0]!.headers)).not.toContain("csk_");

    const row = await reported(jti);
    expect(row.consumed_at).not.toBeNull();
    expect(row).toMatchObject({ execution_status: 200, execution_outcome: "succeeded", execution_response_sha256: createHash("sha256").update(text).digest("hex") });

    const again = await through("POST", "/refunds/o-17", { token, body: JSON.stringify({ amount: 25, currency: "usd" }) });
    expect(again.status).toBe(409);
    expect(await again.json()).toMatchObject({ code: "token_already_consumed", status: 409 });
    expect(upstream.seen.length).toBe(before + 1);
  });

  it("takes the token from X-Countersign-Token too, and binds path and typed query parameters", async () => {
    const { token } = await approve("get_order", { id: "o-9", verbose: true });
    const before = upstream.seen.length;
    const wrongQuery = await through("GET", "/orders/o-9?verbose=false", { headers: { "x-countersign-token": token } });
    expect(wrongQuery.status).toBe(403);
    expect((await jsonOf(wrongQuery)).code).toBe("token_binding_mismatch");
    const badType = await through("GET", "/orders/o-9?verbose=yes", { headers: { "x-countersign-token": token } });
    expect(badType.status).toBe(400);
    expect((await jsonOf(badType)).code).toBe("arguments_invalid");
    // A parameter the route does not bind would reach the upstream unapproved: refused, unburned.
    const extra = await through("GET", "/orders/o-9?verbose=true&page=2", { headers: { "x-countersign-token": token } });
    expect(extra.status).toBe(400);
    expect((await jsonOf(extra)).code).toBe("arguments_invalid");
    const ok = await through("GET", "/orders/o-9?verbose=true", { headers: { "x-countersign-token": token } });
    expect(ok.status).toBe(200);
    expect((await jsonOf(ok)).url).toBe("/orders/o-9?verbose=true");
    expect(upstream.seen.length).toBe(before + 1);
  });

  it("refuses missing, malformed and forged tokens with 401 and burns nothing", async () => {
    const before = upstream.seen.length;
    const missing = await through("POST", "/refunds/o-1", { body: "{}" });
    expect(missing.status).toBe(401);
    expect(missing.headers.get("content-type")).toContain("application/problem+json");
    expect(await missing.json()).toMatchObject({ code: "token_required", status: 401, instance: "/refunds/o-1" });
    const malformed = await through("POST", "/refunds/o-1", { token: "not-a-jwt", body: "{}" });
    expect(malformed.status).toBe(401);
    expect((await jsonOf(malformed)).code).toBe("token_invalid");
    // A real token with its payload altered: the signature no longer verifies.
    const { token, jti } = await approve("create_refund", { amount: 1, order_id: "o-1" });
    const [h, p, s] = token.split(".");
    const payload = JSON.parse(Buffer.from(p!, "base64url").toString("utf8"));
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...payload, tool_args_hash: "0".repeat(64) })).toString("base64url")}.${s}`;
    const res = await through("POST", "/refunds/o-1", { token: forged, body: JSON.stringify({ amount: 1 }) });
    expect(res.status).toBe(401);
    expect((await jsonOf(res)).code).toBe("token_invalid");
    const twoTokens = await through("POST", "/refunds/o-1", { token, headers: { "x-countersign-token": forged }, body: JSON.stringify({ amount: 1 }) });
    expect((await jsonOf(twoTokens)).code).toBe("token_invalid");
    expect((await tokenRow(jti)).consumed_at).toBeNull();
    expect(upstream.seen.length).toBe(before);
  });

  it("refuses a token for another tool, and a body other than the approved arguments, with 403 token_binding_mismatch", async () => {
    const before = upstream.seen.length;
    const other = await approve("get_order", { id: "o-2" });
    const wrongTool = await through("POST", "/refunds/o-2", { token: other.token, body: JSON.stringify({ amount: 5 }) });
    expect(wrongTool.status).toBe(403);
    expect((await jsonOf(wrongTool)).code).toBe("token_binding_mismatch");

    const { token, jti } = await approve("create_refund", { amount: 5, order_id: "o-2" });
    const bigger = await through("POST", "/refunds/o-2", { token, body: JSON.stringify({ amount: 500 }) });
    expect(bigger.status).toBe(403);
    expect((await jsonOf(bigger)).code).toBe("token_binding_mismatch");
    const otherOrder = await through("POST", "/refunds/o-3", { token, body: JSON.stringify({ amount: 5 }) });
    expect((await jsonOf(otherOrder)).code).toBe("token_binding_mismatch");
    // A query parameter cannot stand in for a body member: the same name from two sources is refused.
    const smuggled = await through("POST", "/refunds/o-2", { token, body: JSON.stringify({ amount: 5, order_id: "o-2" }) });
    expect(smuggled.status).toBe(400);
    expect((await jsonOf(smuggled)).code).toBe("arguments_invalid");
    // Members the hash would not see, or that other parsers read differently, are refused too.
    const proto = await through("POST", "/refunds/o-2", { token, body: '{"amount":5,"__proto__":{"admin":true}}' });
    expect(proto.status).toBe(403);
    expect((await jsonOf(proto)).code).toBe("token_binding_mismatch");
    const twice = await through("POST", "/refunds/o-2", { token, body: '{"amount":500,"amount":5}' });
    expect(twice.status).toBe(400);
    expect((await jsonOf(twice)).code).toBe("duplicate_json_key");
    expect((await tokenRow(jti)).consumed_at).toBeNull();
    expect((await tokenRow(other.jti)).consumed_at).toBeNull();
    expect(upstream.seen.length).toBe(before);
    // Still usable with the approved arguments: nothing above burned it. Key order does not matter (RFC 8785).
    const ok = await through("POST", "/refunds/o-2", { token, body: '{ "amount" : 5.0 }' });
    expect(ok.status).toBe(200);
  });

  it("refuses a token another tenant approved with 403 tenant_mismatch, unburned", async () => {
    const other = await newTenant(v, `gw-other-${engine}`);
    await call(v.url, "POST", "/register-policy", { key: other.adminKey, body: { policy_id: "gateway-tools", tools: TOOLS, default_decision: "approve" } });
    const res = await call(v.url, "POST", "/request-clearance", { key: other.adminKey, body: { tool_name: "get_order", tool_args: { id: "o-77" }, agent_id: "elsewhere" } });
    expect(res.body.status).toBe("approved");
    const before = upstream.seen.length;
    const answer = await through("GET", "/orders/o-77", { token: res.body.token });
    expect(answer.status).toBe(403);
    expect((await jsonOf(answer)).code).toBe("tenant_mismatch");
    expect(upstream.seen.length).toBe(before);
    const theirs = await v.vault.ctx.tenantDbs.get(other.tenantId);
    const rows = await theirs.query<{ consumed_at: Date | null }>("SELECT consumed_at FROM issued_tokens WHERE jti = $1", [jtiOf(res.body.token)]);
    expect(rows[0]!.consumed_at).toBeNull();
  });

  it("refuses an oversized body with 413 before the token is burned, declared or streamed", async () => {
    const { token, jti } = await approve("create_refund", { amount: 1, order_id: "o-4", note: "x".repeat(2000) });
    const before = upstream.seen.length;
    const declared = await through("POST", "/refunds/o-4", { token, body: JSON.stringify({ amount: 1, note: "x".repeat(2000) }) });
    expect(declared.status).toBe(413);
    expect((await jsonOf(declared)).code).toBe("payload_too_large");
    // Chunked, no Content-Length: counted as it arrives.
    const chunks = [Buffer.from('{"amount":1,"note":"'), Buffer.alloc(2000, 0x78), Buffer.from('"}')];
    const streamed = await fetch(`${gw.url}/refunds/o-4`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: new ReadableStream({
        pull(controller) {
          const next = chunks.shift();
          if (next) controller.enqueue(next);
          else controller.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
    expect(streamed.status).toBe(413);
    expect((await tokenRow(jti)).consumed_at).toBeNull();
    expect(upstream.seen.length).toBe(before);
  });

  it("answers 504 for an upstream that hangs and reports outcome error", async () => {
    const { token, jti } = await approve("slow_tool", { payload: { job: 1 } });
    const res = await through("POST", "/slow", { token, body: JSON.stringify({ job: 1 }) });
    expect(res.status).toBe(504);
    expect((await jsonOf(res)).code).toBe("upstream_timeout");
    const row = await reported(jti);
    expect(row).toMatchObject({ execution_status: null, execution_outcome: "error" });
    expect(row.execution_detail).toMatch(/did not answer within 400 ms/);
    expect(upstream.seen.at(-1)!.url).toBe("/hang");
  });

  it("refuses unlisted paths and methods, and forwards a listed pass-through without a token", async () => {
    const before = upstream.seen.length;
    for (const [method, p] of [["GET", "/admin"], ["DELETE", "/refunds/o-1"], ["HEAD", "/orders/o-1"], ["GET", "/large/10"]] as const) {
      const res = await through(method, p);
      expect(res.status, `${method} ${p}`).toBe(404);
      if (method !== "HEAD") expect((await jsonOf(res)).code).toBe("route_not_found");
    }
    expect(upstream.seen.length).toBe(before);
    const pass = await through("GET", "/public/status", { headers: { authorization: "Bearer whatever" } });
    expect(pass.status).toBe(204);
    expect(upstream.seen.length).toBe(before + 1);
    expect(upstream.seen.at(-1)!.url).toBe("/status/204");
    expect(upstream.seen.at(-1)!.headers.authorization).toBeUndefined();
    // A redirect is handed back, never followed.
    const moved = await fetch(`${gw.url}/public/moved`, { redirect: "manual" });
    expect(moved.status).toBe(302);
    expect(upstream.seen.length).toBe(before + 2);
  });

  it("streams a large response through and reports its hash", async () => {
    const size = 8 * 1024 * 1024;
    const { token, jti } = await approve("download_report", { size });
    const res = await through("GET", `/reports/${size}`, { token });
    expect(res.status).toBe(200);
    const hash = createHash("sha256");
    let received = 0;
    let chunks = 0;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      hash.update(chunk);
      received += chunk.length;
      chunks++;
    }
    expect(received).toBe(size);
    // Relayed in pieces as it came, not as one buffered answer.
    expect(chunks).toBeGreaterThan(1);
    const row = await reported(jti);
    expect(row).toMatchObject({ execution_status: 200, execution_outcome: "succeeded", execution_response_sha256: hash.digest("hex") });
  });

  it("reports outcome unknown when the client leaves in the middle of the response", async () => {
    const size = 64 * 1024 * 1024;
    const { token, jti } = await approve("download_report", { size });
    const abort = new AbortController();
    const res = await fetch(`${gw.url}/reports/${size}`, { headers: { authorization: `Bearer ${token}` }, signal: abort.signal });
    expect(res.status).toBe(200);
    const reader = res.body!.getReader();
    await reader.read();
    abort.abort();
    const row = await reported(jti);
    expect(row).toMatchObject({ execution_status: 200, execution_outcome: "unknown", execution_response_sha256: null });
    expect(row.execution_detail).toMatch(/not relayed in full/);
  });

  it("streams a request body the binding does not cover, after the burn, and still refuses one over the limit first", async () => {
    const { token, jti } = await approve("upload_file", { name: "big.bin" });
    const half = 128 * 1024;
    const arrivedBefore = upstream.arrived.length;
    const req = http.request(`${gw.url}/uploads/big.bin`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream", "content-length": String(2 * half) },
    });
    const answered = new Promise<http.IncomingMessage>((resolve, reject) => {
      req.on("response", resolve);
      req.on("error", reject);
    });
    req.write(Buffer.alloc(half, 0x61));
    // The upstream gets the request while half of the body is still with the client: nothing buffered it.
    for (let i = 0; i < 200 && upstream.arrived.length === arrivedBefore; i++) await new Promise((r) => setTimeout(r, 25));
    expect(upstream.arrived.slice(arrivedBefore)).toEqual(["/uploads/big.bin"]);
    req.end(Buffer.alloc(half, 0x62));
    const res = await answered;
    let text = "";
    for await (const chunk of res) text += chunk.toString();
    expect(res.statusCode, text).toBe(200);
    const echoed = JSON.parse(text) as { body: string };
    expect(echoed.body).toBe("a".repeat(half) + "b".repeat(half));
    expect(upstream.seen.at(-1)!.headers["content-length"]).toBe(String(2 * half));
    expect((await reported(jti)).execution_outcome).toBe("succeeded");

    const next = await approve("upload_file", { name: "huge.bin" });
    const before = upstream.seen.length;
    const tooBig = await through("POST", "/uploads/huge.bin", { token: next.token, body: "x".repeat(600 * 1024) });
    expect(tooBig.status).toBe(413);
    // Chunked (no length to check up front): read to the limit before anything else, then refused.
    const parts = [Buffer.alloc(300 * 1024, 0x78), Buffer.alloc(300 * 1024, 0x79)];
    const chunked = await fetch(`${gw.url}/uploads/huge.bin`, {
      method: "POST",
      headers: { "content-type": "application/octet-stream", authorization: `Bearer ${next.token}` },
      body: new ReadableStream({
        pull(controller) {
          const part = parts.shift();
          if (part) controller.enqueue(part);
          else controller.close();
        },
      }),
      duplex: "half",
    } as RequestInit);
    expect(chunked.status).toBe(413);
    expect((await jsonOf(chunked)).code).toBe("payload_too_large");
    expect((await tokenRow(next.jti)).consumed_at).toBeNull();
    expect(upstream.seen.length).toBe(before);
  });

  it("fails closed with 503 when the vault is unreachable at the burn, forwarding nothing", async () => {
    const relay: SwitchableRelay = await startSwitchableRelay(v.url);
    const config = gatewayConfigOf(routesFile(relay.url, upstream), await newKey(v, "agent"));
    const viaRelay = await startTestGateway(config);
    try {
      // The first call fetches the JWKS through the relay.
      const first = await approve("get_order", { id: "o-50" });
      expect((await through("GET", "/orders/o-50", { token: first.token, base: viaRelay.url })).status).toBe(200);
      expect((await fetch(`${viaRelay.url}/readyz`)).status).toBe(200);
      relay.up = false;
      const { token, jti } = await approve("get_order", { id: "o-51" });
      const before = upstream.seen.length;
      const res = await through("GET", "/orders/o-51", { token, base: viaRelay.url });
      expect(res.status).toBe(503);
      expect((await jsonOf(res)).code).toBe("vault_unavailable");
      expect(upstream.seen.length).toBe(before);
      expect((await tokenRow(jti)).consumed_at).toBeNull();
      // /readyz reuses its answer for a second (so probes cannot hammer the vault): wait that out.
      await new Promise((r) => setTimeout(r, 1100));
      const ready = await fetch(`${viaRelay.url}/readyz`);
      expect(ready.status).toBe(503);
      expect((await jsonOf(ready)).code).toBe("not_ready");
    } finally {
      await viaRelay.close();
      await relay.close();
    }
  });

  it("serves /healthz, /readyz and its own /metrics", async () => {
    expect(await (await fetch(`${gw.url}/healthz`)).json()).toMatchObject({ status: "ok" });
    expect(await (await fetch(`${gw.url}/readyz`)).json()).toMatchObject({ status: "ready", upstreams: ["billing", "slow"] });
    const metrics = await (await fetch(`${gw.url}/metrics`)).text();
    expect(metrics).toMatch(/countersign_gateway_requests_total\{route="POST \/refunds\/:order_id",outcome="forwarded"\} \d+/);
    expect(metrics).toMatch(/countersign_gateway_requests_total\{route="POST \/refunds\/:order_id",outcome="token_binding_mismatch"\} \d+/);
    expect(metrics).toMatch(/countersign_gateway_requests_total\{route="unmatched",outcome="route_not_found"\} \d+/);
    expect(metrics).toMatch(/countersign_gateway_execution_reports_total\{result="sent"\} \d+/);
    expect(metrics).toContain("countersign_gateway_admission_seconds_bucket");
  });

  it("produces a proof bundle showing approval, burn and execution that verifies offline", async () => {
    const args = { amount: 9, currency: "eur", order_id: "o-99" };
    const { token, jti, requestId } = await approve("create_refund", args);
    const res = await through("POST", "/refunds/o-99", { token, body: JSON.stringify({ currency: "eur", amount: 9 }) });
    const text = await res.text();
    expect(res.status).toBe(200);
    await reported(jti);
    await v.vault.ctx.ledgerLoop.drain();
    const bundle = await call(v.url, "GET", `/ledger/proof/bundle?request_id=${requestId}`, { key: agent });
    expect(bundle.status, JSON.stringify(bundle.body)).toBe(200);
    const events = [bundle.body.event, ...bundle.body.request_events.map((e: { event: unknown }) => e.event)] as { event_type: string; evidence_chunks: Record<string, unknown>[] }[];
    expect(events.map((e) => e.event_type)).toEqual(["clearance.approved", "token.consumed", "token.executed"]);
    const evidence = events[2]!.evidence_chunks.find((c) => c.type === "execution_report")!;
    expect(evidence).toMatchObject({ jti, status: 200, outcome: "succeeded" });
    // The hash of the body the client received is in the signed evidence (whatever the member is called).
    expect(Object.values(evidence)).toContain(createHash("sha256").update(text).digest("hex"));
    // Offline, with the vault's JWKS obtained apart from the bundle: the verifier and the CLI's entry point.
    const jwks = (await call(v.url, "GET", "/.well-known/jwks.json")).body;
    const report = verifyProofBundle({ ...bundle.body, keys: [] }, trustedKeysFromJwks(jwks));
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.events?.map((e) => e.event_type)).toEqual(["clearance.approved", "token.consumed", "token.executed"]);
    const dir = mkdtempSync(path.join(os.tmpdir(), "cs-gw-bundle-"));
    writeFileSync(path.join(dir, "bundle.json"), JSON.stringify(bundle.body));
    writeFileSync(path.join(dir, "jwks.json"), JSON.stringify(jwks));
    const write = process.stdout.write;
    process.stdout.write = () => true;
    try {
      expect(await runVerifyBundle(path.join(dir, "bundle.json"), { jwks: path.join(dir, "jwks.json"), json: true })).toBe(0);
    } finally {
      process.stdout.write = write;
    }
  });

  it("runs the complete routes file of docs/gateway.md, as written but for the addresses", async () => {
    const file = parseGatewayFile(docExample(), "docs/gateway.md");
    expect(file.routes.map((r) => `${r.method} ${r.path} ${r.tool}`)).toEqual(["POST /refunds/:order_id stripe_refund", "GET /customers/:customer_id/export export_customer", "POST /tickets open_ticket"]);
    expect(file.vault.api_key_env).toBe("COUNTERSIGN_GATEWAY_API_KEY");
    // Only the addresses change: this vault, this test's upstream (on loopback, so allowed as private).
    const local = { ...file, vault: { ...file.vault, url: v.url }, upstreams: Object.fromEntries(Object.entries(file.upstreams).map(([name, u]) => [name, { ...u, url: upstream.url, allow_private: true }])) };
    const docGateway = await startTestGateway(gatewayConfigOf(local, await newKey(v, "agent")));
    try {
      const before = upstream.seen.length;
      // The arguments the doc's comments give for each route.
      const refund = await approve("stripe_refund", { amount: 25, currency: "usd", order_id: "o-17" });
      const r1 = await through("POST", "/refunds/o-17", { token: refund.token, body: JSON.stringify({ amount: 25, currency: "usd" }), base: docGateway.url });
      expect(r1.status, await r1.clone().text()).toBe(200);
      const exportCall = await approve("export_customer", { customer_id: "c-9", format: "csv", limit: 100 });
      const r2 = await through("GET", "/customers/c-9/export?format=csv&limit=100", { token: exportCall.token, base: docGateway.url });
      expect(r2.status).toBe(200);
      const ticket = await approve("open_ticket", { ticket: { title: "Printer on fire", priority: 1 } });
      const r3 = await through("POST", "/tickets", { token: ticket.token, body: JSON.stringify({ title: "Printer on fire", priority: 1 }), base: docGateway.url });
      expect(r3.status).toBe(200);
      const health = await through("GET", "/billing/health", { base: docGateway.url });
      expect(health.status).toBe(200);
      expect(seenSince(before).map((r) => `${r.method} ${r.url}`)).toEqual(["POST /refunds/o-17", "GET /v2/exports/c-9?format=csv&limit=100", "POST /tickets", "GET /health"]);
      // The doc's request list: idempotency-key passes, accept-language (not listed there) does not.
      const headers = await through("GET", "/billing/health", { base: docGateway.url, headers: { "idempotency-key": "k-1", "accept-language": "fr" } });
      expect(headers.status).toBe(200);
      expect(upstream.seen.at(-1)!.headers["idempotency-key"]).toBe("k-1");
      expect(upstream.seen.at(-1)!.headers["accept-language"]).toBeUndefined();
    } finally {
      await docGateway.close();
    }
  });
});
