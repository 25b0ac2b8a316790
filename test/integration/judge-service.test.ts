/**
 * `countersign judge` and `countersign serve` as two real processes on one PostgreSQL server, the
 * way they are deployed: every claim here goes over HTTP between separate processes, so a bug in
 * the wire format, the X-API-Key check, the cluster workers or the vault's fail-closed wrapper
 * cannot hide behind in-process shortcuts.
 */
import { execFile, execFileSync, spawn } from "node:child_process";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../src/config/config.js";
import { call, freePort, newPgDatabase, newPgliteDir, startTestVault, TEST_KEY_BASE64, type HttpResult, type TestDatabase } from "../helpers/vault.js";

const run = promisify(execFile);
// Generous: two cores shared with other suites, tsx compiling on start, and each judge worker
// loading the embedding model (TensorFlow.js) on its first /embed.
const READY_WITHIN_MS = 90_000;
const STOP_WITHIN_MS = 15_000;

type Proc = Awaited<ReturnType<typeof startCli>>;

const alive = (pid: number) => {
  try {
    return process.kill(pid, 0);
  } catch {
    return false;
  }
};

async function waitUntil(check: () => boolean, ms: number): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    if (check()) return true;
    await sleep(100);
  }
  return check();
}

/** Starts `cli.ts <command>` as its own process and waits until its /readyz answers 200. */
async function startCli(command: "judge" | "serve", port: number, env: Record<string, string>) {
  const child = spawn(process.execPath, ["--import", "tsx", "src/main/cli.ts", command], {
    stdio: ["ignore", "pipe", "pipe"],
    env: { ...process.env, LOG_LEVEL: "silent", ...env },
  });
  let out = "";
  const keep = (b: Buffer) => void (out = (out + b.toString()).slice(-4000));
  child.stdout!.on("data", keep);
  child.stderr!.on("data", keep);
  let done = false;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve())).then(() => void (done = true));
  // Pids of the direct node children: the judge's cluster workers (tsx may run an esbuild one too,
  // when its transform cache is cold: see topology.ts's workersOf).
  const children = (): number[] => {
    try {
      return execFileSync("ps", ["-o", "pid=,comm=", "--ppid", String(child.pid)], { encoding: "utf8" })
        .split("\n")
        .map((line) => line.trim().split(/\s+/))
        .filter(([pid, comm]) => pid && comm === "node")
        .map(([pid]) => Number(pid));
    } catch {
      return []; // ps exits 1 when there are none
    }
  };
  const proc = {
    child,
    url: `http://127.0.0.1:${port}`,
    exited,
    children,
    async stop(): Promise<void> {
      const workers = children();
      if (!done) child.kill("SIGTERM");
      if (!(await waitUntil(() => done, STOP_WITHIN_MS))) child.kill("SIGKILL");
      await exited;
      // A worker that outlived its primary would keep the port: kill each leftover by its own pid.
      if (!(await waitUntil(() => !workers.some(alive), STOP_WITHIN_MS))) for (const pid of workers.filter(alive)) process.kill(pid, "SIGKILL");
    },
  };
  const deadline = Date.now() + READY_WITHIN_MS;
  while (Date.now() < deadline) {
    if (done) throw new Error(`${command} exited before it was ready:\n${out}`);
    if (await fetch(`${proc.url}/readyz`).then((r) => r.status === 200, () => false)) return proc;
    await sleep(200);
  }
  await proc.stop();
  throw new Error(`${command} was not ready within ${READY_WITHIN_MS} ms:\n${out}`);
}

const paymentsPolicy = {
  policy_id: "payments",
  description: "Outgoing wire transfers and vendor payments made by finance agents.",
  rules: [
    "Wire transfers to a new beneficiary bank account must be confirmed by the treasury team.",
    "The office kitchen is cleaned every Friday afternoon by the facilities staff.",
  ],
  tools: ["wire_transfer"],
  conditions: [
    { id: "small", when: "args.amount <= 100", decision: "approve", reason: "Small transfer" },
    { id: "huge", when: "args.amount > 10000", decision: "deny", reason: "Above the hard limit" },
  ],
  // deny, not review: a default reached through retrieval must be told apart from a fail-closed review.
  default_decision: "deny",
};

describe("judge service and vault as separate processes on real PostgreSQL", () => {
  const judgeKey = `judge_${Math.random().toString(36).slice(2)}_${Date.now()}`;
  const adminKey = `csk_test_${Math.random().toString(36).slice(2)}${Date.now()}`;
  let db: TestDatabase;
  let judge: Proc | undefined;
  let vault: Proc | undefined;
  let limited: Proc | undefined;
  let tenantId: string;
  let tenantDbUrl: string;

  const vaultCall = (method: string, path: string, body?: unknown) => call(vault!.url, method, path, { key: adminKey, body });
  const judgeCall = (base: string, path: string, body: unknown, key?: string) =>
    call(base, "POST", path, { body, headers: key === undefined ? {} : { "x-api-key": key } });
  const evaluateBody = (args: Record<string, unknown>) => ({
    tenant_id: tenantId, request_id: `req_${Math.random().toString(36).slice(2)}`, tool: "wire_transfer", args, context: {},
    agent_id: "agent-1", session_id: "s-1", human_principal: null,
  });

  /** A remote judge puts the vault on the queued path: 200 when decided in time, else 202 and poll. */
  async function clear(args: Record<string, unknown>): Promise<HttpResult> {
    let res = await vaultCall("POST", "/request-clearance", { tool_name: "wire_transfer", tool_args: args });
    const deadline = Date.now() + 60_000;
    while (res.body?.status === "processing" && Date.now() < deadline) {
      await sleep(200);
      res = await vaultCall("GET", `/clearance-status/${res.body.request_id}`);
    }
    return res;
  }

  beforeAll(async () => {
    db = newPgDatabase();
    // Migrated first, so the two processes starting side by side never race to create it.
    await run("node", ["--import", "tsx", "src/main/cli.ts", "migrate"], { env: { ...process.env, DATABASE_URL: db.url, LOG_LEVEL: "silent" } });
    const [judgePort, vaultPort] = [await freePort(), await freePort()];
    // Neither needs the other to start: the vault bootstraps the tenant, the judge opens it on first use.
    const started = await Promise.allSettled([
      startCli("judge", judgePort, { DATABASE_URL: db.url, JUDGE_API_KEY: judgeKey, JUDGE_HOST: "127.0.0.1", JUDGE_PORT: String(judgePort), JUDGE_WORKERS: "2" }),
      startCli("serve", vaultPort, {
        DATABASE_URL: db.url, VAULT_HOST: "127.0.0.1", VAULT_PORT: String(vaultPort), VAULT_BOOTSTRAP_API_KEY: adminKey,
        VAULT_PRIVATE_KEY_BASE64: TEST_KEY_BASE64, VAULT_KEY_ID: "test-key-1", VAULT_RATE_LIMIT_RPS: "0",
        VAULT_JUDGE_URL: `http://127.0.0.1:${judgePort}`, VAULT_JUDGE_API_KEY: judgeKey, VAULT_JUDGE_TIMEOUT_MS: "60000",
      }),
    ]);
    // Kept even when the other failed to start, so afterAll stops whichever one is running.
    [judge, vault] = started.map((p) => (p.status === "fulfilled" ? p.value : undefined));
    for (const p of started) if (p.status === "rejected") throw p.reason;
    const control = new pg.Client({ connectionString: db.url });
    await control.connect();
    try {
      const row = (await control.query("SELECT id, db_name FROM tenants WHERE name = 'default'")).rows[0];
      tenantId = row.id;
      const u = new URL(db.url);
      u.pathname = `/${row.db_name}`;
      tenantDbUrl = u.toString();
    } finally {
      await control.end();
    }
    const reg = await vaultCall("POST", "/register-policy", paymentsPolicy);
    expect(reg.status, JSON.stringify(reg.body)).toBe(200);
  });
  afterAll(async () => {
    await Promise.all([judge?.stop(), vault?.stop(), limited?.stop()]);
    await db?.drop();
  });

  it("runs JUDGE_WORKERS=2 worker processes and stores the policy text embedded by the judge", async () => {
    expect(judge!.children()).toHaveLength(2);
    const tenant = new pg.Client({ connectionString: tenantDbUrl });
    await tenant.connect();
    try {
      const rows = (await tenant.query("SELECT source, embedding_model, dimensions, pg_typeof(embedding)::text AS type, octet_length(embedding) AS bytes FROM policy_chunks")).rows;
      expect(rows.map((r) => r.source).sort()).toEqual(["description", "rule", "rule"]);
      // No pgvector on this server: raw float32 bytes, searched by the exact in-process scan.
      for (const r of rows) expect(r).toMatchObject({ embedding_model: "offline/universal-sentence-encoder", dimensions: 512, type: "bytea", bytes: 2048 });
    } finally {
      await tenant.end();
    }
  });

  it("approves through an approve condition with a token that burns once", async () => {
    const res = await clear({ amount: 40, beneficiary: "acme" });
    expect(res.body).toMatchObject({ status: "approved", reason_code: "condition_matched", policy_id: "payments", matched_condition_ids: ["payments/small"] });
    expect(res.body.token).toMatch(/^[\w-]+\.[\w-]+\.[\w-]+$/);
    expect((await vaultCall("POST", "/consume-token", { token: res.body.token })).status).toBe(200);
    expect((await vaultCall("POST", "/consume-token", { token: res.body.token })).status).toBe(409);
  });

  it("denies through a deny condition", async () => {
    const res = await clear({ amount: 50_000 });
    expect(res.body).toMatchObject({ status: "denied", reason: "Above the hard limit", matched_condition_ids: ["payments/huge"], token: null });
  });

  it("falls back to the policy default with citations ranked by retrieval when no condition matches", async () => {
    const res = await clear({ amount: 500, beneficiary: "new vendor bank account" });
    expect(res.body).toMatchObject({ status: "denied", reason_code: "policy_default", policy_id: "payments", token: null });
    const cites: { source: string; excerpt: string; score: number; policy_id: string }[] = res.body.citations;
    expect(cites).toHaveLength(3);
    expect(res.body.evidence_chunks).toEqual(cites);
    for (const c of cites) expect(c.policy_id).toBe("payments");
    const scores = cites.map((c) => c.score);
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    // Real embeddings, not noise: the kitchen rule is the least related text to a wire transfer.
    expect(cites[2]!.excerpt).toContain("kitchen");
  });

  it("refuses /evaluate and /embed without the right X-API-Key", async () => {
    for (const key of [undefined, "wrong-key", `${judgeKey}x`]) {
      for (const path of ["/evaluate", "/embed"]) {
        const res = await judgeCall(judge!.url, path, path === "/embed" ? { texts: ["x"] } : evaluateBody({ amount: 1 }), key);
        expect(res.status).toBe(401);
        expect(res.headers.get("content-type")).toContain("application/problem+json");
        expect(res.body).toMatchObject({ code: "unauthorized", status: 401 });
      }
    }
    const ok = await judgeCall(judge!.url, "/evaluate", evaluateBody({ amount: 1 }), judgeKey);
    expect(ok.body).toMatchObject({ decision: "approve", matched_condition_ids: ["payments/small"], trace: { steps: ["conditions"] } });
  });

  it("embeds texts into 512-d unit vectors", async () => {
    const res = await judgeCall(judge!.url, "/embed", { texts: ["refund an order", "wire money abroad"] }, judgeKey);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ model: "offline/universal-sentence-encoder", dimensions: 512 });
    expect(res.body.vectors).toHaveLength(2);
    for (const v of res.body.vectors as number[][]) {
      expect(v).toHaveLength(512);
      expect(Math.hypot(...v)).toBeCloseTo(1, 4);
    }
    expect(res.body.vectors[0]).not.toEqual(res.body.vectors[1]);
  });

  it("rate-limits /evaluate per JUDGE_ENDPOINT_RATE_LIMIT (3/minute, one worker): the 4th call gets 429", async () => {
    const port = await freePort();
    limited = await startCli("judge", port, {
      DATABASE_URL: db.url, JUDGE_API_KEY: judgeKey, JUDGE_HOST: "127.0.0.1", JUDGE_PORT: String(port), JUDGE_WORKERS: "1", JUDGE_ENDPOINT_RATE_LIMIT: "3/minute",
    });
    // A wrong key is refused before the limiter, so it must not use up the allowance.
    expect((await judgeCall(limited.url, "/evaluate", evaluateBody({ amount: 1 }), "wrong")).status).toBe(401);
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) statuses.push((await judgeCall(limited.url, "/evaluate", evaluateBody({ amount: 1 }), judgeKey)).status);
    expect(statuses).toEqual([200, 200, 200, 429]);
    const refused = await judgeCall(limited.url, "/evaluate", evaluateBody({ amount: 1 }), judgeKey);
    expect(refused.body).toMatchObject({ code: "rate_limited", status: 429 });
    expect(Number(refused.headers.get("retry-after"))).toBeGreaterThan(0);
    await limited.stop();
  });

  // Last: it stops the judge the tests above use.
  it("fails closed to pending_review (judge_unavailable) once the judge is gone, and counts it", async () => {
    const workers = judge!.children();
    // SIGTERM to the primary alone must take its workers down too (stop() would SIGKILL leftovers).
    judge!.child.kill("SIGTERM");
    await judge!.exited;
    expect(await waitUntil(() => !workers.some(alive), 5_000)).toBe(true);
    const before = (await vaultCall("GET", "/readyz")).body.judge_failures;
    // The same request an approve condition approved above.
    const res = await clear({ amount: 40, beneficiary: "acme" });
    expect(res.body).toMatchObject({ status: "pending_review", reason_code: "judge_unavailable", token: null, approved: false });
    const ready = await vaultCall("GET", "/readyz");
    expect(ready.body).toMatchObject({ status: "ready", judge: "remote" });
    expect(ready.body.judge_failures).toBeGreaterThan(before);
    const metrics = await fetch(`${vault!.url}/metrics`).then((r) => r.text());
    expect(Number(/countersign_judge_fail_closed_total\{reason="judge_unavailable"\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThan(0);
  });
});

describe("the development stub judge", () => {
  it("is refused together with VAULT_JUDGE_URL, in config and by the serve command", async () => {
    const env = { VAULT_ALLOW_STUB_JUDGE: "true", VAULT_JUDGE_URL: "http://127.0.0.1:1", VAULT_JUDGE_API_KEY: "k" };
    expect(() => loadConfig(env)).toThrow(/VAULT_ALLOW_STUB_JUDGE/);
    const serve = run("node", ["--import", "tsx", "src/main/cli.ts", "serve"], { env: { ...process.env, ...env, DATABASE_URL: "memory://", VAULT_PORT: "0" } });
    await expect(serve).rejects.toMatchObject({ code: 1, stderr: expect.stringContaining("VAULT_ALLOW_STUB_JUDGE") });
  });

  it("sends even a request an approve condition covers to review (stub_judge)", async () => {
    const db = newPgliteDir();
    const v = await startTestVault(db, { env: { VAULT_ALLOW_STUB_JUDGE: "true" } });
    try {
      // No description or rules: nothing to embed, so the test never loads the model in-process.
      const policy = { policy_id: "p", tools: ["wire_transfer"], conditions: [{ id: "small", when: "args.amount <= 100", decision: "approve" }], default_decision: "approve" };
      expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: policy })).status).toBe(200);
      const res = await call(v.url, "POST", "/request-clearance", { key: v.adminKey, body: { tool_name: "wire_transfer", tool_args: { amount: 1 } } });
      expect(res.body).toMatchObject({ status: "pending_review", reason_code: "stub_judge", token: null });
      expect((await call(v.url, "GET", "/readyz")).body.judge).toBe("stub");
    } finally {
      await v.close();
      await db.drop();
    }
  });
});
