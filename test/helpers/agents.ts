import { expect } from "vitest";
import type { ManualClock } from "../../src/clock.js";
import { AgentSigner, createAgentIdentity, type AgentIdentity } from "../../src/sdk/agent-signer.js";
import type { TestVault } from "./vault.js";

/**
 * Agent identity tests through app.inject: Sigilum-signed requests made with the SDK's AgentSigner,
 * against a vault whose VAULT_PUBLIC_URL is `PUBLIC_URL` (so the signed target URI is that origin plus
 * the path, whatever Host inject sends).
 */
export const PUBLIC_URL = "https://vault.example.test";

export interface Agent {
  identity: AgentIdentity;
  signer: AgentSigner;
}

export function newAgent(namespace: string, clock: ManualClock, subject?: string): Agent {
  const identity = createAgentIdentity({ namespace, issuedAt: new Date(clock.nowMs()) });
  return { identity, signer: new AgentSigner(identity, { subject, now: () => clock.nowMs() }) };
}

export interface Injected<T = any> {
  status: number;
  body: T;
  headers: Record<string, unknown>;
}

/**
 * One request by inject. `agent` signs it (over exactly `raw` or the JSON of `body`); `key` is sent as
 * X-Vault-API-Key, `bearer` as Authorization: Bearer; `tamper` edits the signed headers before sending.
 */
export async function send(
  v: TestVault,
  method: string,
  path: string,
  opts: { agent?: Agent; key?: string; bearer?: string; body?: unknown; raw?: string; tamper?: (h: Record<string, string>) => void; url?: string } = {},
): Promise<Injected> {
  const payload = opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body));
  const headers: Record<string, string> = {};
  if (payload !== undefined) headers["content-type"] = "application/json";
  if (opts.key) headers["x-vault-api-key"] = opts.key;
  if (opts.bearer) headers.authorization = `Bearer ${opts.bearer}`;
  if (opts.agent) Object.assign(headers, opts.agent.signer.sign(method, opts.url ?? PUBLIC_URL + path, payload ?? null));
  opts.tamper?.(headers);
  const res = await v.vault.app.inject({ method: method as "GET", url: path, headers, payload });
  let body: unknown = res.body;
  try {
    body = JSON.parse(res.body);
  } catch {
    /* not JSON: left as text for the assertion */
  }
  return { status: res.statusCode, body, headers: res.headers };
}

/** Expects a Sigilum-style problem: the status, `code`, and the `error` member carrying the message. */
export function expectSigilumError(res: Injected, status: number, code: string): void {
  expect(res.status, JSON.stringify(res.body)).toBe(status);
  expect(res.body.code).toBe(code);
  expect(res.body.error).toEqual(expect.any(String));
  expect(res.body.error).toBe(res.body.detail);
}

/** A namespace for the tenant of `adminKey`, a protected service, and a key of that service. */
export async function agentSetup(v: TestVault, opts: { adminKey?: string; namespace: string; service: string }): Promise<{ serviceKey: string }> {
  const adminKey = opts.adminKey ?? v.adminKey;
  const ns = await send(v, "POST", "/agent-namespaces", { key: adminKey, body: { namespace: opts.namespace } });
  expect(ns.status, JSON.stringify(ns.body)).toBe(201);
  const svc = await send(v, "POST", "/protected-services", { key: adminKey, body: { slug: opts.service, name: `Service ${opts.service}` } });
  expect(svc.status, JSON.stringify(svc.body)).toBe(201);
  const key = await send(v, "POST", `/protected-services/${opts.service}/keys`, { key: adminKey, body: { label: "gateway" } });
  expect(key.status, JSON.stringify(key.body)).toBe(201);
  return { serviceKey: key.body.api_key as string };
}

let nonceCounter = 0;
/** The body of a claim by `agent` for `service`, with a fresh body nonce. */
export function claimBody(agent: Agent, service: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    namespace: agent.identity.certificate.namespace,
    public_key: agent.identity.publicKey,
    service,
    agent_ip: "203.0.113.7",
    nonce: `nonce-${process.pid}-${++nonceCounter}-${Date.now()}`,
    ...extra,
  };
}
