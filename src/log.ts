import pino, { type Logger } from "pino";
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
];

export function createLogger(config: Pick<Config, "log">): Logger {
  const base = { level: config.log.level, redact: { paths: redact, censor: "[redacted]" } };
  if (config.log.format === "text") {
    return pino({ ...base, transport: { target: "pino-pretty", options: { colorize: false, translateTime: "SYS:standard" } } });
  }
  return pino(base);
}
