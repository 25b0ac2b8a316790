/**
 * `countersign witness serve` as a real child process (tsx, as topology.ts starts the vault), on a
 * fixed loopback port so a restarted witness comes back at the same URL with the same state directory.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { generateWitnessKey } from "../../src/witness/witness-key.js";
import { freePort } from "./vault.js";

const READY_WITHIN_MS = 60_000;

export interface WitnessProcess {
  name: string;
  vkey: string;
  url: string;
  stateDir: string;
  /** The last few kB of its output, for failure messages. */
  output(): string;
  /** Starts it (again), with the vault's log key, and waits for GET /readyz. */
  start(logKey: string): Promise<void>;
  /** SIGKILL: a crash, no shutdown hook. */
  crash(): Promise<void>;
  stop(): Promise<void>;
}

/** A witness key in a fresh directory, and a free port; nothing runs until start(). */
export async function newWitness(name: string): Promise<WitnessProcess> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "cs-witness-"));
  const keyFile = path.join(dir, "witness.key");
  const stateDir = path.join(dir, "state");
  const key = await generateWitnessKey(name, keyFile);
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let out = "";
  const halt = async (signal: NodeJS.Signals) => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill(signal);
    await exited;
    child = undefined;
  };
  return {
    name,
    vkey: key.vkey,
    url,
    stateDir,
    output: () => out,
    async start(logKey) {
      child = spawn(
        process.execPath,
        ["--import", "tsx", "src/main/cli.ts", "witness", "serve", "--listen", `127.0.0.1:${port}`, "--key-file", keyFile, "--state-dir", stateDir, "--log", logKey],
        { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, LOG_LEVEL: "warn" } },
      );
      const keep = (b: Buffer) => void (out = (out + b.toString()).slice(-4000));
      child.stdout!.on("data", keep);
      child.stderr!.on("data", keep);
      const me = child;
      exited = new Promise((resolve) => me.once("exit", () => resolve()));
      const deadline = Date.now() + READY_WITHIN_MS;
      while (Date.now() < deadline) {
        if (me.exitCode !== null) throw new Error(`witness ${name} exited before it was ready:\n${out}`);
        if (await fetch(`${url}/readyz`).then((r) => r.status === 200, () => false)) return;
        await sleep(100);
      }
      await halt("SIGKILL");
      throw new Error(`witness ${name} was not ready within ${READY_WITHIN_MS} ms:\n${out}`);
    },
    crash: () => halt("SIGKILL"),
    stop: () => halt("SIGTERM"),
  };
}
