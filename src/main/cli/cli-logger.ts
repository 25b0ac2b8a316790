import pino, { type Logger } from "pino";
import type { Config } from "../../config/config.js";

/**
 * The logger of a vault the CLI builds in-process: warnings and errors only, on stderr, so a
 * command's stdout stays its result (--json output can be piped). LOG_LEVEL can only make it quieter.
 */
export function cliLogger(config: Pick<Config, "log">): Logger {
  const quieter = ["error", "fatal", "silent"].includes(config.log.level);
  return pino(
    { level: quieter ? config.log.level : "warn", redact: { paths: ["req.headers['x-vault-api-key']", "*.apiKey", "*.api_key"], censor: "[redacted]" } },
    pino.destination({ dest: 2, sync: true }),
  );
}
