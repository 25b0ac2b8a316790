import type { FastifyInstance } from "fastify";
import { boundedFetch, OutboundHttpError, type OutboundLimits } from "../../http-client/bounded-fetch.js";
import { CommandError, UsageError } from "./cli-errors.js";
import { VaultApiError, type VaultApi } from "./vault-api.js";

type Method = "GET" | "POST" | "PUT" | "DELETE";
type Query = Record<string, string | number | boolean | undefined>;

/**
 * A remote vault answers within 30 s and 16 MiB (a page of 200 policies is far below), or the command
 * fails: a hung or endless answer must not hang the CLI. Redirects are refused, never followed with the key.
 */
const REMOTE_LIMITS: OutboundLimits = { timeoutMs: 30_000, maxResponseBytes: 16 * 1024 * 1024 };

function pathWithQuery(path: string, query: Query | undefined): string {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query ?? {})) if (v !== undefined) params.set(k, String(v));
  const qs = params.toString();
  return qs ? `${path}?${qs}` : path;
}

/** A 2xx answer's JSON, or the problem+json turned into a VaultApiError. */
function answerOf<T>(status: number, text: string): T {
  let body: unknown = undefined;
  try {
    body = text === "" ? undefined : JSON.parse(text);
  } catch {
    body = text;
  }
  if (status >= 200 && status < 300) return body as T;
  const problem = typeof body === "object" && body !== null ? (body as { code?: unknown; detail?: unknown; title?: unknown }) : {};
  const code = typeof problem.code === "string" ? problem.code : "http_error";
  const detail = typeof problem.detail === "string" ? problem.detail : typeof problem.title === "string" ? problem.title : String(text).slice(0, 200) || `HTTP ${status}`;
  throw new VaultApiError(status, code, detail, body);
}

/** A running vault's API over HTTP(S), authenticated with X-Vault-API-Key. Redirects are refused, never followed with the key. */
export class RemoteVault implements VaultApi {
  private constructor(
    readonly target: string,
    private readonly apiKey: string,
  ) {}

  static at(url: string, apiKey: string): RemoteVault {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      throw new UsageError(`--url ${url}: not a URL (for example http://127.0.0.1:8000)`);
    }
    if (parsed.protocol !== "http:" && parsed.protocol !== "https:") throw new UsageError(`--url ${url}: use an http:// or https:// URL`);
    // The URL is shown in messages (`target`), so it must carry no password; the vault takes only the API key anyway.
    if (parsed.username || parsed.password) throw new UsageError("--url: remove the user:password@ part (the vault authenticates with --api-key)");
    return new RemoteVault(parsed.toString().replace(/\/+$/, ""), apiKey);
  }

  async request<T = unknown>(method: Method, path: string, opts: { body?: unknown; query?: Query } = {}): Promise<T> {
    const headers: Record<string, string> = { "x-vault-api-key": this.apiKey, accept: "application/json, application/problem+json" };
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    try {
      const res = await boundedFetch(
        this.target + pathWithQuery(path, opts.query),
        { method, headers, body: opts.body === undefined ? undefined : JSON.stringify(opts.body) },
        REMOTE_LIMITS,
      );
      return answerOf<T>(res.status, await res.text());
    } catch (err) {
      if (err instanceof VaultApiError) throw err;
      if (err instanceof OutboundHttpError && err.reason === "redirect") {
        throw new CommandError(`the vault at ${this.target} answered with a redirect: pass the vault's own URL with --url`);
      }
      // Too large or too slow: the message names the URL and the limit.
      if (err instanceof OutboundHttpError) throw new CommandError(`the vault's answer was refused: ${err.message}`);
      const cause = err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
      throw new CommandError(`cannot reach the vault at ${this.target}: ${cause}`);
    }
  }
}

/** A vault app built in-process over the database (no vault running), reached with app.inject. */
export class InjectedVault implements VaultApi {
  constructor(
    private readonly app: FastifyInstance,
    private readonly apiKey: string,
    readonly sessionKeyId: string,
    readonly target: string,
  ) {}

  async request<T = unknown>(method: Method, path: string, opts: { body?: unknown; query?: Query } = {}): Promise<T> {
    const headers: Record<string, string> = { "x-vault-api-key": this.apiKey };
    if (opts.body !== undefined) headers["content-type"] = "application/json";
    const res = await this.app.inject({
      method,
      url: pathWithQuery(path, opts.query),
      headers,
      payload: opts.body === undefined ? undefined : JSON.stringify(opts.body),
    });
    return answerOf<T>(res.statusCode, res.body);
  }
}
