import { spawn, type ChildProcess } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { outputMismatch, parseWalkthrough, type WalkthroughStep } from "../helpers/walkthrough.js";

/**
 * docs/walkthrough.md and the README's five-minute path, run as written: for each, a fresh embedded
 * vault started the way the page says, its commands run in order in one bash session, each answer
 * compared with the documented excerpt. A change that breaks an example fails here.
 */

const ROOT = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));
const TSX = import.meta.resolve("tsx");
/** The origin the page's start command sets, so the checkpoint note does not carry this machine's host name. */
const LEDGER_ORIGIN = "vault.example.com";

/** A port nobody listens on now; the vault binds it a moment later. (Not from helpers/vault.ts: that imports the whole vault, which this test runs as a child process.) */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

interface RunningChild {
  child: ChildProcess;
  stdout: () => string;
  stderr: () => string;
}

function startVault(dir: string, port: number): RunningChild {
  let out = "";
  let err = "";
  const child = spawn(process.execPath, ["--import", TSX, path.join(ROOT, "src/main/cli.ts"), "serve"], {
    cwd: dir,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      VAULT_DATA_DIR: path.join(dir, "data"),
      VAULT_HOST: "127.0.0.1",
      VAULT_PORT: String(port),
      VAULT_LEDGER_ORIGIN: LEDGER_ORIGIN,
      // Run from source (tsx), a cold condition worker can take seconds to start on a busy 2-core machine;
      // the default budget (half of 10 s to get a worker) would send the page's first request to review.
      // No documented answer depends on this value.
      VAULT_JUDGE_TIMEOUT_MS: "60000",
      LOG_LEVEL: "warn",
    },
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stdout!.on("data", (d) => (out += d));
  child.stderr!.on("data", (d) => (err += d));
  return { child, stdout: () => out, stderr: () => err };
}

/** The admin key the first start prints once, and the vault answering /readyz. */
async function adminKeyOnceReady(vault: RunningChild, url: string): Promise<string> {
  const deadline = Date.now() + 150_000;
  while (Date.now() < deadline) {
    if (vault.child.exitCode !== null) throw new Error(`the vault exited (${vault.child.exitCode}): ${vault.stderr()}`);
    const key = /^\s+(csk_[A-Za-z0-9_-]+)\s*$/m.exec(vault.stdout())?.[1];
    if (key) {
      const ready = await fetch(`${url}/readyz`).then((r) => r.ok, () => false);
      if (ready) return key;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error(`the vault printed no admin key or never became ready:\n${vault.stdout()}\n${vault.stderr()}`);
}

/** Runs every step in one bash session, each followed by a marker line carrying its exit status. */
function runSteps(steps: WalkthroughStep[], env: Record<string, string>, cwd: string): Promise<{ outputs: Map<number, { output: string; status: number }>; stderr: string }> {
  const marker = (i: number) => `@@walkthrough-step ${i} `;
  // -e and pipefail: a failing command stops the session, so its step is the one that never finishes.
  const script = ["set -euo pipefail", ...steps.map((s) => `${s.script}\nprintf '\\n${marker(s.index)}%s\\n' "$?"`)].join("\n");
  return new Promise((resolve, reject) => {
    const bash = spawn("bash", ["-c", script], { cwd, env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    bash.stdout.on("data", (d) => (out += d));
    bash.stderr.on("data", (d) => (err += d));
    const timer = setTimeout(() => bash.kill("SIGKILL"), 240_000);
    bash.on("error", reject);
    bash.on("close", () => {
      clearTimeout(timer);
      const outputs = new Map<number, { output: string; status: number }>();
      let rest = out;
      for (const step of steps) {
        const re = new RegExp(`\\n${marker(step.index)}(\\d+)\\n`);
        const m = re.exec(rest);
        if (!m) break;
        outputs.set(step.index, { output: rest.slice(0, m.index), status: Number(m[1]) });
        rest = rest.slice(m.index + m[0].length);
      }
      resolve({ outputs, stderr: err });
    });
  });
}

describe.each([
  { page: "docs/walkthrough.md", minSteps: 10 },
  { page: "README.md", minSteps: 4 },
])("$page, run against a fresh vault", ({ page, minSteps }) => {
  const PAGE = path.join(ROOT, page);
  const dir = mkdtempSync(path.join(os.tmpdir(), "cs-walkthrough-"));
  const steps = parseWalkthrough(readFileSync(PAGE, "utf8"));
  let vault: RunningChild | undefined;
  let results: Awaited<ReturnType<typeof runSteps>>;

  beforeAll(async () => {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}`;
    vault = startVault(dir, port);
    const adminKey = await adminKeyOnceReady(vault, url);
    // `countersign` as the page uses it: the CLI of this checkout, run from wherever the shell is.
    const wrapperDir = mkdtempSync(path.join(dir, "bin-"));
    const wrapper = path.join(wrapperDir, "countersign");
    writeFileSync(wrapper, `#!/bin/sh\nexec "${process.execPath}" --import "${TSX}" "${path.join(ROOT, "src/main/cli.ts")}" "$@"\n`);
    chmodSync(wrapper, 0o755);
    const work = mkdtempSync(path.join(dir, "work-"));
    results = await runSteps(
      steps,
      {
        PATH: `${wrapperDir}:${process.env.PATH}`,
        HOME: process.env.HOME ?? dir,
        // What the pages tell the reader to export: the CLI's two variables, and the README's shorter names.
        COUNTERSIGN_URL: url,
        COUNTERSIGN_API_KEY: adminKey,
        VAULT: url,
        ADMIN_KEY: adminKey,
        LOG_LEVEL: "warn",
      },
      work,
    );
    // A cold start (up to 150 s) and the page's commands (up to 240 s): more than the default hook timeout.
  }, 420_000);

  afterAll(async () => {
    if (vault && vault.child.exitCode === null) {
      const exited = new Promise((r) => vault!.child.once("exit", r));
      vault.child.kill("SIGTERM");
      await exited;
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it("documents how the vault was started, and has commands with answers to check", () => {
    const text = readFileSync(PAGE, "utf8");
    expect(text).toContain(page === "README.md" ? "npm start" : `VAULT_LEDGER_ORIGIN=${LEDGER_ORIGIN} npm start`);
    expect(steps.length).toBeGreaterThanOrEqual(minSteps);
    expect(steps.filter((s) => s.expected).length).toBeGreaterThanOrEqual(minSteps);
  });

  it("gives the documented answer at every step, in order", () => {
    // Every step's problem at once: the first one usually explains the ones after it.
    const problems: string[] = [];
    for (const step of steps) {
      const result = results.outputs.get(step.index);
      const where = `${page} step ${step.index} (the sh block at line ${step.line})`;
      if (!result) {
        problems.push(`${where} never finished: a command in it failed (the session stops at the first failure)`);
        break;
      }
      if (result.status !== 0) problems.push(`${where} exited ${result.status}; output:\n${result.output}`);
      else if (step.expected) {
        const problem = outputMismatch(step.expected, result.output);
        if (problem) problems.push(`${where} does not give the answer documented at line ${step.expected.line}: ${problem}\nThe whole answer was:\n${result.output}`);
      }
    }
    expect(problems.join("\n\n") + (problems.length ? `\n\nstderr of the shell:\n${results.stderr}` : ""), `a documented example no longer holds: fix the code or ${page}`).toBe("");
  });
});
