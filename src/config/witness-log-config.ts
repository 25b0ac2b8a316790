import { ConfigError } from "./config-error.js";

/**
 * What `countersign witness serve` reads from the environment: only LOG_LEVEL and LOG_FORMAT, as the
 * vault and the gateways read them. Everything else a witness needs is on its command line (it has no
 * database, no tenants and no secrets besides its key file).
 */
export interface WitnessLogSettings {
  level: "fatal" | "error" | "warn" | "info" | "debug" | "trace" | "silent";
  format: "json" | "text";
}

const LEVELS = ["fatal", "error", "warn", "info", "debug", "trace", "silent"] as const;

export function witnessLogSettings(env: NodeJS.ProcessEnv = process.env): WitnessLogSettings {
  const level = env.LOG_LEVEL || "info";
  if (!(LEVELS as readonly string[]).includes(level)) throw new ConfigError(`LOG_LEVEL must be one of ${LEVELS.join(", ")}`);
  const format = env.LOG_FORMAT || "json";
  if (format !== "json" && format !== "text") throw new ConfigError("LOG_FORMAT must be json or text");
  return { level: level as WitnessLogSettings["level"], format };
}
