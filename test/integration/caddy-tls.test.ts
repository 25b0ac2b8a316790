/**
 * deployments/Caddyfile itself, run by the real Caddy binary with `tls internal`, in front of two
 * vault replicas and a `countersign judge` process on loopback. The client trusts only Caddy's local
 * CA, so every step below (clearance, review, consume, proof bundle, the review stream) proves the
 * shipped ingress file works over HTTPS, not a hand-written stand-in. A missing caddy binary fails.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import https from "node:https";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { trustedKeysFromJwks, verifyProofBundle } from "../../src/ledger/verify/bundle-verifier.js";
import { freePort, newKey, newPgDatabase, refundPolicy, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

const CADDY = process.env.CADDY_BIN ?? "/usr/bin/caddy";
const CADDYFILE = path.resolve("deployments/Caddyfile");
const READY_WITHIN_MS = 90_000;

interface Reply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: any;
}

/** One HTTPS request trusting only `ca` (node:https: no global agent, no redirects followed). */
function httpsCall(
  base: string,
  ca: string | undefined,
  method: string,
  pathname: string,
  opts: { key?: string; body?: unknown; rawBody?: Buffer; expectContinue?: boolean } = {},
): Promise<Reply> {
  const payload = opts.rawBody ?? (opts.body === undefined ? undefined : Buffer.from(JSON.stringify(opts.body)));
  const headers: Record<string, string> = { "content-type": "application/json" };
  if (opts.key) headers["x-vault-api-key"] = opts.key;
  if (payload) headers["content-length"] = String(payload.length);
  // Expect: 100-continue sends the body only once the server asks for it: a server that refuses the
  // declared size answers without reading it, and the client sees that answer instead of a reset.
  if (opts.expectContinue) headers.expect = "100-continue";
  return new Promise((resolve, reject) => {
    const req = https.request(new URL(pathname, base), { method, headers, ca, agent: false, timeout: 30_000 }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        let body: unknown = text;
        try {
          body = JSON.parse(text);
        } catch {
          /* non-JSON bodies stay text for the assertion to show */
        }
        resolve({ status: res.statusCode!, headers: res.headers, body });
      });
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`${method} ${pathname} timed out`)));
    req.on("error", reject);
    if (opts.expectContinue) {
      req.once("continue", () => req.end(payload));
      req.flushHeaders();
    } else {
      req.end(payload);
    }
  });
}

/** Reads `event: review` messages from GET /reviews/stream over HTTPS as they arrive. */
function openReviewStream(base: string, ca: string, key: string) {
  const events: { request_id: string; status: string }[] = [];
  let headers: Reply["headers"] = {};
  let status = 0;
  let buffer = "";
  let received = "";
  const req = https.get(new URL("/reviews/stream", base), { ca, agent: false, headers: { "x-vault-api-key": key } });
  const opened = new Promise<void>((resolve, reject) => {
    req.on("error", reject);
    req.on("response", (res) => {
      status = res.statusCode!;
      headers = res.headers;
      res.setEncoding("utf8");
      res.on("data", (text: string) => {
        buffer += text;
        let end: number;
        while ((end = buffer.indexOf("\n\n")) >= 0) {
          const block = buffer.slice(0, end);
          buffer = buffer.slice(end + 2);
          const data = block.split("\n").find((l) => l.startsWith("data: "));
          if (block.includes("event: review") && data) events.push(JSON.parse(data.slice(6)));
        }
        // The vault's first write (": connected") reached us through the proxy: the stream is live.
        received += text;
        if (received.includes(": connected")) resolve();
      });
    });
  });
  return { events, opened, status: () => status, headers: () => headers, close: () => req.destroy() };
}

/** Starts `caddy run` on the shipped Caddyfile; HOME and XDG dirs in `dir`, so its local CA lives there. */
async function startCaddy(dir: string, env: Record<string, string>): Promise<{ child: ChildProcess; output: () => string; stop(): Promise<void> }> {
  if (!existsSync(CADDY)) throw new Error(`${CADDY} is missing: install Debian's caddy package (apt-get install -y caddy); .ci/run does`);
  const child = spawn(CADDY, ["run", "--config", CADDYFILE, "--adapter", "caddyfile"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { PATH: process.env.PATH ?? "/usr/bin:/bin", HOME: dir, XDG_DATA_HOME: path.join(dir, "data"), XDG_CONFIG_HOME: path.join(dir, "config"), ...env },
  });
  let out = "";
  const keep = (b: Buffer) => void (out = (out + b.toString()).slice(-8000));
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  return {
    child,
    output: () => out,
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
      const killed = await Promise.race([exited.then(() => true), sleep(10_000).then(() => false)]);
      if (!killed) child.kill("SIGKILL");
      await exited;
    },
  };
}

/** `countersign judge` as its own process, as in test/integration/judge-service.test.ts. */
async function startJudge(port: number, env: Record<string, string>) {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main/cli.ts", "judge"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, LOG_LEVEL: "silent", JUDGE_HOST: "127.0.0.1", JUDGE_PORT: String(port), JUDGE_WORKERS: "1", ...env },
  });
  let out = "";
  const keep = (b: Buffer) => void (out = (out + b.toString()).slice(-4000));
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill("SIGTERM");
    const done = await Promise.race([exited.then(() => true), sleep(15_000).then(() => false)]);
    if (!done) child.kill("SIGKILL");
    await exited;
  };
  const deadline = Date.now() + READY_WITHIN_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`judge exited before it was ready:\n${out}`);
    if (await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.status === 200, () => false)) return { stop };
    await sleep(200);
  }
  await stop();
  throw new Error(`judge was not ready within ${READY_WITHIN_MS} ms:\n${out}`);
}

describe("Caddy TLS ingress (deployments/Caddyfile, tls internal) in front of two vaults and a judge", () => {
  const judgeKey = `judge_${Math.random().toString(36).slice(2)}`;
  const adminKey = `csk_test_${Math.random().toString(36).slice(2)}${Date.now()}`;
  const dir = mkdtempSync(path.join(os.tmpdir(), "cs-caddy-"));
  let db: TestDatabase;
  let judge: { stop(): Promise<void> } | undefined;
  let vaults: TestVault[] = [];
  let caddy: Awaited<ReturnType<typeof startCaddy>> | undefined;
  let base: string;
  let ca: string;
  let agent: string;
  let reviewerKey: string;
  let healthPort: number;
  const call = (method: string, pathname: string, opts: { key?: string; body?: unknown; rawBody?: Buffer; expectContinue?: boolean } = {}) => httpsCall(base, ca, method, pathname, opts);

  beforeAll(async () => {
    db = newPgDatabase();
    const judgePort = await freePort();
    const vaultEnv = {
      VAULT_JUDGE_URL: `http://127.0.0.1:${judgePort}`,
      VAULT_JUDGE_API_KEY: judgeKey,
      VAULT_JUDGE_TIMEOUT_MS: "60000",
      VAULT_REVIEW_SWEEP_INTERVAL_SECONDS: "3600",
      VAULT_LEDGER_ORIGIN: "vault.test",
    };
    // The first vault migrates the control database and bootstraps tenant "default" before the others start.
    vaults.push(await startTestVault(db, { env: vaultEnv, adminKey }));
    judge = await startJudge(judgePort, { DATABASE_URL: db.url, JUDGE_API_KEY: judgeKey });
    vaults.push(await startTestVault(db, { env: vaultEnv, adminKey }));

    const [httpsPort, httpPort] = [await freePort(), await freePort()];
    healthPort = await freePort();
    caddy = await startCaddy(dir, {
      COUNTERSIGN_DOMAIN: "127.0.0.1",
      COUNTERSIGN_TLS: "internal",
      COUNTERSIGN_VAULT_UPSTREAMS: vaults.map((v) => new URL(v.url).host).join(" "),
      COUNTERSIGN_BIND: "127.0.0.1",
      COUNTERSIGN_HTTPS_PORT: String(httpsPort),
      COUNTERSIGN_HTTP_PORT: String(httpPort),
      COUNTERSIGN_HEALTH_PORT: String(healthPort),
    });
    base = `https://127.0.0.1:${httpsPort}`;
    const root = path.join(dir, "data", "caddy", "pki", "authorities", "local", "root.crt");
    const deadline = Date.now() + READY_WITHIN_MS;
    for (;;) {
      if (caddy.child.exitCode !== null) throw new Error(`caddy exited:\n${caddy.output()}`);
      if (existsSync(root)) {
        ca = readFileSync(root, "utf8");
        if ((await httpsCall(base, ca, "GET", "/readyz").catch(() => undefined))?.status === 200) break;
      }
      if (Date.now() > deadline) throw new Error(`caddy did not proxy /readyz over HTTPS within ${READY_WITHIN_MS} ms:\n${caddy.output()}`);
      await sleep(250);
    }

    agent = await newKey(vaults[0]!, "agent");
    const reg = await call("POST", "/register-policy", { key: adminKey, body: refundPolicy });
    expect(reg.status, JSON.stringify(reg.body)).toBe(200);
    const reviewer = await call("POST", "/reviewers", { key: adminKey, body: { name: "Kim", email: "kim@example.com" } });
    expect(reviewer.status, JSON.stringify(reviewer.body)).toBe(201);
    reviewerKey = reviewer.body.api_key;
  });

  afterAll(async () => {
    await caddy?.stop();
    await Promise.all(vaults.map((v) => v.close()));
    await judge?.stop();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("serves a certificate only Caddy's local CA vouches for", async () => {
    // Without the CA the system trust store is used, and it does not know Caddy's local root.
    await expect(httpsCall(base, undefined, "GET", "/healthz")).rejects.toThrow(/self[- ]signed|unable to (get|verify)|certificate/i);
    expect((await call("GET", "/healthz")).status).toBe(200);
    // Caddy's own liveness (the compose health check): plain HTTP, answered by Caddy itself.
    const live = await fetch(`http://127.0.0.1:${healthPort}/healthz`);
    expect(live.status).toBe(200);
    expect(live.headers.get("content-type")).toBeNull(); // not the vault's JSON /healthz
  });

  it("adds the security headers and hides the Server header", async () => {
    const res = await call("GET", "/readyz");
    expect(res.headers["strict-transport-security"]).toMatch(/^max-age=\d{8,}/);
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
    expect(res.headers["x-frame-options"]).toBe("DENY");
    expect(res.headers["referrer-policy"]).toBe("no-referrer");
    expect(res.headers["content-security-policy"]).toBe("frame-ancestors 'none'");
    expect(res.headers.server).toBeUndefined();
    // The console keeps its own, stricter policy (the Caddyfile sets one only where the vault set none).
    const console = await call("GET", "/console");
    expect(console.status).toBe(200);
    expect(console.headers["content-security-policy"]).toMatch(/default-src 'self'.*frame-ancestors 'none'/);
    expect(console.headers["strict-transport-security"]).toBeDefined();
  });

  it("runs clearance → review (live on the stream) → approve → consume → a proof bundle that verifies", async () => {
    const stream = openReviewStream(base, ca, reviewerKey);
    try {
      await stream.opened;
      expect(stream.status()).toBe(200);
      expect(stream.headers()["content-type"]).toMatch(/^text\/event-stream/);

      // A remote judge puts clearance on the queue: 200 or 202 processing, then the status endpoint.
      const submitted = await call("POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 500, order_id: "o-1" }, agent_id: "agent-7" } });
      expect([200, 202], JSON.stringify(submitted.body)).toContain(submitted.status);
      const id: string = submitted.body.request_id;
      await expect.poll(async () => (await call("GET", `/clearance-status/${id}`, { key: agent })).body.status, { timeout: 60_000, interval: 250 }).toBe("pending_review");

      // The event was written by whichever replica decided; it arrives over HTTPS without buffering.
      await expect.poll(() => stream.events.find((e) => e.request_id === id)?.status, { timeout: 15_000 }).toBe("pending_review");

      const approved = await call("POST", `/reviews/${id}/decision`, { key: reviewerKey, body: { approved: true, review_reason: "checked the order" } });
      expect(approved.body.status, JSON.stringify(approved.body)).toBe("approved");
      await expect.poll(() => stream.events.some((e) => e.request_id === id && e.status === "approved"), { timeout: 15_000 }).toBe(true);

      const poll = await call("GET", `/clearance-status/${id}`, { key: agent });
      expect(poll.body.status).toBe("approved");
      const token: string = poll.body.token;
      expect(token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
      expect((await call("POST", "/consume-token", { key: agent, body: { token } })).status).toBe(200);
      expect((await call("POST", "/consume-token", { key: agent, body: { token } })).status).toBe(409);

      for (const v of vaults) await v.vault.ctx.ledgerLoop.drain();
      const bundle = await call("GET", `/ledger/proof/bundle?request_id=${id}`, { key: agent });
      expect(bundle.status, JSON.stringify(bundle.body)).toBe(200);
      const jwks = await call("GET", "/.well-known/jwks.json");
      const report = verifyProofBundle(bundle.body, trustedKeysFromJwks(jwks.body));
      expect(report.ok, JSON.stringify(report.checks.filter((c) => !c.ok))).toBe(true);
    } finally {
      stream.close();
    }
  });

  it("refuses a body over VAULT_MAX_BODY_BYTES (1 MiB by default)", async () => {
    const res = await call("POST", "/request-clearance", {
      key: agent,
      rawBody: Buffer.from(JSON.stringify({ tool_name: "stripe_refund", tool_args: { pad: "x".repeat(2 * 1_048_576) } })),
      expectContinue: true,
    });
    expect(res.status).toBe(413);
    expect(res.headers["content-type"]).toBe("application/problem+json");
    expect(res.body).toMatchObject({ status: 413, code: "payload_too_large" });
    expect(res.headers["strict-transport-security"]).toBeDefined();
    // Just under the limit still reaches the vault (and fails its own validation, not the size check).
    const under = await call("POST", "/request-clearance", {
      key: agent,
      rawBody: Buffer.from(JSON.stringify({ tool_name: "stripe_refund", tool_args: { pad: "x".repeat(1_048_576 - 200) } })),
      expectContinue: true,
    });
    expect(under.body.code).not.toBe("payload_too_large");
  });

  it("skips a replica that is gone: every request still answers", async () => {
    await vaults[1]!.close();
    vaults = vaults.slice(0, 1);
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await call("GET", "/readyz")).status);
    expect(statuses).toEqual(Array(12).fill(200));
    const res = await call("POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 20 } } });
    expect([200, 202], JSON.stringify(res.body)).toContain(res.status);
  });
});
