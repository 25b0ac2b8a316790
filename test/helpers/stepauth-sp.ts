import http from "node:http";
import type { AddressInfo } from "node:net";
import type { FastifyInstance } from "fastify";
import { utf8 } from "../../src/protocols/encoding.js";
import { verifyDecisionEnvelope } from "../../src/protocols/stepauth/decision.js";
import { encodeEnvelope, signEnvelope } from "../../src/protocols/stepauth/envelope.js";
import { generateHybridKeyset, publicKeysetOf, type PrivateKeyset, type PublicKeyset } from "../../src/protocols/stepauth/keyset.js";
import { call, newDatabase, startTestVault, type Engine, type TestDatabase, type TestVault } from "./vault.js";

/**
 * A StepAuth service provider for the vault's own integration tests: it signs with the protocol
 * functions (src/protocols/stepauth/, SDK-free) and talks to the vault through app.inject.
 * (The interop test in its own folder is written from the reference instead, without server code.)
 */
export interface TestSp {
  entity: string;
  keyset: PrivateKeyset;
}

export function newSp(entity = `sp-${Math.random().toString(16).slice(2, 10)}.example.com`): TestSp {
  return { entity, keyset: generateHybridKeyset() };
}

export const rfc3339 = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, "Z");

/** An AuthorizationRequest payload in the Go SDK's member order; `over` replaces members (undefined drops one). */
export function requestJson(sp: TestSp, hubEntity: string, over: Record<string, unknown> = {}, now = Date.now()): { requestId: string; bytes: Uint8Array } {
  const requestId = (over.requestId as string | undefined) ?? `req_${Math.random().toString(16).slice(2)}${Math.random().toString(16).slice(2)}`;
  const base: Record<string, unknown> = {
    requestId,
    senderId: sp.entity,
    recipientId: hubEntity,
    timestamp: rfc3339(now),
    expiresAt: rfc3339(now + 30 * 60_000),
    principal: { subject: "email:pat@customer.example", attributes: [{ key: "role", label: "Role", value: "support" }] },
    action: {
      type: "payments.refund",
      category: "financial.transfer",
      name: "Refund order 1042",
      summary: "Refund $50 to the customer of order 1042",
      details: [
        { key: "amount", label: "Amount", value: "50" },
        { key: "order", label: "Order", value: [{ key: "id", label: "Order id", value: "1042" }] },
      ],
      target: { id: "order-1042", kind: "order" },
    },
  };
  const merged: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    if (k === "action" && v && typeof v === "object") merged.action = { ...(base.action as object), ...(v as object) };
    else merged[k] = v;
  }
  for (const k of Object.keys(merged)) if (merged[k] === undefined) delete merged[k];
  return { requestId, bytes: utf8(JSON.stringify(merged)) };
}

export function signed(sp: TestSp, payload: Uint8Array | Record<string, unknown>): string {
  const bytes = payload instanceof Uint8Array ? payload : utf8(JSON.stringify(payload));
  return encodeEnvelope(signEnvelope(bytes, sp.keyset));
}

export function publicKeysets(sp: TestSp): PublicKeyset[] {
  return [publicKeysetOf(sp.keyset)];
}

/** A raw POST of `body` (a string) as an SDK sends it. */
export function post(app: FastifyInstance, url: string, body: string | Buffer, headers: Record<string, string> = {}) {
  return app.inject({ method: "POST", url, headers: { "content-type": "application/json", ...headers }, payload: body });
}

export interface Hub {
  tenant: string;
  entity: string;
  keysets: PublicKeyset[];
  base: string;
}

export async function hubOf(app: FastifyInstance, tenant: string): Promise<Hub> {
  const res = await app.inject({ method: "GET", url: `/stepauth/${tenant}/v1/metadata` });
  const body = res.json() as { entity: string; keysets: PublicKeyset[] };
  return { tenant, entity: body.entity, keysets: body.keysets, base: `/stepauth/${tenant}/v1` };
}

export async function registerSp(app: FastifyInstance, adminKey: string, sp: TestSp, callbackPattern: string | null = null) {
  const res = await app.inject({
    method: "POST",
    url: "/stepauth/senders",
    headers: { "content-type": "application/json", "x-vault-api-key": adminKey },
    payload: { entity: sp.entity, keysets: publicKeysets(sp), callback_pattern: callbackPattern },
  });
  if (res.statusCode !== 201) throw new Error(`sender registration failed: ${res.statusCode} ${res.body}`);
  return res.json() as { id: string };
}

export async function submit(app: FastifyInstance, hub: Hub, sp: TestSp, over: Record<string, unknown> = {}) {
  const req = requestJson(sp, hub.entity, over);
  const res = await post(app, `${hub.base}/authorization-requests`, signed(sp, req.bytes));
  return { ...req, res };
}

/** Polls once; the decision envelope is verified the SP's way when there is one. */
export async function poll(app: FastifyInstance, hub: Hub, sp: TestSp, req: { requestId: string; bytes: Uint8Array }, addressedTo = hub.entity) {
  const url = `${hub.base}/authorization-requests/${encodeURIComponent(req.requestId)}/decision`;
  const res = await post(app, url, signed(sp, { senderId: sp.entity, recipientId: addressedTo, requestUri: url, timestamp: rfc3339(Date.now()) }));
  const verified = res.statusCode === 200 ? verifyDecisionEnvelope(res.body, { hubKeysets: (await hubOf(app, hub.tenant)).keysets, hubEntity: hub.entity, spEntity: sp.entity, requestBytes: req.bytes }) : null;
  return { res, verified };
}

export async function cancel(app: FastifyInstance, hub: Hub, sp: TestSp, requestId: string) {
  return post(app, `${hub.base}/authorization-requests/cancel`, signed(sp, { requestId, spId: sp.entity, timestamp: rfc3339(Date.now()) }));
}

/** The requestId inside a decision envelope a callback carried ("" when the body is not one). */
export function requestIdOf(envelope: string): string {
  try {
    return JSON.parse(Buffer.from(JSON.parse(envelope).payload, "base64").toString("utf8")).requestId;
  } catch {
    return "";
  }
}

/** An SP's callback endpoint on loopback: `answer` sees each delivered body and writes the response. */
export async function startCallbackReceiver(answer: (body: string, res: http.ServerResponse) => void): Promise<{ base: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => answer(body, res));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}/cb/`,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** A vault acting as a hub: a policy, a reviewer (Ana, group finance), one registered SP, the hub's metadata. */
export interface HubVault {
  db: TestDatabase;
  v: TestVault;
  sp: TestSp;
  hub: Hub;
  /** Ana's reviewer key. */
  reviewerKey: string;
  close(): Promise<void>;
}

export async function startHubVault(engine: Engine, opts: { policy: object; callbackPattern: string | null; env?: Record<string, string> }): Promise<HubVault> {
  const db = newDatabase(engine);
  const v = await startTestVault(db, { env: { VAULT_CEL_TIMEOUT_MS: "2000", VAULT_WEBHOOK_ALLOW_PRIVATE_TARGETS: "true", VAULT_REVIEW_SWEEP_INTERVAL_SECONDS: "3600", ...opts.env } });
  const policy = await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: opts.policy });
  if (policy.status !== 200) throw new Error(`policy registration failed: ${policy.status} ${JSON.stringify(policy.body)}`);
  const reviewerKey = (await call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name: "Ana", email: "ana@example.com", groups: ["finance"] } })).body.api_key as string;
  const sp = newSp();
  await registerSp(v.vault.app, v.adminKey, sp, opts.callbackPattern);
  const hub = await hubOf(v.vault.app, v.tenantId);
  return {
    db, v, sp, hub, reviewerKey,
    async close() {
      await v.close();
      await db.drop();
    },
  };
}
