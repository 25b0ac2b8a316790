import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateHybridKeyset, publicKeysetOf, serializePrivateKeyset } from "../../src/protocols/stepauth/keyset.js";
import { startFakeHub, type FakeHub } from "./sdk-stepauth-hub.js";

/**
 * docs/sdk.md's StepAuth example, taken from the page as written and run as a program (tsx) against
 * the in-test hub, which approves each request as it arrives: only the import of "countersign/sdk"
 * is pointed at this checkout's source.
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

function example(): string {
  const page = readFileSync(path.join(ROOT, "docs/sdk.md"), "utf8");
  const section = page.slice(page.indexOf("## StepAuth (acting as an SP)"));
  const block = /```ts\n([\s\S]*?)```/.exec(section)?.[1];
  if (!block) throw new Error("docs/sdk.md has no ts block under its StepAuth heading");
  return block;
}

function runTsx(file: string, env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ["--import", "tsx", file], { cwd: ROOT, env: { ...process.env, ...env }, timeout: 120_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

describe("docs/sdk.md StepAuth example", () => {
  const keyset = generateHybridKeyset("ks_docs");
  let hub: FakeHub;
  let dir: string;

  beforeAll(async () => {
    hub = await startFakeHub({ "sp.example.com": [publicKeysetOf(keyset)] });
    dir = mkdtempSync(path.join(os.tmpdir(), "cs-stepauth-doc-"));
  });
  afterAll(async () => {
    await hub?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("submits, waits for the verified decision, and acts on the approval", async () => {
    const code = example();
    expect(code).toContain('from "countersign/sdk"');
    expect(code.trim().split("\n").length).toBeLessThanOrEqual(30);
    // Approve on the first poll: the decision exists only after the example has submitted.
    hub.intercept = (route, req) => {
      if (route !== "poll") return false;
      const id = decodeURIComponent((req.url ?? "").split("/").at(-2)!);
      if (hub.stored.has(id) && !hub.stored.get(id)!.decision) hub.decide(id, "approved");
      return false;
    };
    const file = path.join(dir, "stepauth-sp.mts");
    writeFileSync(file, code.replace('from "countersign/sdk"', `from ${JSON.stringify(path.join(ROOT, "src/sdk/index.ts"))}`));
    const out = await runTsx(file, { STEPAUTH_HOST: hub.host, STEPAUTH_SP_KEYSET: serializePrivateKeyset(keyset) });
    expect(out.code, out.stderr).toBe(0);
    expect(out.stdout.trim()).toBe("deploying; approved by email:alice@example.com");
    expect(hub.stored.size).toBe(1);
    const [stored] = [...hub.stored.values()];
    expect(JSON.parse(new TextDecoder().decode(stored!.bytes))).toMatchObject({ senderId: "sp.example.com", action: { category: "code.deploy", name: "Deploy payments" } });
  });
});
