import { constants } from "node:os";
import type { Logger } from "pino";
import { flushLogs } from "../log.js";

/**
 * SIGTERM and SIGINT stop the process within `graceMs`, whatever else is stuck:
 * - first signal: close (stop accepting, finish in-flight work, close databases), then exit 0;
 *   a failed close exits 1;
 * - a hard timer exits 1 when the grace runs out. It is deliberately not unref'd: it must fire
 *   even if closing waits on something that never comes. It can fire because nothing of ours blocks
 *   the event loop, logging included (see src/log.ts);
 * - a second signal exits at once with the shell's code for it, 128 + signal number
 *   (130 for SIGINT, 143 for SIGTERM).
 */
export function exitOnSignals(args: { graceMs: number; log: Logger; close: () => Promise<void> }): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) process.exit(128 + constants.signals[signal]);
    closing = true;
    const started = performance.now();
    args.log.info({ signal, grace_ms: args.graceMs }, "shutting down");
    setTimeout(() => {
      process.stderr.write(`countersign: shutdown did not finish within ${args.graceMs} ms (VAULT_SHUTDOWN_GRACE_SECONDS); exiting\n`);
      process.exit(1);
    }, args.graceMs);
    args.close().then(
      async () => {
        await flushLogs(Math.max(0, Math.min(1000, args.graceMs - (performance.now() - started))));
        process.exit(0);
      },
      (err) => {
        args.log.error({ err }, "shutdown failed");
        process.exit(1);
      },
    );
  };
  process.on("SIGTERM", onSignal);
  process.on("SIGINT", onSignal);
}
