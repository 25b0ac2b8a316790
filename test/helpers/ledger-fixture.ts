import { execFile } from "node:child_process";
import { expect } from "vitest";
import type { Sql } from "../../src/db/sql.js";
import { fsckLedger, type FsckReport } from "../../src/ledger/store/fsck.js";
import { call, newKey, refundPolicy, type TestVault } from "./vault.js";

/**
 * Builds tenant ledgers only through the vault's own code paths (HTTP API + the ledger loop's
 * drain()), and gives tamper tests the tools an attacker with database access would use.
 */

export const AMOUNTS = [45, 500, 5000] as const;

export interface BuiltLedger {
  agent: string;
  reviewer: string;
  /** request_id of every clearance, in the order they were sent; batch i of `rounds` in rounds[i]. */
  rounds: string[][];
}

export async function clearances(v: TestVault, agent: string, count: number, tag: string): Promise<any[]> {
  const out: any[] = [];
  // Parallel batches of 20, as a busy agent fleet would send them.
  for (let start = 0; start < count; start += 20) {
    const batch = Array.from({ length: Math.min(20, count - start) }, (_, i) => {
      const n = start + i;
      const body = { tool_name: "stripe_refund", tool_args: { amount: AMOUNTS[n % 3], order_id: `${tag}-${n}` }, agent_id: `agent-${n % 4}` };
      return call(v.url, "POST", "/request-clearance", { key: agent, body });
    });
    for (const res of await Promise.all(batch)) {
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      out.push(res.body);
    }
  }
  return out;
}

/**
 * Registers refundPolicy and writes `sizes[i]` clearances per round, draining the ledger loop after
 * each round so each round ends with its own checkpoint. Round 2 also records a human review and a
 * token consumption, so every kind of event the vault writes is in the tree.
 */
export async function buildLedger(v: TestVault, sizes: number[]): Promise<BuiltLedger> {
  const agent = await newKey(v, "agent");
  const reviewer = await newKey(v, "reviewer");
  const reg = await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy });
  expect(reg.status).toBe(200);
  const rounds: string[][] = [];
  for (const [round, size] of sizes.entries()) {
    const bodies = await clearances(v, agent, size, `r${round}`);
    rounds.push(bodies.map((b) => b.request_id));
    if (round === 1) {
      const earlier = await Promise.all(rounds[0]!.map((id) => call(v.url, "GET", `/clearance-status/${id}`, { key: agent })));
      const pending = earlier.filter((r) => r.body.status === "pending_review");
      const approved = earlier.find((r) => r.body.status === "approved" && r.body.token);
      const review = await call(v.url, "POST", `/reviews/${pending[0]!.body.request_id}/decision`, { key: reviewer, body: { approved: true, review_reason: "checked" } });
      expect(review.status).toBe(200);
      const consume = await call(v.url, "POST", "/consume-token", { key: agent, body: { token: approved!.body.token } });
      expect(consume.status, JSON.stringify(consume.body)).toBe(200);
    }
    await v.vault.ctx.ledgerLoop.drain();
  }
  return { agent, reviewer, rounds };
}

/** The public keys fsck trusts, read from the control database exactly as `countersign ledger fsck` does. */
export async function publishedKeys(v: TestVault): Promise<Map<string, Uint8Array>> {
  const keys = await v.vault.ctx.control.query<{ kid: string; public_jwk: { x: string } }>("SELECT kid, public_jwk FROM signing_keys");
  return new Map(keys.map((k) => [k.kid, new Uint8Array(Buffer.from(k.public_jwk.x, "base64url"))]));
}

export async function fsck(v: TestVault, sealingKey?: Buffer): Promise<FsckReport> {
  return fsckLedger(await v.vault.ctx.tenantDbs.get(v.tenantId), await publishedKeys(v), sealingKey);
}

/**
 * What an attacker who owns the tables does: switch the append-only triggers off for one transaction
 * (or become a replication client, which skips ordinary triggers), change rows, switch them back on.
 */
export async function asAttacker(sql: Sql, tables: string[], how: "disable" | "replica", fn: (tx: Sql) => Promise<void>): Promise<void> {
  await sql.transaction(async (tx) => {
    if (how === "replica") await tx.query("SET LOCAL session_replication_role = replica");
    else for (const t of tables) await tx.query(`ALTER TABLE ${t} DISABLE TRIGGER USER`);
    await fn(tx);
    if (how === "disable") for (const t of tables) await tx.query(`ALTER TABLE ${t} ENABLE TRIGGER USER`);
  });
}

/** The same text with the character at `at` replaced by another of the same alphabet (hex, base64, digits). */
export function flipChar(text: string, at: number): string {
  const c = text[at]!;
  const swap = /[0-9]/.test(c) ? (c === "7" ? "3" : "7") : /[a-f]/.test(c) ? (c === "b" ? "e" : "b") : /[A-Z]/.test(c) ? (c === "Q" ? "R" : "Q") : c === "x" ? "y" : "x";
  return text.slice(0, at) + swap + text.slice(at + 1);
}

export function flipByte(bytes: Uint8Array, at: number): Buffer {
  const copy = Buffer.from(bytes);
  copy[at] = copy[at]! ^ 0x01;
  return copy;
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs the real CLI as a separate process, as test/integration/cli.test.ts does; never throws on exit codes. */
export function runCli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  return new Promise((resolve) => {
    execFile("node", ["--import", "tsx", "src/main/cli.ts", ...args], { env: { ...process.env, LOG_LEVEL: "silent", ...env } }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : -1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}
