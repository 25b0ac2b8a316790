import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, newDatabase, newKey, refundPolicy, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

/**
 * docs/sdk.md's agent-loop example, taken from the page as written and run as a program (tsx) against a
 * live vault: only the import of "countersign/sdk" is pointed at this checkout's source.
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

function example(): string {
  const page = readFileSync(path.join(ROOT, "docs/sdk.md"), "utf8");
  const section = page.slice(page.indexOf("## Example: guarding a tool in an agent loop"));
  const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error("docs/sdk.md has no ts block under its example heading");
  return block;
}

function runTsx(file: string, env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", "tsx", file], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

describe.each<Engine>(["postgres", "pglite"])("docs/sdk.md agent-loop example on %s", (engine) => {
  let db: TestDatabase;
  let v: TestVault;
  let dir: string;

  beforeAll(async () => {
    db = newDatabase(engine);
    // A generous condition budget: on a loaded machine the 50 ms default sends conditions to review (fail closed).
    v = await startTestVault(db, { env: { VAULT_CEL_TIMEOUT_MS: "2000" } });
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy })).status).toBe(200);
    dir = mkdtempSync(path.join(os.tmpdir(), "cs-sdk-doc-"));
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("is about 20 lines, runs the approved refund once, reports it, and refuses the denied one", async () => {
    const code = example();
    const lines = code.trim().split("\n").length;
    expect(lines).toBeGreaterThanOrEqual(15);
    expect(lines).toBeLessThanOrEqual(25);
    expect(code).toContain('from "countersign/sdk"');
    const file = path.join(dir, "agent-loop.mts"); // top-level await: an ES module
    writeFileSync(file, code.replace('from "countersign/sdk"', `from ${JSON.stringify(path.join(ROOT, "src/sdk/index.ts"))}`));
    const agentKey = await newKey(v, "agent");
    const out = await runTsx(file, { COUNTERSIGN_URL: v.url, COUNTERSIGN_API_KEY: agentKey });
    expect(out.code, out.stderr).toBe(0);
    const printed = out.stdout.trim().split("\n");
    expect(printed[0]).toBe('done {"refunded":45,"order":"A-1"}');
    expect(printed[1]).toMatch(/^denied req_\S+ Amount exceeds \$1000 limit$/);
    expect(printed).toHaveLength(2);
    // The approved refund was burned and its execution reported: the ledger holds token.executed.
    await v.vault.ctx.ledgerLoop.drain();
    const ledger = await call(v.url, "GET", "/ledger?limit=100", { key: v.adminKey });
    const reports = ledger.body.entries.flatMap((e: { evidence_chunks?: Record<string, unknown>[] }) => (e.evidence_chunks ?? []).filter((c) => c.type === "execution_report"));
    expect(reports).toEqual([expect.objectContaining({ outcome: "succeeded", status: null })]);
  });
});
