import cluster from "node:cluster";
import type { Logger } from "pino";
import type { Config } from "../config/config.js";
import { assertJudgeConfig, startJudgeService } from "./judge-service.js";
import { createLogger } from "../log.js";
import { exitOnSignals } from "./shutdown.js";

/**
 * `countersign judge`: JUDGE_WORKERS processes sharing one port (node:cluster). The primary only
 * supervises: a worker that dies is replaced, SIGTERM stops them all.
 */
export async function runJudge(config: Config): Promise<void> {
  const workers = config.judgeService.workers;
  // Checked before forking: a configuration error is one clear message, not a crash loop.
  assertJudgeConfig(config);
  if (workers <= 1 || !cluster.isPrimary) return runWorker(config, workers);
  const log = createLogger(config);
  let stopping = false;
  let quickExits = 0;
  const startedAt = new Map<number, number>();
  const fork = () => {
    const worker = cluster.fork();
    startedAt.set(worker.id, performance.now());
  };
  for (let i = 0; i < workers; i++) fork();
  cluster.on("exit", (worker, code, signal) => {
    if (stopping) return;
    // A worker that dies right after starting (bad config, database down) will die again: after a
    // few such exits in a row the service stops with an error instead of restarting forever.
    const lived = performance.now() - (startedAt.get(worker.id) ?? 0);
    quickExits = lived < 10_000 ? quickExits + 1 : 0;
    if (quickExits >= workers * 3) {
      log.fatal({ code, signal }, "judge workers keep exiting right after start; giving up");
      process.exit(1);
    }
    log.error({ pid: worker.process.pid, code, signal }, "judge worker exited; starting a new one");
    setTimeout(() => {
      if (!stopping) fork();
    }, 1000);
  });
  // The primary's close is its workers' exit. Each worker has the grace for its own close; the primary
  // waits a second longer, so a worker's own deadline, not the primary's, decides how it ends.
  const allExited = () => Object.keys(cluster.workers ?? {}).length === 0;
  exitOnSignals({
    graceMs: config.shutdown.graceMs + 1000,
    log,
    close: () =>
      new Promise<void>((resolve) => {
        stopping = true;
        cluster.on("exit", () => allExited() && resolve());
        for (const w of Object.values(cluster.workers ?? {})) w?.kill("SIGTERM");
        if (allExited()) resolve();
      }),
  });
}

async function runWorker(config: Config, workers: number): Promise<void> {
  const judge = await startJudgeService(config, workers);
  judge.app.log.info({ url: judge.url, pid: process.pid }, "countersign judge listening");
  exitOnSignals({ graceMs: config.shutdown.graceMs, log: judge.app.log as Logger, close: () => judge.close() });
}
