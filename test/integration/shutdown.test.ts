/**
 * Issue 11 item 12: SIGTERM and SIGINT stop `countersign serve` within VAULT_SHUTDOWN_GRACE_SECONDS,
 * whatever its stdout can take, and a second signal stops it at once. Each vault is a real process
 * whose stdout is a pipe this test never reads.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, afterEach, describe, expect, it } from "vitest";
import { freePort, newPgDatabase, TEST_KEY_BASE64, type TestDatabase } from "../helpers/vault.js";

const READY_WITHIN_MS = 90_000;

interface Vault {
  child: ChildProcess;
  port: number;
  /** Resolves with the exit code (or signal) and the time it arrived. */
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

const started: Vault[] = [];
const databases: TestDatabase[] = [];
const anchorDir = mkdtempSync(path.join(os.tmpdir(), "cs-anchors-"));

/** Starts `countersign serve` with stdout piped to this process and never read (stderr is read). */
async function startVault(env: Record<string, string>): Promise<Vault> {
  const db = newPgDatabase();
  databases.push(db);
  const port = await freePort();
  const child = spawn(process.execPath, ["--import", "tsx", "src/main/cli.ts", "serve"], {
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...process.env,
      DATABASE_URL: db.url,
      VAULT_HOST: "127.0.0.1",
      VAULT_PORT: String(port),
      VAULT_PRIVATE_KEY_BASE64: TEST_KEY_BASE64,
      VAULT_KEY_ID: "test-key-1",
      VAULT_LEDGER_ANCHOR_DIR: anchorDir,
      VAULT_RATE_LIMIT_RPS: "0",
      LOG_LEVEL: "trace",
      ...env,
    },
  });
  // stdout is deliberately left unread: once the pipe and Node's small read-ahead are full, every
  // write the vault makes to it would block.
  child.stdout!.pause();
  let stderr = "";
  child.stderr!.on("data", (b: Buffer) => void (stderr = (stderr + b.toString()).slice(-4000)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal, at: performance.now() })),
  );
  const vault = { child, port, exited };
  started.push(vault);
  const deadline = Date.now() + READY_WITHIN_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`serve exited before it was ready:\n${stderr}`);
    const ready = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(2_000) }).then((r) => r.status === 200, () => false);
    if (ready) return vault;
    await sleep(200);
  }
  throw new Error(`serve was not ready within ${READY_WITHIN_MS} ms:\n${stderr}`);
}

/** A request whose body never finishes: it keeps the vault's close waiting until the request timeout. */
function stalledRequest(port: number): net.Socket {
  const socket = net.connect(port, "127.0.0.1");
  socket.on("error", () => {});
  socket.write("POST /request-clearance HTTP/1.1\r\nHost: vault\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n{");
  return socket;
}

afterEach(() => {
  for (const v of started.splice(0)) if (v.child.exitCode === null && v.child.signalCode === null) v.child.kill("SIGKILL");
});
afterAll(async () => {
  for (const db of databases) await db.drop();
  rmSync(anchorDir, { recursive: true, force: true });
});

describe("shutdown of countersign serve", () => {
  it("keeps serving with a stdout nobody reads, and SIGTERM stops it within the grace", async () => {
    const v = await startVault({ VAULT_SHUTDOWN_GRACE_SECONDS: "5" });
    // Trace logging of 1,500 requests writes megabytes: far more than the pipe (64 KiB) and read-ahead hold.
    // Each request has its own time limit, so a vault blocked on its stdout fails here instead of hanging.
    let answered = 0;
    for (let i = 0; i < 1500; i++) {
      const res = await fetch(`http://127.0.0.1:${v.port}/healthz?n=${i}`, { signal: AbortSignal.timeout(5_000) });
      if (res.status === 200) answered++;
      await res.arrayBuffer();
    }
    expect(answered).toBe(1500);
    expect(v.child.stdout!.readableLength).toBeGreaterThan(0); // the unread data is really there
    const sent = performance.now();
    v.child.kill("SIGTERM");
    const exit = await v.exited;
    expect(exit.code).toBe(0);
    expect(exit.at - sent).toBeLessThan(5_000 + 2_000);
  });

  it("keeps serving when its stdout reader is gone (EPIPE), and SIGTERM stops it within the grace", async () => {
    const v = await startVault({ VAULT_SHUTDOWN_GRACE_SECONDS: "5" });
    v.child.stdout!.destroy(); // the reader dies: the vault's next writes get EPIPE
    for (let i = 0; i < 200; i++) {
      const res = await fetch(`http://127.0.0.1:${v.port}/healthz?n=${i}`, { signal: AbortSignal.timeout(5_000) });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
    }
    const sent = performance.now();
    v.child.kill("SIGTERM");
    const exit = await v.exited;
    expect(exit.code).toBe(0);
    expect(exit.at - sent).toBeLessThan(5_000 + 2_000);
  });

  it("a second signal stops it at once while the first is still closing (exit 143)", async () => {
    const v = await startVault({ VAULT_SHUTDOWN_GRACE_SECONDS: "60", VAULT_HTTP_REQUEST_TIMEOUT_SECONDS: "60" });
    const socket = stalledRequest(v.port);
    await sleep(300);
    v.child.kill("SIGTERM");
    await sleep(1_500);
    expect(v.child.exitCode).toBeNull(); // the first signal waits for the in-flight request
    const sent = performance.now();
    v.child.kill("SIGTERM");
    const exit = await v.exited;
    socket.destroy();
    expect(exit.code).toBe(143);
    expect(exit.at - sent).toBeLessThan(2_000);
  });

  it("SIGINT ends a close that outlasts VAULT_SHUTDOWN_GRACE_SECONDS with exit 1, at the grace", async () => {
    const v = await startVault({ VAULT_SHUTDOWN_GRACE_SECONDS: "2", VAULT_HTTP_REQUEST_TIMEOUT_SECONDS: "60" });
    const socket = stalledRequest(v.port);
    await sleep(300);
    const sent = performance.now();
    v.child.kill("SIGINT");
    const exit = await v.exited;
    socket.destroy();
    expect(exit.code).toBe(1);
    expect(exit.at - sent).toBeGreaterThan(1_900);
    expect(exit.at - sent).toBeLessThan(2_000 + 2_000);
  });
});
