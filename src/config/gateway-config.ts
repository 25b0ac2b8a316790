import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ConfigError } from "./config-error.js";

/**
 * The routes file of `countersign gateway` (docs/gateway.md): which upstream services sit behind the
 * gateway, which `method + path` is which tool, and where the tool's arguments come from. Strict
 * throughout: a misspelled field is refused at start, never silently ignored, since every field here
 * decides what the gateway lets through. The vault API key is never in the file, only the name of the
 * environment variable that holds it; this module is the one that reads it (config owns process.env).
 */

/** Headers never forwarded, in either direction, whatever the file lists: credentials and hop-by-hop. */
export const NEVER_FORWARDED = new Set([
  "authorization",
  "x-countersign-token",
  "x-vault-api-key",
  "proxy-authorization",
  "cookie",
  "set-cookie",
  "host",
  "connection",
  "keep-alive",
  "transfer-encoding",
  "te",
  "trailer",
  "upgrade",
  "proxy-connection",
  "content-length",
  // Headers that make an upstream act on another method, path or client than the one the gateway
  // matched and bound: a GET approved for reading must not become a DELETE upstream, and the client
  // must not speak for the gateway about where the request came from.
  "x-http-method-override",
  "x-http-method",
  "x-method-override",
  "x-original-url",
  "x-rewrite-url",
  "x-original-method",
  "forwarded",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
  "x-forwarded-port",
  "x-forwarded-prefix",
  "x-real-ip",
]);

export const DEFAULT_REQUEST_HEADERS = ["accept", "accept-language", "content-type", "user-agent", "idempotency-key", "x-request-id"];
export const DEFAULT_RESPONSE_HEADERS = ["content-type", "cache-control", "etag", "last-modified", "location", "retry-after", "x-request-id"];

const headerName = z
  .string()
  .regex(/^[A-Za-z0-9!#$%&'*+.^_`|~-]+$/, "not an HTTP header name")
  .transform((h) => h.toLowerCase())
  .refine((h) => !NEVER_FORWARDED.has(h), { message: "this header is never forwarded (credentials, the token, or hop-by-hop); remove it" });

const headerLists = z.strictObject({
  /** Client → upstream. Replaces the default list. */
  request: z.array(headerName).max(100).optional(),
  /** Upstream → client. Replaces the default list. */
  response: z.array(headerName).max(100).optional(),
});

const argType = z.enum(["string", "number", "integer", "boolean"]);
/** Names of query or path parameters to take (values stay strings), or name → type to convert them. */
const paramSelection = z.union([z.literal("all"), z.array(z.string().min(1).max(128)).min(1), z.record(z.string().min(1).max(128), argType)]);

/** Where the tool's arguments come from; none at all means the tool takes `{}`. */
const argsSpec = z.strictObject({
  /**
   * true: the JSON body's members are arguments; { into: name }: the whole JSON body is the argument
   * `name`; "unbound": the body streams to the upstream unapproved (an upload the reviewer does not see),
   * which must be said in so many words; false (the default): a request with a body is refused, so no
   * data the approval did not cover reaches the upstream by a route that forgot to bind it.
   */
  body: z.union([z.boolean(), z.literal("unbound"), z.strictObject({ into: z.string().min(1).max(128) })]).default(false),
  query: paramSelection.optional(),
  params: paramSelection.optional(),
});

const method = z
  .string()
  .transform((m) => m.toUpperCase())
  .pipe(z.enum(["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]));

/** A Fastify route pattern: static segments and `:name` parameters, no wildcards or regular expressions. */
const pathPattern = z
  .string()
  .max(512)
  .regex(/^(\/([A-Za-z0-9._~!$&'()+,;=@-]+|:[A-Za-z_][A-Za-z0-9_]*))+\/?$|^\/$/, "a path such as /refunds/:order_id (static segments and :name parameters only)")
  .refine((p) => !p.split("/").some((s) => s === "." || s === ".."), "a path must not have . or .. segments");

const MAX_BODY = 64 * 1024 * 1024;
/** The gateway's own endpoints; no route may shadow them. */
const RESERVED_PATHS = new Set(["/healthz", "/readyz", "/metrics"]);

const route = z
  .strictObject({
    method,
    path: pathPattern,
    upstream: z.string().min(1),
    /** The path on the upstream, with the same :name parameters; default: the request's own path. */
    upstream_path: pathPattern.optional(),
    tool: z.string().min(1).max(256),
    args: argsSpec,
    max_body_bytes: z.number().int().min(0).max(MAX_BODY).optional(),
    timeout_ms: z.number().int().min(1).max(600_000).optional(),
  })
  .refine((r) => !((r.method === "GET" || r.method === "HEAD") && r.args.body !== false), {
    message: "a GET or HEAD route cannot take arguments from the body (it has none)",
    path: ["args", "body"],
  });

const passThrough = z.strictObject({
  method,
  path: pathPattern,
  upstream: z.string().min(1),
  upstream_path: pathPattern.optional(),
  max_body_bytes: z.number().int().min(0).max(MAX_BODY).optional(),
  timeout_ms: z.number().int().min(1).max(600_000).optional(),
});

const upstream = z.strictObject({
  url: z.string().url().max(2048),
  /** Development, or an upstream on the private network on purpose: skips the private-address check. */
  allow_private: z.boolean().default(false),
  timeout_ms: z.number().int().min(1).max(600_000).default(30_000),
  max_connections: z.number().int().min(1).max(1024).default(64),
});

/** Socket limits of the gateway's own listener (the vault's VAULT_HTTP_* equivalents; src/http/listener-limits.ts). */
const listenerLimits = z.strictObject({
  /** Receiving one whole request, body included (a streamed upload must arrive within it). */
  request_timeout_ms: z.number().int().min(1000).max(3_600_000).default(60_000),
  headers_timeout_ms: z.number().int().min(1000).max(3_600_000).default(15_000),
  keep_alive_timeout_ms: z.number().int().min(1000).max(3_600_000).default(5_000),
  max_connections: z.number().int().min(1).max(1_000_000).default(1024),
  /** A client socket that moves no bytes for this long is closed; must exceed every upstream time limit. */
  socket_idle_timeout_ms: z.number().int().min(1000).max(3_600_000).default(120_000),
});
const LISTENER_DEFAULTS = listenerLimits.parse({});

export const gatewayFileSchema = z
  .strictObject({
    vault: z.strictObject({
      url: z.string().url().max(2048),
      /** Name of the environment variable holding an API key with consume rights (agent or admin scope). */
      api_key_env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, "an environment variable name"),
      issuer: z.string().min(1).default("alcv-vault"),
      audience: z.string().min(1).default("ledgix-sdk"),
      /** Limit on each call to the vault (consume, JWKS, execution report). */
      timeout_ms: z.number().int().min(1).max(60_000).default(5_000),
    }),
    listen: z.strictObject({ host: z.string().min(1).default("127.0.0.1"), port: z.number().int().min(0).max(65535).default(8080) }).default({ host: "127.0.0.1", port: 8080 }),
    upstreams: z.record(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "upstream names are letters, digits, _ and -"), upstream),
    routes: z.array(route).min(1).max(1000),
    pass_through: z.array(passThrough).max(1000).default([]),
    headers: headerLists.default({}),
    limits: listenerLimits.default(LISTENER_DEFAULTS),
    max_body_bytes: z.number().int().min(0).max(MAX_BODY).default(1024 * 1024),
  })
  .superRefine((file, ctx) => {
    const seen = new Set<string>();
    const check = (list: { method: string; path: string; upstream: string }[], key: "routes" | "pass_through") =>
      list.forEach((r, i) => {
        if (!Object.hasOwn(file.upstreams, r.upstream)) ctx.addIssue({ code: "custom", path: [key, i, "upstream"], message: `no upstream named ${r.upstream}` });
        // Parameter names do not matter to the router: /a/:x and /a/:y are the same route.
        const shape = `${r.method} ${r.path.replace(/:[A-Za-z0-9_]+/g, ":")}`;
        if (RESERVED_PATHS.has(r.path.replace(/\/$/, ""))) ctx.addIssue({ code: "custom", path: [key, i, "path"], message: `${r.path} is the gateway's own endpoint` });
        if (seen.has(shape)) ctx.addIssue({ code: "custom", path: [key, i, "path"], message: `${r.method} ${r.path} is listed twice` });
        seen.add(shape);
      });
    check(file.routes, "routes");
    check(file.pass_through, "pass_through");
    // A client waiting on a slow upstream moves no bytes: the idle limit must not cut it off first.
    const longest = Math.max(...Object.values(file.upstreams).map((u) => u.timeout_ms), ...[...file.routes, ...file.pass_through].map((r) => r.timeout_ms ?? 0));
    if (longest >= file.limits.socket_idle_timeout_ms) {
      ctx.addIssue({ code: "custom", path: ["limits", "socket_idle_timeout_ms"], message: `must exceed the longest upstream time limit (${longest} ms)` });
    }
  });

export type GatewayFile = z.infer<typeof gatewayFileSchema>;
export type GatewayRoute = GatewayFile["routes"][number];
export type GatewayPassThrough = GatewayFile["pass_through"][number];
export type GatewayUpstream = GatewayFile["upstreams"][string];
export type ArgType = z.infer<typeof argType>;

export interface GatewayConfig {
  file: GatewayFile;
  /** The vault API key, read from the variable the file names. */
  apiKey: string;
  /** LOG_LEVEL and LOG_FORMAT, as for the vault. */
  log: { level: z.infer<typeof logLevel>; format: "json" | "text" };
}

const logLevel = z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]);

/** Parses the text of a routes file: JSON when it looks like JSON, YAML otherwise (YAML is a superset). */
export function parseGatewayFile(text: string, source = "routes file"): GatewayFile {
  let raw: unknown;
  try {
    raw = text.trimStart().startsWith("{") ? JSON.parse(text) : parseYaml(text, { maxAliasCount: 100 });
  } catch (err) {
    throw new ConfigError(`${source}: not valid YAML or JSON (${err instanceof Error ? err.message.split("\n")[0] : String(err)})`);
  }
  const parsed = gatewayFileSchema.safeParse(raw);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join(".") || "(file)"}: ${i.message}${i.code === "unrecognized_keys" ? ` (${i.keys.join(", ")})` : ""}`);
    throw new ConfigError(`${source}: ${issues.join("; ")}`);
  }
  return parsed.data;
}

/** The routes file plus the API key from the environment; `overrides` are the CLI's --port and --host. */
export function gatewayConfigFrom(file: GatewayFile, env: NodeJS.ProcessEnv = process.env, overrides: { port?: number; host?: string } = {}): GatewayConfig {
  const apiKey = env[file.vault.api_key_env];
  if (!apiKey) throw new ConfigError(`the routes file names ${file.vault.api_key_env} for the vault API key, and it is not set`);
  const level = logLevel.safeParse(env.LOG_LEVEL || "info");
  if (!level.success) throw new ConfigError(`LOG_LEVEL must be one of ${logLevel.options.join(", ")}`);
  const format = env.LOG_FORMAT || "json";
  if (format !== "json" && format !== "text") throw new ConfigError("LOG_FORMAT must be json or text");
  return {
    file: { ...file, listen: { host: overrides.host ?? file.listen.host, port: overrides.port ?? file.listen.port } },
    apiKey,
    log: { level: level.data, format },
  };
}

export function loadGatewayConfig(path: string, env: NodeJS.ProcessEnv = process.env, overrides: { port?: number; host?: string } = {}): GatewayConfig {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read the routes file ${path} (${(err as NodeJS.ErrnoException).code ?? "error"})`);
  }
  return gatewayConfigFrom(parseGatewayFile(text, path), env, overrides);
}
