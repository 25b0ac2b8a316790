import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { BadRequestError, Countersign, CountersignError, verifyWebhook, WebhookReplayGuard } from "../../src/sdk/index.js";
import { createHmac } from "node:crypto";

/**
 * The SDK under attack, against real sockets: a server that ignores ?wait= (no tight loop), the
 * caller's AbortSignal on every call, guard's snapshot of the arguments and its report that never
 * replaces the tool's result, bad input as typed errors (never a raw TypeError or a fake outage), an
 * unknown status, a token issued in the future, and webhook options and replay keys.
 */
type Seen = { method: string; url: string; body: string };
type Handler = (req: Seen, res: ServerResponse) => void;

let handler: Handler = (_req, res) => res.end();
let server: Server;
let base: string;
let seen: Seen[] = [];

beforeAll(async () => {
  server = createServer((req: IncomingMessage, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const s = { method: req.method!, url: req.url!, body };
      seen.push(s);
      handler(s, res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
afterEach(() => {
  seen = [];
  handler = (_req, res) => res.end();
});

const json = (res: ServerResponse, status: number, body: unknown) => {
  res.writeHead(status, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
};
const open = { request_id: "req_1", status: "pending_review", decision_status: "pending_review", reason: "", requires_manual_review: true };

/** A fake vault for guard: approves with a token, burns, and answers the report with `reportStatus`. */
function fakeVault(reportStatus = 200): Handler {
  return (req, res) => {
    if (req.url.startsWith("/request-clearance")) return json(res, 200, { request_id: "req_g", status: "approved", decision_status: "approved", reason: "ok", token: "tok" });
    if (req.url === "/consume-token") return json(res, 200, { consumed: true, jti: "jti_g", request_id: "req_g", tool: "t", tool_args_hash: "h", agent_id: "a", tenant_id: "x", consumed_at: "now" });
    if (req.url.startsWith("/tokens/jti_g/execution")) return reportStatus === 200 ? json(res, 200, { jti: "jti_g" }) : json(res, reportStatus, { code: "internal_error" });
    json(res, 404, { code: "not_found" });
  };
}

describe("SDK hardening", () => {
  it("waitForDecision against a server that ignores ?wait= backs off instead of polling in a tight loop", async () => {
    handler = (_req, res) => json(res, 200, open); // answers at once, every time
    const cs = new Countersign({ baseUrl: base, apiKey: "k" });
    const progress: string[] = [];
    await expect(cs.waitForDecision("req_1", { timeoutSeconds: 2, onProgress: (c) => progress.push(c.status) })).rejects.toMatchObject({ code: "decision_timeout", lastStatus: "pending_review" });
    // A tight loop makes hundreds of requests in 2 s; the backoff (0.5 s, 1 s, 2 s...) a handful.
    expect(seen.length).toBeGreaterThanOrEqual(2);
    expect(seen.length).toBeLessThanOrEqual(6);
    expect(progress.length).toBe(seen.length);
  });

  it("the caller's AbortSignal ends a wait during its backoff, and is honoured by consume, reportExecution and cancel", async () => {
    handler = (_req, res) => json(res, 200, open);
    const cs = new Countersign({ baseUrl: base, apiKey: "k", timeoutMs: 20_000 });
    const waiting = new AbortController();
    const wait = cs.waitForDecision("req_1", { timeoutSeconds: 60, signal: waiting.signal });
    setTimeout(() => waiting.abort(new Error("agent stopped")), 200);
    await expect(wait).rejects.toThrow("agent stopped");
    handler = () => undefined; // never answers: only the signal can end these calls
    for (const run of [
      (signal: AbortSignal) => cs.consume("a.b.c", {}, { signal }),
      (signal: AbortSignal) => cs.reportExecution("j", { status: 200, durationMs: 1 }, { signal }),
      (signal: AbortSignal) => cs.cancel("req_1", { signal }),
    ]) {
      const controller = new AbortController();
      const pending = run(controller.signal);
      setTimeout(() => controller.abort(new Error("caller gave up")), 50);
      await expect(pending).rejects.toThrow("caller gave up");
    }
  });

  it("guard approves, burns and runs one snapshot of the arguments: the caller changing its object later changes nothing", async () => {
    handler = fakeVault();
    const cs = new Countersign({ baseUrl: base, apiKey: "k" });
    const received: unknown[] = [];
    const tool = cs.guard("t", (args: { amount: number; items: number[] }) => {
      received.push(structuredClone(args));
      args.amount = 999; // fn mutating its own copy touches nothing else
      return { ok: true };
    }, { agentId: "a" });
    const args = { amount: 45, items: [1] };
    const call = tool(args);
    args.amount = 5000; // after the clearance was asked for, before the burn and the call
    args.items.push(2);
    await expect(call).resolves.toEqual({ ok: true });
    const consumed = JSON.parse(seen.find((s) => s.url === "/consume-token")!.body);
    const asked = JSON.parse(seen.find((s) => s.url === "/request-clearance")!.body);
    expect(asked.tool_args).toEqual({ amount: 45, items: [1] });
    expect(consumed.tool_args).toEqual({ amount: 45, items: [1] });
    expect(received).toEqual([{ amount: 45, items: [1] }]);
  });

  it("guard returns the tool's result even when the report fails and onReportError throws", async () => {
    handler = fakeVault(500);
    const cs = new Countersign({ baseUrl: base, apiKey: "k" });
    const errors: unknown[] = [];
    const tool = cs.guard("t", () => ({ refunded: 45 }), {
      agentId: "a",
      onReportError: (err) => {
        errors.push(err);
        throw new Error("handler bug");
      },
    });
    await expect(tool({ a: 1 })).resolves.toEqual({ refunded: 45 });
    expect(errors).toEqual([expect.objectContaining({ name: "VaultUnavailableError", status: 500 })]);
    // And a throwing tool's own error is what the caller gets, not the handler's.
    const failing = cs.guard("t", () => {
      throw new Error("tool failed");
    }, { agentId: "a", onReportError: () => { throw new Error("handler bug"); } });
    await expect(failing({ a: 1 })).rejects.toThrow("tool failed");
  });

  it("a vault that hangs on the report holds the tool's result for reportTimeoutMs at most, then onReportError is told", async () => {
    const vault = fakeVault();
    handler = (req, res) => (req.url.startsWith("/tokens/") ? undefined : vault(req, res)); // the report never answers
    const cs = new Countersign({ baseUrl: base, apiKey: "k", timeoutMs: 60_000 });
    const errors: unknown[] = [];
    const tool = cs.guard("t", () => ({ refunded: 45 }), { agentId: "a", reportTimeoutMs: 200, onReportError: (err) => errors.push(err) });
    await expect(tool({ a: 1 })).resolves.toEqual({ refunded: 45 });
    expect(errors).toEqual([expect.objectContaining({ name: "VaultUnavailableError", code: "report_timeout" })]);
    expect(seen.map((s) => s.url)).toEqual(["/request-clearance", "/consume-token", "/tokens/jti_g/execution"]);
  });

  it("bad input is a typed BadRequestError (invalid_input) sent nowhere, not a TypeError or a fake outage", async () => {
    handler = fakeVault();
    const cs = new Countersign({ baseUrl: base, apiKey: "k" });
    let ran = 0;
    const tool = cs.guard("t", () => ran++, { agentId: "a" });
    await expect(tool({ big: 1n } as never)).rejects.toMatchObject({ name: "BadRequestError", code: "invalid_input" });
    await expect(tool(null as never)).rejects.toMatchObject({ name: "BadRequestError", code: "invalid_input" });
    await expect(cs.requestClearance({ tool: "t", args: { big: 1n }, agentId: "a" })).rejects.toMatchObject({ name: "BadRequestError", code: "invalid_input" });
    await expect(cs.requestClearance(undefined as never)).rejects.toBeInstanceOf(BadRequestError);
    await expect(cs.consume(42 as never)).rejects.toMatchObject({ code: "invalid_input" });
    await expect(cs.reportExecution("j", { status: 200, durationMs: Number.NaN })).rejects.toMatchObject({ code: "invalid_input" });
    await expect(cs.verifyToken("eyJhbGciOiJFZERTQSIsImtpZCI6ImsifQ.e30.c2ln", { clockSkewSeconds: Number.NaN })).rejects.toMatchObject({ code: "invalid_input" });
    await expect(cs.waitForDecision("r", { timeoutSeconds: Number.NaN })).rejects.toMatchObject({ code: "invalid_input" });
    await expect(cs.requestClearance({ tool: "t", args: {}, agentId: "a" }, { waitSeconds: Number.NaN })).rejects.toMatchObject({ code: "invalid_input" });
    await expect(cs.guard("t", () => ran++, { agentId: "a", waitSeconds: -1 })({ a: 1 })).rejects.toMatchObject({ code: "invalid_input" });
    expect(ran).toBe(0);
    expect(seen).toEqual([]);
    expect(() => new Countersign({ baseUrl: base, apiKey: "k", timeoutMs: Number.NaN })).toThrow(CountersignError);
    expect(() => new Countersign({ baseUrl: "not a url", apiKey: "k" })).toThrow(expect.objectContaining({ code: "invalid_options" }));
  });

  it("a clearance with a status the SDK does not know is refused (invalid_response), and guard does not run the tool", async () => {
    handler = (_req, res) => json(res, 200, { request_id: "req_x", status: "approved_maybe", decision_status: "approved", reason: "", token: "tok" });
    const cs = new Countersign({ baseUrl: base, apiKey: "k" });
    let ran = 0;
    await expect(cs.guard("t", () => ran++, { agentId: "a" })({ a: 1 })).rejects.toMatchObject({ name: "VaultUnavailableError", code: "invalid_response" });
    expect(ran).toBe(0);
    expect(seen.map((s) => s.url)).toEqual(["/request-clearance"]);
  });

  it("verifyToken refuses a token issued in the future (beyond the skew) and one without exp or iat", async () => {
    const { privateKey, publicKey } = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const jwk = { ...(await exportJWK(publicKey)), kid: "k1", alg: "EdDSA", use: "sig" };
    handler = (_req, res) => json(res, 200, { keys: [jwk] });
    const cs = new Countersign({ baseUrl: base, apiKey: "k" });
    const now = Math.floor(Date.now() / 1000);
    const sign = (claims: Record<string, unknown>) =>
      new SignJWT({ jti: "j", tool: "t", tool_args_hash: "h", request_id: "r", tenant_id: "x", ...claims })
        .setProtectedHeader({ alg: "EdDSA", kid: "k1" })
        .setIssuer("alcv-vault")
        .setAudience("ledgix-sdk")
        .setSubject("clearance")
        .sign(privateKey);
    await expect(cs.verifyToken(await sign({ iat: now, exp: now + 60 }))).resolves.toMatchObject({ jti: "j", kid: "k1" });
    await expect(cs.verifyToken(await sign({ iat: now + 20, exp: now + 60 }))).resolves.toMatchObject({ jti: "j" }); // within the 30 s skew
    await expect(cs.verifyToken(await sign({ iat: now + 3600, exp: now + 7200 }))).rejects.toMatchObject({ name: "TokenVerificationError", code: "not_yet_valid" });
    const huge = await sign({ iat: now, exp: now + 60, pad: "x".repeat(70_000) });
    await expect(cs.verifyToken(huge)).rejects.toMatchObject({ name: "TokenVerificationError", code: "malformed" });
    await expect(cs.verifyToken(await sign({ iat: now }))).rejects.toMatchObject({ name: "TokenVerificationError", code: "invalid_claims" });
    await expect(cs.verifyToken(await sign({ exp: now + 60 }))).rejects.toMatchObject({ name: "TokenVerificationError", code: "invalid_claims" });
  });
});

describe("verifyWebhook hardening", () => {
  const secret = "whsec_test";
  const body = JSON.stringify({ event: "review.decided" });
  const nowMs = 1_800_000_000_000;
  const t = nowMs / 1000;
  const v1 = createHmac("sha256", secret).update(`${t}.${body}`).digest("hex");
  const ledgix = `sha256=${createHmac("sha256", secret).update(body).digest("hex")}`;

  it("refuses misconfiguration that would weaken the check: a NaN window or clock, no secret, a parsed body", async () => {
    const stale = { "x-countersign-signature": `t=${t - 10_000},v1=${createHmac("sha256", secret).update(`${t - 10_000}.${body}`).digest("hex")}` };
    await expect(verifyWebhook({ body, headers: stale, secret, now: nowMs })).rejects.toMatchObject({ code: "stale_timestamp" });
    await expect(verifyWebhook({ body, headers: stale, secret, now: nowMs, toleranceSeconds: Number.NaN })).rejects.toMatchObject({ code: "invalid_options" });
    await expect(verifyWebhook({ body, headers: stale, secret, now: Number.NaN })).rejects.toMatchObject({ code: "invalid_options" });
    const headers = { "x-countersign-signature": `t=${t},v1=${createHmac("sha256", "undefined").update(`${t}.${body}`).digest("hex")}` };
    await expect(verifyWebhook({ body, headers, secret: undefined as never, now: nowMs })).rejects.toMatchObject({ code: "invalid_options" });
    await expect(verifyWebhook({ body: JSON.parse(body), headers, secret, now: nowMs })).rejects.toMatchObject({ code: "invalid_options" });
  });

  it("the replay guard keys on what was verified: a respelled header, a second v1 or another delivery id is still a replay", async () => {
    const guard = new WebhookReplayGuard();
    const check = (headers: Record<string, string>) => verifyWebhook({ body, headers, secret, now: nowMs, replayGuard: guard });
    await expect(check({ "x-countersign-signature": `t=${t},v1=${v1}`, "x-ledgix-signature": ledgix, "x-countersign-delivery": "d1" })).resolves.toMatchObject({ deliveryId: "d1" });
    for (const sig of [`t=${t}, v1=${v1}`, `t=${t},v1=${v1.toUpperCase()}`, `t=${t},v1=${"0".repeat(64)},v1=${v1}`, `t=0${t},v1=${v1}`]) {
      await expect(check({ "x-countersign-signature": sig, "x-countersign-delivery": "d2" })).rejects.toMatchObject({ code: "replayed" });
    }
    // Another spelling of the number is not a timestamp at all.
    await expect(check({ "x-countersign-signature": `t=${t / 1e9}e9,v1=${v1}` })).rejects.toMatchObject({ code: "malformed_signature" });
    await expect(check({ "x-countersign-signature": `t=${t},t=${t},v1=${v1}` })).rejects.toMatchObject({ code: "malformed_signature" });
    // Untimestamped (opted in): keyed by the Ledgix signature, not by the unsigned delivery id.
    const ledgixOnly = (id: string) => verifyWebhook({ body, headers: { "x-ledgix-signature": ledgix, "x-countersign-delivery": id }, secret, now: nowMs, allowUntimestamped: true, replayGuard: guard });
    await expect(ledgixOnly("d3")).resolves.toMatchObject({ scheme: "ledgix" });
    await expect(ledgixOnly("d4")).rejects.toMatchObject({ code: "replayed" });
  });
});

describe("SDK JWKS edge cases", () => {
  const sign = (key: Parameters<SignJWT["sign"]>[0], kid: string, tenant = "t_a") => {
    const now = Math.floor(Date.now() / 1000);
    return new SignJWT({ jti: crypto.randomUUID(), tool: "t", tool_args_hash: "h", request_id: "r", tenant_id: tenant, iat: now, exp: now + 60 })
      .setProtectedHeader({ alg: "EdDSA", kid })
      .setIssuer("alcv-vault")
      .setAudience("ledgix-sdk")
      .setSubject("clearance")
      .sign(key);
  };

  it("a tenant key signs only its tenant; a malformed tenant_id, a duplicate kid with another key, or a non-signing key is not trusted", async () => {
    const a = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const b = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    const x = (await exportJWK(a.publicKey)).x;
    const xb = (await exportJWK(b.publicKey)).x;
    const okp = { kty: "OKP", crv: "Ed25519" };
    handler = (_req, res) =>
      json(res, 200, {
        keys: [
          { ...okp, x, kid: "v.t_a", tenant_id: "t_a", use: "sig", alg: "EdDSA" },
          { ...okp, x, kid: "v.num", tenant_id: 5 },
          { ...okp, x, kid: "v.empty", tenant_id: "" },
          { ...okp, x, kid: "v.null", tenant_id: null },
          { ...okp, x, kid: "v.dup" },
          { ...okp, x: xb, kid: "v.dup" },
          { ...okp, x, kid: "v.enc", use: "enc" },
          { ...okp, x, kid: "v.rs", alg: "RS256" },
          { ...okp, x: "AAAA", kid: "v.short" },
        ],
      });
    const cs = new Countersign({ baseUrl: base, apiKey: "k" });
    await expect(cs.verifyToken(await sign(a.privateKey, "v.t_a"))).resolves.toMatchObject({ tenant_id: "t_a", kid: "v.t_a" });
    await expect(cs.verifyToken(await sign(a.privateKey, "v.t_a", "t_b"))).rejects.toMatchObject({ code: "tenant_mismatch" });
    await expect(cs.verifyToken(await sign(a.privateKey, "v.t_a"), { tenantId: "t_b" })).rejects.toMatchObject({ code: "tenant_mismatch" });
    for (const kid of ["v.num", "v.empty", "v.null", "v.dup", "v.enc", "v.rs", "v.short"]) {
      await expect(cs.verifyToken(await sign(a.privateKey, kid, "t_b")), kid).rejects.toMatchObject({ name: "TokenVerificationError", code: "unknown_kid" });
    }
  });

  it("a JWKS that fails is not asked again for every verification (1 s backoff), and a redirect or an oversized set fails closed", async () => {
    const a = await generateKeyPair("EdDSA", { crv: "Ed25519" });
    handler = (_req, res) => json(res, 503, { code: "not_ready" });
    const cs = new Countersign({ baseUrl: base, apiKey: "k" });
    const token = await sign(a.privateKey, "v.t_a");
    for (let i = 0; i < 5; i++) await expect(cs.verifyToken(token)).rejects.toMatchObject({ code: "jwks_unavailable" });
    expect(seen.filter((s) => s.url.includes("jwks"))).toHaveLength(1);
    handler = (_req, res) => {
      res.writeHead(302, { location: "http://127.0.0.1:1/jwks" });
      res.end();
    };
    await expect(new Countersign({ baseUrl: base, apiKey: "k" }).verifyToken(token)).rejects.toMatchObject({ code: "jwks_unavailable" });
    handler = (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(`{"keys":[],"pad":"${"x".repeat(9 * 1024 * 1024)}"}`);
    };
    await expect(new Countersign({ baseUrl: base, apiKey: "k" }).verifyToken(token)).rejects.toMatchObject({ code: "jwks_unavailable" });
  });
});
