import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { createServer } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/** A server the bench started as a child process: the vault, or the minimal signing service. */
export interface ServerProcess {
  url: string;
  /** The last lines the server wrote, for failure messages. */
  tail(): string;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  const server = createServer();
  server.listen(0, "127.0.0.1");
  await once(server, "listening");
  const address = server.address();
  server.close();
  if (address === null || typeof address === "string") throw new Error("could not get a free port");
  return address.port;
}

/**
 * Spawns `node <args>` listening on `port` and waits until GET `readyPath` answers 200. A separate
 * process, so the load generator never shares the server's event loop. Its output is passed through
 * with `label` in front: warnings it logs during a run are part of the result.
 */
export async function spawnServer(opts: {
  label: string;
  args: string[];
  cwd: string;
  env: NodeJS.ProcessEnv;
  port: number;
  readyPath: string;
}): Promise<ServerProcess> {
  const child: ChildProcess = spawn(process.execPath, opts.args, { cwd: opts.cwd, stdio: ["ignore", "pipe", "pipe"], env: opts.env });
  const lines: string[] = [];
  const forward = (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n")) {
      if (!line.trim()) continue;
      lines.push(line);
      if (lines.length > 40) lines.shift();
      process.stderr.write(`[${opts.label}] ${line}\n`);
    }
  };
  child.stdout?.on("data", forward);
  child.stderr?.on("data", forward);
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      exitCode = code ?? (signal ? -1 : null);
      resolve();
    }),
  );

  const server: ServerProcess = {
    url: `http://127.0.0.1:${opts.port}`,
    tail: () => lines.join("\n"),
    async stop() {
      if (exitCode !== undefined) return;
      child.kill("SIGTERM");
      const timedOut = await Promise.race([exited.then(() => false), sleep(10_000).then(() => true)]);
      if (timedOut) {
        process.stderr.write(`[bench] ${opts.label} did not exit 10 s after SIGTERM; killing it\n`);
        child.kill("SIGKILL");
        await exited;
      }
    },
  };

  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (exitCode !== undefined) throw new Error(`${opts.label} exited with code ${exitCode} before it was ready:\n${server.tail()}`);
    const ready = await fetch(`${server.url}${opts.readyPath}`).then(
      (r) => r.status === 200,
      () => false,
    );
    if (ready) return server;
    await sleep(100);
  }
  await server.stop();
  throw new Error(`${opts.label} was not ready within 30 s:\n${server.tail()}`);
}
