import pino, { type Logger } from "pino";
import { prettyFactory } from "pino-pretty";
import type { Config } from "./config/config.js";

/** Paths that may carry secrets; pino replaces them wherever a log call passes them. */
const redact = [
  "req.headers['x-vault-api-key']",
  "req.headers.authorization",
  "headers['x-vault-api-key']",
  "req.headers['x-api-key']",
  "headers['x-api-key']",
  "*.token",
  "*.apiKey",
  "*.api_key",
  "*.privateKey",
  // The Secrets object's fields (src/config/secrets.ts), should one ever reach a log line.
  "*.password",
  "*.smtpPassword",
  "*.sealingKey",
  "*.signingKey",
  "*.llmApiKey",
  "*.embeddingApiKey",
  "*.judgeApiKey",
  "*.judgeServiceApiKey",
  "*.bootstrapApiKey",
  "*.secrets",
];

/** Log output waiting for a slow stdout reader, beyond which lines are dropped (and counted). */
const MAX_PENDING_BYTES = 8 * 1024 * 1024;

let stdoutBroken = false;
let dropped = 0;
let watching = false;

/**
 * stdout as a log destination that never blocks the event loop, whatever reads it.
 *
 * pino's default destination writes with fs.writeSync. Once stdout is a pipe that nobody reads (a dead
 * parent, a stuck log shipper), the pipe fills, and Node has made fd 1 non-blocking, so every write gets
 * EAGAIN and sonic-boom retries in a sleeping loop: the event loop stops, SIGTERM handlers and timers
 * never run. pino.destination({ sync: false }) does not help either: it registers an exit hook that
 * flushes synchronously, which blocks process.exit the same way.
 *
 * process.stdout.write on a pipe or socket is libuv's non-blocking write: what the pipe cannot take is
 * queued in memory. The queue is bounded here: above MAX_PENDING_BYTES a line is dropped and counted,
 * and the count is logged once the reader catches up. A broken pipe (EPIPE) ends logging instead of
 * crashing the process. Files and terminals are written as Node writes them (synchronously).
 */
function stdoutDestination(format: (line: string) => string) {
  if (!watching) {
    watching = true;
    process.stdout.on("error", () => {
      stdoutBroken = true;
    });
  }
  return {
    write(line: string) {
      if (stdoutBroken) return;
      if (process.stdout.writableLength > MAX_PENDING_BYTES) {
        dropped++;
        return;
      }
      if (dropped > 0) {
        // Written here rather than through the logger (whose destination this is); pino's own clock stamps it.
        const note = `{"level":40${pino.stdTimeFunctions.epochTime()},"pid":${process.pid},"msg":"dropped ${dropped} log lines: stdout was not being read"}`;
        dropped = 0;
        process.stdout.write(format(`${note}\n`));
      }
      process.stdout.write(format(line));
    },
  };
}

/**
 * Waits until the log lines queued for stdout are written, at most `ms`: a clean shutdown keeps its
 * last lines, a stuck reader cannot hold the exit.
 */
export function flushLogs(ms: number): Promise<void> {
  if (stdoutBroken || process.stdout.writableLength === 0) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    process.stdout.once("drain", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

export function createLogger(config: Pick<Config, "log">): Logger {
  const base = { level: config.log.level, redact: { paths: redact, censor: "[redacted]" } };
  // pino-pretty formats in this thread (not as a worker transport), so the same bounded destination applies.
  const format =
    config.log.format === "text" ? prettyFactory({ colorize: false, translateTime: "SYS:standard" }) : (line: string) => line;
  return pino(base, stdoutDestination(format));
}
