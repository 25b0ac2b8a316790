import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { z } from "zod";
import { ConfigError } from "./config-error.js";

/**
 * The configuration file of `countersign mcp-gateway` (docs/mcp-gateway.md), YAML or JSON. Strict
 * everywhere: a misspelled `gated` or `pending` must not silently fall back to a default and change
 * what is enforced. The vault API key is never in the file: the file names the variable holding it,
 * and this module (src/config is where the environment is read) resolves it.
 */

const seconds = (max: number) => z.number().positive().max(max);
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]{0,127}$/, "an environment variable name");
const httpUrl = z.url({ protocol: /^https?$/ });

const pendingMode = z.enum(["wait", "return"]);

const toolPolicySchema = z.strictObject({
  /** false: the call is forwarded without asking the vault (and without a ledger entry). */
  gated: z.boolean().default(true),
  /** What a pending review does to this tool's calls; the gateway's `pending.mode` when absent. */
  pending: pendingMode.optional(),
  wait_seconds: seconds(3600).optional(),
});

const upstreamBase = {
  name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, "letters, digits, _ and - (at most 64)"),
  /** Put before each of the upstream's tool names, for the agent and for the vault (`pay.` + `transfer`). */
  prefix: z.string().max(64).regex(/^[A-Za-z0-9_.\-/]*$/, "letters, digits and _ . - /").default(""),
  /** The longest an upstream tools/call may take before it is cancelled and reported as an error. */
  call_timeout_seconds: seconds(3600).default(60),
};

const upstreamSchema = z.discriminatedUnion("transport", [
  z.strictObject({ ...upstreamBase, transport: z.literal("http"), url: httpUrl }),
  z.strictObject({
    ...upstreamBase,
    transport: z.literal("stdio"),
    command: z.string().min(1),
    args: z.array(z.string()).default([]),
    cwd: z.string().optional(),
    /** Added to the SDK's small default environment (PATH, HOME, ...); the gateway's own variables are not passed. */
    env: z.record(z.string(), z.string()).default({}),
  }),
]);

export const mcpGatewayFileSchema = z.strictObject({
  vault: z.strictObject({
    url: httpUrl,
    /** The name of the variable holding an agent API key of the tenant (never the key itself). */
    api_key_env: envName,
    /** Where reviewers open a request; the vault's URL when absent. */
    console_url: httpUrl.optional(),
    /** Deadline of each call to the vault. */
    timeout_seconds: seconds(120).default(10),
    /** How long a clearance the vault is still deciding (202 processing) is waited for before failing closed. */
    decision_timeout_seconds: seconds(600).default(30),
  }),
  /** pino levels; the log goes to stderr (stdout carries MCP under --stdio). */
  log_level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /** The clearance request's agent_id; the MCP client's name (clientInfo.name) when absent. */
  agent_id: z.string().min(1).max(256).optional(),
  pending: z
    .strictObject({
      mode: pendingMode.default("wait"),
      // Below the MCP SDK client's default 60 s request timeout, for clients that do not reset it on progress.
      wait_seconds: seconds(3600).default(55),
      progress_interval_seconds: seconds(60).default(5),
    })
    .default({ mode: "wait", wait_seconds: 55, progress_interval_seconds: 5 }),
  upstreams: z.array(upstreamSchema).min(1),
  /** Per tool, by its prefixed name. */
  tools: z.record(z.string().min(1), toolPolicySchema).default({}),
  /** Tools not in `tools` (and tools an upstream adds later): gated, so the vault's default (review) applies. */
  default_tool: toolPolicySchema.default({ gated: true }),
  http: z
    .strictObject({
      /** Browser origins allowed to call /mcp; a request with any other Origin header is refused (DNS rebinding). */
      allowed_origins: z.array(z.string().min(1)).default([]),
      /**
       * Host names (without port) the agent may address /mcp by. Empty: on a loopback address only
       * localhost, 127.0.0.1 and ::1 (a DNS-rebinding page arrives under its own name and is refused);
       * on any other address every name.
       */
      allowed_hosts: z.array(z.string().min(1).max(253)).default([]),
      /** The variable holding the bearer token agents must send on /mcp (Authorization: Bearer ...); none: no authentication. */
      agent_token_env: envName.optional(),
    })
    .default({ allowed_origins: [], allowed_hosts: [] }),
  limits: z
    .strictObject({
      /** The largest tools/call arguments (as JSON) sent for clearance; larger calls are refused at the gateway. */
      max_args_bytes: z.number().int().min(1024).max(16 * 1024 * 1024).default(256 * 1024),
      /** The largest HTTP request body the agent may send to /mcp. */
      max_request_bytes: z.number().int().min(4096).max(64 * 1024 * 1024).default(4 * 1024 * 1024),
      /** tools/call of one session in flight at once (each may hold a long poll); more end at once with a tool error. */
      max_calls_per_session: z.number().int().min(1).max(10_000).default(32),
    })
    .default({ max_args_bytes: 256 * 1024, max_request_bytes: 4 * 1024 * 1024, max_calls_per_session: 32 }),
});
export type McpGatewayFile = z.infer<typeof mcpGatewayFileSchema>;

export type PendingMode = z.infer<typeof pendingMode>;
export type UpstreamConfig = McpGatewayFile["upstreams"][number];

export interface ToolPolicy {
  gated: boolean;
  pending: PendingMode;
  waitMs: number;
}

export interface McpGatewayConfig {
  vault: { url: string; apiKey: string; consoleUrl: string; timeoutMs: number; decisionTimeoutMs: number };
  agentId: string | undefined;
  pending: { mode: PendingMode; waitMs: number; progressIntervalMs: number };
  upstreams: UpstreamConfig[];
  /** The policy of one prefixed tool name: its entry in `tools`, else `default_tool`, completed by `pending`. */
  policyOf(toolName: string): ToolPolicy;
  limits: { maxArgsBytes: number; maxRequestBytes: number; maxCallsPerSession: number };
  allowedOrigins: string[];
  /** Lower-case host names allowed in the Host header of /mcp; see http.allowed_hosts. */
  allowedHosts: string[];
  /** The bearer token agents must present on /mcp, from the variable http.agent_token_env; undefined: none asked. */
  agentToken: string | undefined;
  logLevel: McpGatewayFile["log_level"];
}

/** Parses the file's text (YAML is a superset of JSON, so one parser reads both) and resolves the key from env. */
export function parseMcpGatewayConfig(text: string, env: NodeJS.ProcessEnv = process.env, source = "the configuration"): McpGatewayConfig {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new ConfigError(`${source}: not YAML or JSON (${(err as Error).message.split("\n")[0]})`);
  }
  const parsed = mcpGatewayFileSchema.safeParse(raw);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((i) => `${i.path.join(".") || "(top level)"}: ${i.message}`);
    throw new ConfigError(`${source} is invalid: ${problems.join("; ")}`);
  }
  const file = parsed.data;
  duplicates(file.upstreams.map((u) => u.name), "upstream name", source);
  duplicates(file.upstreams.map((u) => u.prefix), "upstream prefix", source);
  overlappingPrefixes(file.upstreams, source);
  const apiKey = env[file.vault.api_key_env];
  if (!apiKey) throw new ConfigError(`${source}: the variable ${file.vault.api_key_env} (vault.api_key_env) is not set`);
  let agentToken: string | undefined;
  if (file.http.agent_token_env !== undefined) {
    agentToken = env[file.http.agent_token_env];
    // A configured but empty token must not silently turn authentication off.
    if (!agentToken || agentToken.length < 16) {
      throw new ConfigError(`${source}: the variable ${file.http.agent_token_env} (http.agent_token_env) is not set or shorter than 16 characters`);
    }
    if (agentToken === apiKey) throw new ConfigError(`${source}: http.agent_token_env must not hold the vault API key`);
  }
  const pending = { mode: file.pending.mode, waitMs: file.pending.wait_seconds * 1000, progressIntervalMs: file.pending.progress_interval_seconds * 1000 };
  const vaultUrl = file.vault.url.replace(/\/+$/, "");
  return {
    vault: {
      url: vaultUrl,
      apiKey,
      consoleUrl: (file.vault.console_url ?? vaultUrl).replace(/\/+$/, ""),
      timeoutMs: file.vault.timeout_seconds * 1000,
      decisionTimeoutMs: file.vault.decision_timeout_seconds * 1000,
    },
    agentId: file.agent_id,
    pending,
    upstreams: file.upstreams,
    policyOf(toolName) {
      const entry = Object.hasOwn(file.tools, toolName) ? file.tools[toolName]! : file.default_tool;
      return {
        gated: entry.gated,
        pending: entry.pending ?? pending.mode,
        waitMs: entry.wait_seconds !== undefined ? entry.wait_seconds * 1000 : pending.waitMs,
      };
    },
    limits: { maxArgsBytes: file.limits.max_args_bytes, maxRequestBytes: file.limits.max_request_bytes, maxCallsPerSession: file.limits.max_calls_per_session },
    allowedOrigins: file.http.allowed_origins,
    allowedHosts: file.http.allowed_hosts.map((h) => h.toLowerCase()),
    agentToken,
    logLevel: file.log_level,
  };
}

export function loadMcpGatewayConfig(file: string, env: NodeJS.ProcessEnv = process.env): McpGatewayConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(`cannot read the MCP gateway configuration ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  return parseMcpGatewayConfig(text, env, file);
}

/**
 * One prefix that starts another ("pay." and "pay.t", or "" next to anything) makes a name's upstream
 * depend on the longest match: the upstream with the longer prefix could add a tool ("ransfer") and
 * take over the calls, and the approvals, meant for the other's ("pay.transfer"). So prefixes must not
 * overlap at all.
 */
function overlappingPrefixes(upstreams: { name: string; prefix: string }[], source: string): void {
  for (const a of upstreams) {
    for (const b of upstreams) {
      if (a !== b && a.prefix !== b.prefix && b.prefix.startsWith(a.prefix)) {
        throw new ConfigError(`${source}: the prefix ${JSON.stringify(a.prefix)} of upstream ${a.name} starts the prefix ${JSON.stringify(b.prefix)} of upstream ${b.name}; prefixes must not overlap`);
      }
    }
  }
}

function duplicates(values: string[], what: string, source: string): void {
  const seen = new Set<string>();
  for (const v of values) {
    if (seen.has(v)) throw new ConfigError(`${source}: ${what} ${JSON.stringify(v)} is used twice`);
    seen.add(v);
  }
}
