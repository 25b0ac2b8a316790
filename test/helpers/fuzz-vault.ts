/**
 * The live vault a fuzz file runs against: seeded with a policy, requests, a token, a webhook, a
 * document and a spare reviewer; a way to send one generated request (in-process with app.inject,
 * or over the real socket); a fingerprint of the tables a refused request must not touch; and the
 * check every response must pass.
 */
import http from "node:http";
import { expect } from "vitest";
import { errorCatalog, isSigilumCode, type ErrorCode } from "../../src/errors.js";
import type { KnownIds, Role, TableName } from "./fuzz-endpoints.js";
import { FUZZ_PUBLIC_URL, seedAgents, seedStepAuth } from "./fuzz-seed-protocols.js";
import type { SigilumFixture } from "./fuzz-sigilum.js";
import type { StepAuthFixture } from "./fuzz-stepauth.js";
import { call, newDatabase, newKey, refundPolicy, startTestVault, type Engine, type TestDatabase, type TestVault } from "./vault.js";

/** One request as generated: everything needed to send it and to print it as a counterexample. */
export interface FuzzRequest {
  endpoint: string;
  method: string;
  url: string;
  /** An array sends one header line per value (repeated signature headers). */
  headers: Record<string, string | string[]>;
  body?: Buffer;
  /** The mutations applied, in order, for the report. */
  mutations: string[];
  tables: TableName[];
  /** Set when the body is sent as JSON and one of its objects repeats this member name. */
  repeatedKey?: string;
  /**
   * The answers the protocol's reference allows for this case: problem codes, or "2xx". Set only when
   * one targeted mutation decides the outcome (issue 16: StepAuth envelopes, Sigilum headers).
   */
  expected?: readonly string[];
  /** The protocol whose error members every problem must also carry (StepAuth: error = code and message; Sigilum: error). */
  protocol?: "stepauth" | "sigilum";
  /** More tables to guard when the refusal has one of `codes` (nonces are spent only after a good signature). */
  guardWhen?: { tables: TableName[]; codes: readonly string[] };
  /** Runs before the "before" snapshot: state the case needs that generation cannot make (a nonce spent just now). */
  prepare?: () => Promise<void>;
  /** Runs after the answer, to keep the generators' view of the vault true (an accepted change of the hub's entity). */
  afterAnswer?: (status: number, body: string) => void;
}

export interface FuzzResponse {
  status: number;
  contentType: string;
  text: string;
}

/**
 * How fast-check prints a failing case: the request line, headers, mutations and the start of the
 * body. API keys are shown by prefix and length only: test keys, but reports get pasted around.
 */
export function describeRequest(r: FuzzRequest): string {
  const body = r.body === undefined ? "(none)" : `${r.body.length} bytes: ${JSON.stringify(r.body.subarray(0, 400).toString("latin1"))}`;
  const redact = (v: string | string[]) => (Array.isArray(v) ? v : [v]).map((k) => `${k.slice(0, 9)}…(${k.length} chars)`).join(", ");
  const headers = { ...r.headers };
  for (const name of ["x-vault-api-key", "authorization"]) if (headers[name] !== undefined) headers[name] = redact(headers[name]!);
  const expected = r.expected ? ` expected=${JSON.stringify(r.expected)}` : "";
  return `${r.method} ${r.url.slice(0, 300)} [${r.endpoint}] headers=${JSON.stringify(headers).slice(0, 4000)} mutations=${JSON.stringify(r.mutations)}${expected} body=${body}`;
}

/**
 * Fingerprints: configuration tables by content (md5 of every row), the tables background work may
 * also update by row count, and tokens by how many are burned.
 */
const TENANT_CONFIG_TABLES = [
  "policies", "policy_versions", "policy_documents", "review_settings", "policy_review_settings",
  "webhook_endpoints", "notification_channels", "idempotency_records",
  // Issue 16: StepAuth senders, hub entity and keysets (seeded before the run, so no lazy first write), protected services.
  "stepauth_senders", "stepauth_settings", "stepauth_hub_keysets", "protected_services",
  // Issue 17: policy and tenant modes (shadow mode).
  "policy_modes", "tenant_mode",
];
/** Control-plane configuration, by content. */
const CONTROL_CONFIG_TABLES = ["reviewers", "agent_namespaces"];
const md5Of = (table: string) => `SELECT md5(coalesce(string_agg(t::text, '|' ORDER BY t::text), '')) FROM ${table} t`;
const TENANT_COUNTED: Partial<Record<TableName, string>> = {
  clearance_requests: "SELECT count(*)::text FROM clearance_requests",
  consumed_tokens: "SELECT count(*)::text FROM issued_tokens WHERE consumed_at IS NOT NULL",
  review_decisions: "SELECT count(*)::text FROM review_decisions",
  outbox: "SELECT count(*)::text FROM outbox",
  ledger_events: "SELECT count(*)::text FROM ledger_events",
  policy_chunks: "SELECT count(*)::text FROM policy_chunks",
  // Counted: accepted requests' rows are updated later by background work (decision signing, callbacks).
  stepauth_requests: "SELECT count(*)::text FROM stepauth_requests",
  // By content: a refused vote or revoke must not move a claim, and nothing in the background does.
  agent_claims: md5Of("agent_claims"),
  signature_nonces: "SELECT count(*)::text FROM signature_nonces",
};
const CONTROL_COUNTED: Partial<Record<TableName, string>> = {
  api_keys: "SELECT count(*)::text FROM api_keys",
  console_sessions: "SELECT count(*)::text FROM console_sessions",
};

export class FuzzVault {
  private agent = new http.Agent({ keepAlive: true, maxSockets: 4 });
  private tenantSnapshotSql = "";
  private controlSnapshotSql = "";

  private constructor(
    readonly engine: Engine,
    readonly db: TestDatabase,
    readonly testVault: TestVault,
    readonly keys: Record<Exclude<Role, "none">, string>,
    readonly ids: KnownIds,
    readonly stepauth: StepAuthFixture,
    readonly sigilum: SigilumFixture,
  ) {
    const tenantParts = [
      ...TENANT_CONFIG_TABLES.map((t) => `'${t}', (${md5Of(t)})`),
      ...Object.entries(TENANT_COUNTED).map(([name, q]) => `'${name}', (${q})`),
    ];
    this.tenantSnapshotSql = `SELECT json_build_object(${tenantParts.join(", ")})::text AS fp`;
    const controlParts = [
      ...CONTROL_CONFIG_TABLES.map((t) => `'${t}', (${md5Of(t)})`),
      `'tenants', (SELECT count(*)::text FROM tenants)`,
      ...Object.entries(CONTROL_COUNTED).map(([name, q]) => `'${name}', (${q})`),
    ];
    this.controlSnapshotSql = `SELECT json_build_object(${controlParts.join(", ")})::text AS fp`;
  }

  /**
   * A vault on `engine` with private webhook targets allowed (every generated target is loopback or
   * unresolvable, so nothing leaves the machine) and no background sweeps during the run.
   */
  static async start(engine: Engine): Promise<FuzzVault> {
    const db = newDatabase(engine);
    const tv = await startTestVault(db, {
      // VAULT_PUBLIC_URL: Sigilum signatures name it, whether a case is injected or sent over the socket.
      env: { VAULT_WEBHOOK_ALLOW_PRIVATE_TARGETS: "true", VAULT_REVIEW_SWEEP_INTERVAL_SECONDS: "3600", VAULT_PUBLIC_URL: FUZZ_PUBLIC_URL },
    });
    const keys = { admin: tv.adminKey, agent: await newKey(tv, "agent"), reviewer: await newKey(tv, "reviewer") };
    const ok = async (method: string, path: string, key: string, body: unknown, status = 200) => {
      const res = await call(tv.url, method, path, { key, body });
      expect(res.status, `seeding ${method} ${path}: ${JSON.stringify(res.body)}`).toBe(status);
      return res.body;
    };
    await ok("POST", "/register-policy", keys.admin, refundPolicy);
    // A condition can go to review while the CEL workers warm up (condition_timeout): a few tries for a
    // token. Without one the token cases still run, on a token the vault never issued.
    let approved = await ok("POST", "/request-clearance", keys.agent, { tool_name: "stripe_refund", tool_args: { amount: 5 } });
    for (let attempt = 0; approved.status !== "approved" && attempt < 5; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 200));
      approved = await ok("POST", "/request-clearance", keys.agent, { tool_name: "stripe_refund", tool_args: { amount: 5 } });
    }
    if (approved.status !== "approved") console.warn(`fuzz seeding: stripe_refund {amount: 5} was ${approved.status} (${approved.reason_code}); token cases use a forged token`);
    const pending = await ok("POST", "/request-clearance", keys.agent, { tool_name: "unlisted_tool", tool_args: { n: 1 } });
    expect(pending.status).toBe("pending_review");
    const webhook = await ok("POST", "/webhooks", keys.admin, { url: "http://127.0.0.1:9/hook", events: [] }, 201);
    const doc = await ok("POST", `/policies/${refundPolicy.policy_id}/documents`, keys.admin, { title: "Refunds", content: "# Refunds\nSmall refunds are fine." }, 201);
    const spare = await ok("POST", "/reviewers", keys.admin, { name: "Spare", email: "spare@example.com" }, 201);
    const stepauth = await seedStepAuth(tv, keys.admin);
    const { pendingClaimId, spareApprovedClaimId, ...sigilum } = await seedAgents(tv, keys);
    // Sequenced and checkpointed, so proof reads of the seeded requests answer rather than wait.
    await tv.vault.ctx.ledgerLoop.drain();
    const ids: KnownIds = {
      approvedRequestId: approved.request_id,
      pendingRequestId: pending.request_id,
      token: approved.token ?? "eyJhbGciOiJFZERTQSJ9.eyJqdGkiOiJ4In0.c2ln",
      policyId: refundPolicy.policy_id,
      webhookId: webhook.id ?? webhook.webhook_id,
      documentId: doc.document_id ?? doc.id,
      spareReviewerId: spare.reviewer_id,
      reviewerKey: keys.reviewer,
      tenantId: tv.tenantId,
      hub: stepauth.hub,
      spareSenderId: stepauth.spareSenderId,
      namespace: sigilum.namespace,
      service: sigilum.service,
      pendingClaimId,
      spareApprovedClaimId,
    };
    return new FuzzVault(engine, db, tv, { ...keys, service: sigilum.serviceKey }, ids, stepauth, sigilum);
  }

  async close(): Promise<void> {
    this.agent.destroy();
    await this.testVault.close();
    await this.db.drop();
  }

  /** In-process: Fastify's inject runs the same parser, hooks, routes and error handler as a socket. */
  async inject(r: FuzzRequest): Promise<FuzzResponse> {
    const res = await this.testVault.vault.app.inject({ method: r.method as "GET", url: r.url, headers: r.headers, payload: r.body });
    return { status: res.statusCode, contentType: String(res.headers["content-type"] ?? ""), text: res.body };
  }

  /** Over the loopback socket, with the body's exact bytes. */
  async overSocket(r: FuzzRequest): Promise<FuzzResponse> {
    const { port } = new URL(this.testVault.url);
    return new Promise((resolve, reject) => {
      const req = http.request(
        { host: "127.0.0.1", port: Number(port), method: r.method, path: r.url, headers: { ...r.headers, "content-length": String(r.body?.length ?? 0) }, agent: this.agent },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, contentType: String(res.headers["content-type"] ?? ""), text: Buffer.concat(chunks).toString("utf8") }));
          res.on("error", reject);
        },
      );
      req.setTimeout(30_000, () => req.destroy(new Error("no answer within 30 s")));
      req.on("error", reject);
      req.end(r.body);
    });
  }

  /** Fingerprints of the tenant's and the control plane's tables (one query on each database). */
  async snapshot(): Promise<Record<string, string>> {
    const tenant = await this.testVault.vault.ctx.tenantDbs.get(this.testVault.tenantId);
    const [t] = await tenant.query<{ fp: string }>(this.tenantSnapshotSql);
    const [c] = await this.testVault.vault.ctx.control.query<{ fp: string }>(this.controlSnapshotSql);
    return { ...JSON.parse(t!.fp), ...JSON.parse(c!.fp) };
  }

  /** The liveness check run after each batch: the socket still answers and the databases too. */
  async expectAlive(): Promise<void> {
    const health = await call(this.testVault.url, "GET", "/healthz");
    expect(health.status).toBe(200);
    const ready = await call(this.testVault.url, "GET", "/readyz");
    expect(ready.status, JSON.stringify(ready.body)).toBe(200);
  }
}

/** The tables a refused request of this kind must leave unchanged: configuration always, plus its own. */
export function guardedTables(own: TableName[]): string[] {
  return [...TENANT_CONFIG_TABLES, ...CONTROL_CONFIG_TABLES, "tenants", ...own];
}

/**
 * The response properties: never a 5xx; every error is problem+json whose `code` is in the
 * catalogue with the catalogue's status, equal to the HTTP status.
 */
export function expectWellFormed(res: FuzzResponse, method = "GET"): void {
  const where = `${res.status} ${res.contentType} ${res.text.slice(0, 400)}`;
  expect(res.status, `5xx: ${where}`).toBeLessThan(500);
  expect(res.status, where).toBeGreaterThanOrEqual(200);
  if (res.status < 400) return;
  expect(res.contentType, where).toMatch(/^application\/problem\+json/);
  // The answer to HEAD has the headers of the GET answer and no body (RFC 9110 §9.3.2).
  if (method === "HEAD") return;
  let problem: { code?: unknown; status?: unknown; title?: unknown };
  try {
    problem = JSON.parse(res.text);
  } catch {
    throw new Error(`error body is not JSON: ${where}`);
  }
  const entry = errorCatalog[problem.code as ErrorCode];
  expect(entry, `code ${String(problem.code)} is not in the catalogue: ${where}`).toBeDefined();
  expect(problem.status, where).toBe(res.status);
  expect(entry.status, `catalogue status of ${String(problem.code)}: ${where}`).toBe(res.status);
  expect(problem.title, where).toBe(entry.title);
}

/** The problem's `code`, or "2xx" for an accepted request (the form FuzzRequest.expected uses). */
export function answerCode(res: FuzzResponse): string {
  if (res.status < 400) return "2xx";
  try {
    return String((JSON.parse(res.text) as { code?: unknown }).code);
  } catch {
    return `(${res.status}, not JSON)`;
  }
}

/**
 * Issue 16's protocol properties, on top of expectWellFormed: the answer is one the reference allows
 * for the case's mutation, and a problem also carries the protocol's own error members (StepAuth SDKs
 * read `error` = code and `message`; Sigilum clients read `error`, the message).
 */
export function expectProtocolAnswer(res: FuzzResponse, r: FuzzRequest): void {
  const where = `${res.status} ${res.text.slice(0, 300)}`;
  if (r.expected) expect(r.expected, `answer ${answerCode(res)} is not the reference's for "${r.mutations[0]}": ${where}`).toContain(answerCode(res));
  if (res.status < 400 || r.method === "HEAD" || !r.protocol) return;
  const problem = JSON.parse(res.text) as { code: string; error?: unknown; message?: unknown; detail?: unknown };
  if (r.protocol === "stepauth") {
    expect(problem.error, `StepAuth error member: ${where}`).toBe(problem.code);
    expect(problem.message, `StepAuth message member: ${where}`).toEqual(expect.any(String));
  } else if (isSigilumCode(problem.code) || r.url.startsWith("/v1/")) {
    // Sigilum's codes, and every problem of its own routes; /request-clearance keeps its own problems otherwise.
    expect(problem.error, `Sigilum error member: ${where}`).toEqual(expect.any(String));
  }
}
