import http from "node:http";
import net from "node:net";
import { Writable } from "node:stream";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RunningTokenGateway } from "../../src/gateway/token/start.js";
import { gatewayConfigOf, startTestGateway, startTestUpstream, type TestUpstream } from "../helpers/gateway.js";
import { startSwitchableRelay, type SwitchableRelay } from "../helpers/gateway-relay.js";
import { call, newDatabase, newKey, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

/**
 * The token gateway as an attacker sees it: every way to make the upstream act on something other
 * than what the vault approved (query and path spellings, JSON that parses two ways, headers that
 * re-route a request, framing tricks), reuse races, a vault that is slow or answers garbage, and what
 * the execution report and the log say afterwards. One engine: nothing here depends on the database.
 */
const TOOLS = ["create_refund", "get_order", "search", "upload_file", "cancel_order"];
const jtiOf = (token: string) => JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString("utf8")).jti as string;

function routesFile(vaultUrl: string, upstream: TestUpstream) {
  return {
    vault: { url: vaultUrl, api_key_env: "TEST_GATEWAY_KEY", timeout_ms: 1500 },
    upstreams: { billing: { url: upstream.url, allow_private: true, timeout_ms: 5000 } },
    routes: [
      { method: "POST", path: "/refunds/:order_id", upstream: "billing", tool: "create_refund", args: { body: true, params: ["order_id"] } },
      { method: "GET", path: "/orders/:id", upstream: "billing", tool: "get_order", args: { params: ["id"], query: { verbose: "boolean", max: "number" } } },
      { method: "GET", path: "/search", upstream: "billing", tool: "search", args: { query: "all" } },
      { method: "POST", path: "/uploads/:name", upstream: "billing", tool: "upload_file", args: { body: "unbound", params: ["name"] } },
      { method: "DELETE", path: "/orders/:id", upstream: "billing", tool: "cancel_order", args: { params: ["id"] } },
    ],
  };
}

/** One raw HTTP/1.1 exchange (or several, pipelined): what fetch would normalise away is sent as written. */
function raw(url: string, text: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    // Written, not ended: a half-closed client socket is a client that left. Every exchange ends with Connection: close.
    const socket = net.connect(Number(port), hostname, () => socket.write(text));
    let out = "";
    socket.on("data", (c: Buffer) => (out += c.toString("latin1")));
    socket.on("close", () => resolve(out));
    socket.on("error", reject);
    socket.setTimeout(10_000, () => socket.destroy());
  });
}
const statusesOf = (answer: string) => [...answer.matchAll(/^HTTP\/1\.1 (\d{3})/gm)].map((m) => Number(m[1]));

describe("the token gateway under attack", () => {
  let db: TestDatabase;
  let v: TestVault;
  let agent: string;
  let gatewayKey: string;
  let upstream: TestUpstream;
  let gw: RunningTokenGateway;
  let tenantSql: Awaited<ReturnType<TestVault["vault"]["ctx"]["tenantDbs"]["get"]>>;

  const approve = async (tool: string, args: Record<string, unknown>) => {
    const res = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: tool, tool_args: args, agent_id: "attacker" } });
    expect(res.body.status, JSON.stringify(res.body)).toBe("approved");
    return { token: res.body.token as string, jti: jtiOf(res.body.token) };
  };
  const consumed = async (jti: string) => (await tenantSql.query<{ consumed_at: Date | null }>("SELECT consumed_at FROM issued_tokens WHERE jti = $1", [jti]))[0]!.consumed_at !== null;
  const reported = async (jti: string) => {
    for (let i = 0; i < 200; i++) {
      const [row] = await tenantSql.query<{ execution_status: number | null; execution_outcome: string | null; execution_detail: string | null }>(
        "SELECT execution_status, execution_outcome, execution_detail FROM issued_tokens WHERE jti = $1",
        [jti],
      );
      if (row?.execution_outcome) return row;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(`no execution report for ${jti}`);
  };
  const send = (method: string, pathname: string, token: string | undefined, opts: { body?: string | Uint8Array; headers?: Record<string, string>; base?: string } = {}) =>
    fetch(`${opts.base ?? gw.url}${pathname}`, {
      method,
      headers: { ...(opts.body !== undefined ? { "content-type": "application/json" } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}), ...opts.headers },
      body: opts.body,
    });
  const codeOf = async (res: Response) => ((await res.json()) as { code: string }).code;

  beforeAll(async () => {
    db = newDatabase("pglite");
    v = await startTestVault(db);
    agent = await newKey(v, "agent");
    gatewayKey = await newKey(v, "agent");
    tenantSql = await v.vault.ctx.tenantDbs.get(v.tenantId);
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: { policy_id: "gw-attacks", tools: TOOLS, default_decision: "approve" } })).status).toBe(200);
    upstream = await startTestUpstream();
    gw = await startTestGateway(gatewayConfigOf(routesFile(v.url, upstream), gatewayKey));
  });
  afterAll(async () => {
    await gw?.close();
    await upstream?.close();
    await v?.close();
    await db?.drop();
  });

  it("lets no query parameter reach the upstream unbound: extras, a[] forms and _method are refused, the rest goes re-encoded", async () => {
    const { token, jti } = await approve("get_order", { id: "o-1" });
    const before = upstream.seen.length;
    for (const query of ["?verbose[]=true", "?page=2", "?_method=DELETE", "?verbose=true&verbose[]=false", "?verbose=1"]) {
      const res = await send("GET", `/orders/o-1${query}`, token);
      expect(res.status, query).toBe(400);
      expect(await codeOf(res)).toBe("arguments_invalid");
    }
    // On a body route, a query string must not stand beside the approved body either.
    const refund = await approve("create_refund", { amount: 5, order_id: "o-1" });
    const beside = await send("POST", "/refunds/o-1?amount=500", refund.token, { body: '{"amount":5}' });
    expect(beside.status).toBe(400);
    expect(await consumed(refund.jti)).toBe(false);
    expect(await consumed(jti)).toBe(false);
    expect(upstream.seen.length).toBe(before);
    expect((await send("GET", "/orders/o-1", token)).status).toBe(200);
    expect(upstream.seen.at(-1)!.url).toBe("/orders/o-1");
    // A typed number is bound as a double and sent as text: the two must be the same number.
    const big = await approve("get_order", { id: "o-1", max: 9007199254740992 });
    const inexact = await send("GET", "/orders/o-1?max=9007199254740993", big.token);
    expect(inexact.status).toBe(400);
    expect(await codeOf(inexact)).toBe("arguments_invalid");
    expect((await send("GET", "/orders/o-1?max=9007199254740992", big.token)).status).toBe(200);

    // `query: all` binds every parameter, and the upstream gets exactly the parsed values, re-encoded:
    // a ";" cannot split into a second parameter for a parser that splits on it.
    const search = await approve("search", { q: "a;admin=1", tag: ["x y", "z"] });
    expect((await send("GET", "/search?a[]=1", search.token)).status).toBe(400);
    const ok = await send("GET", "/search?q=a;admin=1&tag=x+y&tag=%7A", search.token);
    expect(ok.status).toBe(200);
    expect(upstream.seen.at(-1)!.url).toBe("/search?q=a%3Badmin%3D1&tag=x+y&tag=z");
  });

  it("sends the upstream the path it bound, whatever the spelling; refuses segments an upstream would split or climb", async () => {
    const { token, jti } = await approve("create_refund", { amount: 1, order_id: "o-1" });
    const body = '{"amount":1}';
    const post = (target: string, tok = token) => `POST ${target} HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${tok}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`;
    const before = upstream.seen.length;
    for (const target of ["/refunds/a%5C..%5C..%5Cadmin", "/refunds/..%2Fadmin", "/refunds/%2e%2e", "/refunds/o-1%00"]) {
      expect(statusesOf(await raw(gw.url, post(target))), target).toEqual([400]);
    }
    for (const target of ["/Refunds/o-1", "/refunds/o-1/", "//refunds/o-1", "/refunds//o-1"]) {
      expect(statusesOf(await raw(gw.url, post(target))), target).toEqual([404]);
    }
    expect(upstream.seen.length).toBe(before);
    expect(await consumed(jti)).toBe(false);
    // Percent-encoded and absolute-form spellings of the approved path reach the upstream in one spelling.
    expect(statusesOf(await raw(gw.url, post("http://elsewhere.example/refunds/%6F-%31")))).toEqual([200]);
    expect(upstream.seen.at(-1)!.url).toBe("/refunds/o-1");
    expect(upstream.seen.at(-1)!.headers.host).toBe(new URL(upstream.url).host);
  });

  it("refuses JSON that parses two ways, or that the gateway cannot read as the upstream would, before the burn", async () => {
    const { token, jti } = await approve("create_refund", { amount: 9007199254740992, order_id: "o-2" });
    const before = upstream.seen.length;
    const cases: [string, Record<string, string>, number, string][] = [
      ['{"amount":9007199254740993}', {}, 400, "arguments_invalid"], // hashed as ...992, read exactly upstream
      ['{"amount":9007199254740992.5}', {}, 400, "arguments_invalid"],
      ['{"amount":1e400}', {}, 400, "arguments_invalid"], // no finite value at all (was a 500)
      ['{"amount":9007199254740992,"note":"\\ud800"}', {}, 400, "arguments_invalid"],
      ['{"amount":9007199254740992}', { "content-type": "text/plain" }, 415, "unsupported_media_type"],
      ['{"amount":9007199254740992}', { "content-type": "application/x-www-form-urlencoded" }, 415, "unsupported_media_type"],
      ['{"amount":9007199254740992}', { "content-type": "application/json; charset=iso-8859-1" }, 415, "unsupported_media_type"],
      ["\ufeff{\"amount\":9007199254740992}", {}, 400, "invalid_json"],
    ];
    for (const [body, headers, status, code] of cases) {
      const res = await send("POST", "/refunds/o-2", token, { body, headers });
      expect(res.status, body).toBe(status);
      expect(res.headers.get("content-type")).toContain("application/problem+json");
      expect(await codeOf(res), body).toBe(code);
    }
    // Bytes that are not UTF-8 would all hash as U+FFFD while the upstream reads the bytes.
    const latin = Buffer.concat([Buffer.from('{"amount":9007199254740992,"note":"'), Buffer.from([0xe9]), Buffer.from('"}')]);
    const bad = await send("POST", "/refunds/o-2", token, { body: latin });
    expect(bad.status).toBe(400);
    expect(await codeOf(bad)).toBe("invalid_json");
    expect(await consumed(jti)).toBe(false);
    expect(upstream.seen.length).toBe(before);
    // Another spelling of the same number is the same number.
    const ok = await send("POST", "/refunds/o-2", token, { body: '{"amount":9.007199254740992e15}', headers: { "content-type": "application/json; charset=UTF-8" } });
    expect(ok.status).toBe(200);
  });

  it("forwards no header that re-routes the request or speaks for the gateway, and keeps the binding's Content-Type", async () => {
    const { token } = await approve("create_refund", { amount: 3, order_id: "o-3" });
    const res = await send("POST", "/refunds/o-3", token, {
      body: '{"amount":3}',
      headers: {
        "x-http-method-override": "DELETE",
        "x-original-url": "/admin",
        "x-forwarded-for": "10.0.0.1",
        forwarded: "for=10.0.0.1",
        "x-real-ip": "10.0.0.1",
        "proxy-authorization": "Basic eDp5",
        cookie: "s=1",
        // A client cannot make the gateway drop a header it forwards by naming it here.
        connection: "keep-alive, content-type, x-request-id",
        "x-request-id": "rid-1",
        te: "trailers",
      },
    });
    expect(res.status).toBe(200);
    const seen = upstream.seen.at(-1)!;
    expect(seen.method).toBe("POST");
    for (const h of ["x-http-method-override", "x-original-url", "x-forwarded-for", "forwarded", "x-real-ip", "proxy-authorization", "cookie", "te", "authorization"]) {
      expect(seen.headers[h], h).toBeUndefined();
    }
    expect(seen.headers["content-type"]).toBe("application/json");
    expect(seen.headers["x-request-id"]).toBe("rid-1");
  });

  it("forwards exactly one of two concurrent uses of a token, and one of two pipelined on one connection", async () => {
    const { token, jti } = await approve("create_refund", { amount: 7, order_id: "o-7" });
    const before = upstream.seen.length;
    const answers = await Promise.all([1, 2, 3].map(() => send("POST", "/refunds/o-7", token, { body: '{"amount":7}' })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 409, 409]);
    expect(upstream.seen.length).toBe(before + 1);
    expect((await reported(jti)).execution_outcome).toBe("succeeded");

    // Pipelined on one connection: Node hands both requests over at once, so the second could win the
    // burn and then lose its answer behind the first's while the report said "succeeded". They are
    // handled in order: the first is forwarded and answered, the second refused as a reuse.
    const second = await approve("get_order", { id: "o-8" });
    const get = `GET /orders/o-8 HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${second.token}\r\n\r\n`;
    const pipelined = await raw(gw.url, get + get.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n"));
    expect(statusesOf(pipelined), pipelined).toEqual([200, 409]);
    expect(upstream.seen.length).toBe(before + 2);
    expect((await reported(second.jti)).execution_outcome).toBe("succeeded");
  });

  it("refuses a body on a route that binds none (unless the routes file says body: unbound), before the burn", async () => {
    const { token, jti } = await approve("cancel_order", { id: "o-5" });
    const before = upstream.seen.length;
    // A DELETE that smuggles a body the approval never covered: refused, not burned, nothing forwarded.
    const smuggled = await send("DELETE", "/orders/o-5", token, { body: JSON.stringify({ refund_everything: true }) });
    expect([smuggled.status, await codeOf(smuggled)]).toEqual([400, "arguments_invalid"]);
    const chunked = await raw(gw.url, `DELETE /orders/o-5 HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n2\r\n{}\r\n0\r\n\r\n`);
    expect(statusesOf(chunked)).toEqual([400]);
    expect(await consumed(jti)).toBe(false);
    expect(upstream.seen.length).toBe(before);
    // Without a body the same token goes through once.
    expect((await send("DELETE", "/orders/o-5", token)).status).toBe(200);
    expect(await consumed(jti)).toBe(true);
  });

  it("refuses a request without a valid token for the route's tool before reading its body", async () => {
    const other = await approve("get_order", { id: "o-5" });
    for (const [headers, code] of [[{}, "token_required"], [{ authorization: "Bearer not.a.jwt" }, "token_invalid"], [{ authorization: `Bearer ${other.token}` }, "token_binding_mismatch"]] as const) {
      const req = http.request(`${gw.url}/refunds/o-5`, { method: "POST", headers: { ...headers, "content-type": "application/json", "content-length": String(512 * 1024) } });
      req.on("error", () => undefined);
      const answered = new Promise<http.IncomingMessage>((resolve) => req.on("response", resolve));
      // A sliver of a large declared body: the answer comes without the gateway waiting for (or buffering) the rest.
      req.write('{"amount":');
      const res = await answered;
      let text = "";
      for await (const chunk of res) text += chunk.toString();
      expect(JSON.parse(text).code).toBe(code);
      req.destroy();
    }
    expect(await consumed(other.jti)).toBe(false);
  });

  it("refuses ambiguous framing (Transfer-Encoding with Content-Length) without burning or forwarding", async () => {
    const { token, jti } = await approve("create_refund", { amount: 4, order_id: "o-4" });
    const before = upstream.seen.length;
    const smuggle =
      `POST /refunds/o-4 HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 12\r\nTransfer-Encoding: chunked\r\n\r\n` +
      `c\r\n{"amount":4}\r\n0\r\n\r\nGET /orders/o-4 HTTP/1.1\r\nHost: gw\r\n\r\n`;
    const answer = await raw(gw.url, smuggle);
    expect(statusesOf(answer)).toEqual([400]);
    expect(answer).toContain("application/problem+json");
    const doubled = `POST /refunds/o-4 HTTP/1.1\r\nHost: gw\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 12\r\nContent-Length: 13\r\n\r\n{"amount":4} `;
    expect(statusesOf(await raw(gw.url, doubled))).toEqual([400]);
    const huge = await raw(gw.url, `GET /orders/o-4 HTTP/1.1\r\nHost: gw\r\nX-Pad: ${"a".repeat(40_000)}\r\n\r\n`);
    expect(statusesOf(huge)).toEqual([431]);
    expect(upstream.seen.length).toBe(before);
    expect(await consumed(jti)).toBe(false);
  });

  it("closes slow clients with 408 and sockets over max_connections, without touching the upstream", async () => {
    const file = { ...routesFile(v.url, upstream), limits: { request_timeout_ms: 1000, headers_timeout_ms: 1000, socket_idle_timeout_ms: 10_000, max_connections: 2 } };
    const tight = await startTestGateway(gatewayConfigOf(file, gatewayKey));
    const before = upstream.arrived.length;
    try {
      // Slowloris: headers that never finish, and a body that never finishes.
      const [headers, body] = await Promise.all([
        raw(tight.url, "GET /orders/o-1 HTTP/1.1\r\nHost: gw\r\nX-Slow: 1\r\n"),
        raw(tight.url, 'POST /refunds/o-1 HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"amount":'),
      ]);
      expect(statusesOf(headers)).toEqual([408]);
      expect(headers).toContain("request_timeout");
      expect(statusesOf(body)).toEqual([401]); // no token: refused as it arrived, before its body
      // Two sockets held open; a third is closed on accept, and the gateway serves again once they go.
      const held = await Promise.all([1, 2].map(() => new Promise<net.Socket>((resolve) => { const s = net.connect(Number(new URL(tight.url).port), "127.0.0.1", () => resolve(s)); })));
      await new Promise((r) => setTimeout(r, 100));
      expect(statusesOf(await raw(tight.url, "GET /healthz HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n"))).toEqual([]);
      for (const s of held) s.destroy();
      await new Promise((r) => setTimeout(r, 100));
      expect(statusesOf(await raw(tight.url, "GET /healthz HTTP/1.1\r\nHost: gw\r\nConnection: close\r\n\r\n"))).toEqual([200]);
      expect(upstream.arrived.length).toBe(before);
    } finally {
      await tight.close();
    }
  });

  it("fails closed on a vault that is slow, answers garbage, or was never reached, and says nothing internal", async () => {
    const relay: SwitchableRelay = await startSwitchableRelay(v.url);
    const lines: string[] = [];
    const log = pino({ level: "trace" }, new Writable({ write: (chunk, _e, done) => (lines.push(chunk.toString()), done()) }));
    const viaRelay = await startTestGateway(gatewayConfigOf(routesFile(relay.url, upstream), gatewayKey), { log });
    try {
      // Never reached: no JWKS yet. That is the vault's failure, not the token's (503, not 401).
      relay.up = false;
      const first = await approve("get_order", { id: "o-9" });
      const before = upstream.seen.length;
      const noKeys = await send("GET", "/orders/o-9", first.token, { base: viaRelay.url });
      expect(noKeys.status).toBe(503);
      const problem = (await noKeys.json()) as { code: string; detail: string };
      expect(problem.code).toBe("vault_unavailable");
      expect(problem.detail).not.toMatch(/127\.0\.0\.1|fetch failed|ECONN/);
      const ready = (await (await fetch(`${viaRelay.url}/readyz`)).json()) as { detail: string };
      expect(ready.detail).not.toMatch(/127\.0\.0\.1|ECONN/);
      relay.up = true;
      // /readyz is public: a burst of probes is one JWKS fetch at the vault, not one each.
      await new Promise((r) => setTimeout(r, 1100));
      const fetchesBefore = relay.relayed.filter((r) => r.includes("jwks")).length;
      const probes = await Promise.all(Array.from({ length: 20 }, () => fetch(`${viaRelay.url}/readyz`)));
      expect(probes.every((p) => p.status === 200)).toBe(true);
      expect(relay.relayed.filter((r) => r.includes("jwks")).length - fetchesBefore).toBe(1);

      // Slow: the burn hangs past vault.timeout_ms.
      relay.hang = true;
      const slow = await send("GET", "/orders/o-9", first.token, { base: viaRelay.url });
      expect(slow.status).toBe(503);
      expect(await consumed(first.jti)).toBe(false);
      relay.hang = false;
      // The SDK does not ask a vault that just failed again for a second (src/sdk/jwks.ts): wait that out.
      await new Promise((r) => setTimeout(r, 1100));
      // Garbage: a 200 that is not a burn.
      for (const text of ["not json", '{"consumed":false}', "{}", "[1]"]) {
        relay.garbage = { path: "/consume-token", text };
        const res = await send("GET", "/orders/o-9", first.token, { base: viaRelay.url });
        expect(res.status, text).toBe(503);
        expect(await codeOf(res)).toBe("vault_unavailable");
      }
      relay.garbage = undefined;
      // Those reached the burn (the keys were fetched): it was the garbage that was refused.
      expect(relay.relayed.filter((r) => r === "garbage POST /consume-token")).toHaveLength(4);
      expect(upstream.seen.length).toBe(before);
      expect(await consumed(first.jti)).toBe(false);
      // Healthy again: the same token is still good.
      const healthy = await send("GET", "/orders/o-9", first.token, { base: viaRelay.url });
      expect(healthy.status).toBe(200);
      await reported(first.jti);
      await viaRelay.close();
      const logged = lines.join("");
      expect(logged).toContain("vault_unavailable");
      expect(logged).not.toContain(first.token);
      expect(logged).not.toContain(first.token.split(".")[2]!);
      expect(logged).not.toContain(gatewayKey);
    } finally {
      await viaRelay.close();
      await relay.close();
    }
  });

  it("reports outcome unknown, not an upstream failure, when the client aborts its upload after the burn", async () => {
    const { token, jti } = await approve("upload_file", { name: "cut.bin" });
    const arrivedBefore = upstream.arrived.length;
    const req = http.request(`${gw.url}/uploads/cut.bin`, {
      method: "POST",
      headers: { authorization: `Bearer ${token}`, "content-type": "application/octet-stream", "content-length": String(256 * 1024) },
    });
    req.on("error", () => undefined);
    req.write(Buffer.alloc(64 * 1024, 0x61));
    for (let i = 0; i < 200 && upstream.arrived.length === arrivedBefore; i++) await new Promise((r) => setTimeout(r, 25));
    expect(upstream.arrived.length).toBe(arrivedBefore + 1);
    req.destroy();
    const row = await reported(jti);
    expect(row).toMatchObject({ execution_status: null, execution_outcome: "unknown" });
    expect(row.execution_detail).toMatch(/client/);
  });
});
