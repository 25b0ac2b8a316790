/**
 * Bad input, every endpoint: malformed JSON, wrong types, oversized and over-deep bodies, prototype
 * pollution keys, wrong media types, unknown fields, missing or wrong keys and scopes, hostile ids,
 * forged tokens, broken CEL, Idempotency-Key misuse, unknown routes and cross-tenant access.
 *
 * The rule under test: every error is RFC 9457 problem+json with a stable `code` from the catalog,
 * bad input always gets a 4xx, never a 5xx or a crash, and unknown request fields are ignored.
 * One vault on PGlite serves the whole file; every response's status is recorded, and the last
 * tests check that none was a 5xx and that the vault still answers.
 */
import { createHmac, generateKeyPairSync, randomUUID } from "node:crypto";
import net from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { errorCatalog, type ErrorCode } from "../../src/errors.js";
import { signClaims } from "../../src/tokens/a-jwt.js";
import { LocalSigner, parseEd25519PrivateKey } from "../../src/tokens/signer.js";
import {
  call,
  newDatabase,
  newKey,
  newTenant,
  refundPolicy,
  startTestVault,
  TEST_KEY_BASE64,
  type HttpResult,
  type TestDatabase,
  type TestVault,
} from "../helpers/vault.js";

type Json = Record<string, unknown>;

let db: TestDatabase;
let v: TestVault;
let admin: string;
let agent: string;
let reviewer: string;
let otherAdmin: string; // admin key of a second tenant
let maxBody: number;
let approved: { request_id: string; token: string }; // approved stripe_refund {amount: 5}, token never consumed here
let pendingId: string; // a request left in pending_review
let tokenHeader: { kid: string };
let tokenClaims: Json;
let policyCounter = 0;

// ---------------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------------

/** Every response of the suite, for the final "no 5xx" check. */
const seen: { label: string; status: number }[] = [];

function record<T extends HttpResult>(label: string, res: T): T {
  seen.push({ label, status: res.status });
  return res;
}

type CallOpts = Parameters<typeof call>[3];

async function http(method: string, path: string, opts: CallOpts = {}): Promise<HttpResult> {
  return record(`${method} ${path.slice(0, 100)}`, await call(v.url, method, path, opts));
}

/** An RFC 9457 problem with this status and (optionally) this code from the closed catalog. */
function expectProblem(res: HttpResult, status: number, code?: ErrorCode): void {
  const where = `${res.status} ${typeof res.body === "string" ? res.body.slice(0, 300) : JSON.stringify(res.body).slice(0, 300)}`;
  expect(res.status, where).toBe(status);
  expect(res.headers.get("content-type") ?? "", where).toMatch(/^application\/problem\+json/);
  expect(typeof res.body, where).toBe("object");
  expect(res.body.status, where).toBe(status);
  expect(typeof res.body.code, where).toBe("string");
  expect(typeof res.body.title, where).toBe("string");
  expect(typeof res.body.detail, where).toBe("string");
  expect(res.body.detail.length, where).toBeGreaterThan(0);
  if (code !== undefined) expect(res.body.code, where).toBe(code);
  // A stable code: one of the catalog's, with the catalog's status and title.
  const entry = errorCatalog[res.body.code as ErrorCode];
  expect(entry, `code ${res.body.code} is not in the error catalog`).toBeDefined();
  expect(entry?.status, where).toBe(status);
  expect(res.body.title, where).toBe(entry?.title);
}

/** Some 4xx problem (the exact status is a design choice), never a 5xx. */
function expectClientProblem(res: HttpResult, allowed: number[] = []): void {
  expect(res.status, `expected a 4xx, got ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`).toBeGreaterThanOrEqual(400);
  expect(res.status, `expected a 4xx, got ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`).toBeLessThan(500);
  if (allowed.length > 0) expect(allowed).toContain(res.status);
  expectProblem(res, res.status);
}

/** Accepted (2xx) or refused with a 4xx problem: either is fine, a 5xx is not. */
function expectHandled(res: HttpResult): void {
  if (res.status >= 200 && res.status < 300) return;
  expectClientProblem(res);
}

/** A validation problem whose `errors` name this field. */
function expectFieldError(res: HttpResult, field: string): void {
  expectProblem(res, 400, "validation_failed");
  const paths = (res.body.errors as { path: string }[]).map((e) => e.path);
  expect(paths.some((p) => p === field || p.startsWith(`${field}.`)), `errors ${JSON.stringify(paths)} should name ${field}`).toBe(true);
}

/** `levels` nested arrays: depth `levels`. */
const deepArray = (levels: number) => "[".repeat(levels) + "]".repeat(levels);
const deepObject = (levels: number) => '{"a":'.repeat(levels - 1) + "{}" + "}".repeat(levels - 1);

/** The JSON text of `body` with extra raw members appended (for values JSON.stringify cannot write). */
function withRawMembers(body: Json, members: string): string {
  const text = JSON.stringify(body);
  return text === "{}" ? `{${members}}` : `${text.slice(0, -1)},${members}}`;
}

/** A body of exactly `bytes` bytes: `body` plus an unknown padding field. */
function paddedTo(body: Json, bytes: number): string {
  const base = withRawMembers(body, '"zzz_padding":""');
  const pad = bytes - Buffer.byteLength(base);
  if (pad < 0) throw new Error("body already larger than the target");
  return withRawMembers(body, `"zzz_padding":"${"a".repeat(pad)}"`);
}

async function freshPending(): Promise<string> {
  const res = await http("POST", "/request-clearance", { key: agent, body: { tool_name: "unlisted_tool", tool_args: { n: 1 } } });
  expect(res.status).toBe(200);
  expect(res.body.status).toBe("pending_review");
  return res.body.request_id as string;
}

async function freshToken(): Promise<string> {
  const res = await http("POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 5 } } });
  expect(res.status).toBe(200);
  expect(res.body.status).toBe("approved");
  return res.body.token as string;
}

/** A policy that touches no tool the rest of the suite uses, so registering it changes no decision. */
function policyDoc(policyId = `bad-input-${++policyCounter}`, extra: Json = {}): Json {
  return {
    policy_id: policyId,
    description: "Bad-input suite",
    tools: ["policy_test_tool"],
    conditions: [{ id: "big", when: "args.n > 1", decision: "deny", reason: "too big" }],
    default_decision: "review",
    ...extra,
  };
}

const b64u = (s: string | Buffer) => Buffer.from(s).toString("base64url");
const b64json = (o: unknown) => b64u(JSON.stringify(o));

/** Claims shaped like the vault's, for this tenant, with a jti it never issued. */
function forgedClaims(over: Json = {}): Json {
  const now = Math.floor(Date.now() / 1000);
  return { ...tokenClaims, iat: now, exp: now + 300, jti: randomUUID(), request_id: "req_forged", ...over };
}

function vaultSigner(): LocalSigner {
  return new LocalSigner(tokenHeader.kid, parseEd25519PrivateKey(TEST_KEY_BASE64, "test key"));
}

/**
 * One raw HTTP/1.1 exchange, for requests fetch refuses to send (control characters in headers,
 * a bad Content-Length, a body without Content-Type). Returns what the vault wrote back.
 */
async function rawHttp(label: string, request: string): Promise<HttpResult> {
  const { port, hostname } = new URL(v.url);
  const text = await new Promise<string>((resolve) => {
    let data = "";
    const socket = net.connect(Number(port), hostname, () => socket.write(request));
    socket.setEncoding("utf8");
    socket.setTimeout(10_000, () => socket.destroy());
    socket.on("data", (chunk: string) => (data += chunk));
    socket.on("close", () => resolve(data));
    socket.on("error", () => {
      /* the vault may reset the connection after answering; what arrived is in `data` */
    });
  });
  const split = text.indexOf("\r\n\r\n");
  const head = split >= 0 ? text.slice(0, split) : text;
  const rawBody = split >= 0 ? text.slice(split + 4) : "";
  const [statusLine = "", ...headerLines] = head.split("\r\n");
  const status = Number(statusLine.split(" ")[1] ?? 0);
  const headers = new Headers();
  for (const line of headerLines) {
    const i = line.indexOf(":");
    if (i > 0) headers.append(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  let body: any = rawBody;
  try {
    body = JSON.parse(rawBody);
  } catch {
    /* left as text */
  }
  return record(label, { status, headers, body });
}

function rawRequest(method: string, path: string, headers: Record<string, string>, body = ""): string {
  const lines = [`${method} ${path} HTTP/1.1`, "Host: 127.0.0.1", "Connection: close"];
  for (const [k, val] of Object.entries(headers)) lines.push(`${k}: ${val}`);
  return `${lines.join("\r\n")}\r\n\r\n${body}`;
}

// ---------------------------------------------------------------------------------------------
// The vault
// ---------------------------------------------------------------------------------------------

beforeAll(async () => {
  db = newDatabase("pglite");
  v = await startTestVault(db);
  admin = v.adminKey;
  agent = await newKey(v, "agent");
  reviewer = await newKey(v, "reviewer");
  otherAdmin = (await newTenant(v, "bad-input-other")).adminKey;
  maxBody = v.vault.ctx.config.http.maxBodyBytes;

  const reg = await http("POST", "/register-policy", { key: admin, body: refundPolicy });
  expect(reg.status).toBe(200);
  const ok = await http("POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 5 } } });
  expect(ok.status).toBe(200);
  expect(ok.body.status).toBe("approved");
  approved = { request_id: ok.body.request_id, token: ok.body.token };
  const [h = "", p = ""] = approved.token.split(".");
  tokenHeader = JSON.parse(Buffer.from(h, "base64url").toString("utf8"));
  tokenClaims = JSON.parse(Buffer.from(p, "base64url").toString("utf8"));
  pendingId = await freshPending();
});

afterAll(async () => {
  await v?.close();
  await db?.drop();
});

// ---------------------------------------------------------------------------------------------
// Every endpoint that takes a body
// ---------------------------------------------------------------------------------------------

interface BodyEndpoint {
  name: string;
  /** Path for the bad-body cases (rejected before any id in it is looked up). */
  path: () => string;
  key: () => string;
  /** A fresh request that succeeds (2xx). */
  valid: () => Promise<{ path: string; body: Json }>;
  /** A required field. */
  required: string;
}

const endpoints: BodyEndpoint[] = [
  {
    name: "POST /request-clearance",
    path: () => "/request-clearance",
    key: () => agent,
    valid: async () => ({ path: "/request-clearance", body: { tool_name: "stripe_refund", tool_args: { amount: 5 } } }),
    required: "tool_name",
  },
  {
    name: "POST /reviews/:request_id/decision",
    path: () => `/reviews/${pendingId}/decision`,
    key: () => reviewer,
    valid: async () => ({ path: `/reviews/${await freshPending()}/decision`, body: { approved: true, review_reason: "looks fine" } }),
    required: "approved",
  },
  {
    name: "POST /mint-token",
    path: () => "/mint-token",
    key: () => agent,
    valid: async () => ({
      path: "/mint-token",
      body: { tool_name: "stripe_refund", tool_args: { amount: 5 }, original_request_id: approved.request_id },
    }),
    required: "original_request_id",
  },
  {
    name: "POST /consume-token",
    path: () => "/consume-token",
    key: () => agent,
    valid: async () => ({ path: "/consume-token", body: { token: await freshToken() } }),
    required: "token",
  },
  {
    name: "POST /register-policy",
    path: () => "/register-policy",
    key: () => admin,
    valid: async () => ({ path: "/register-policy", body: policyDoc() }),
    required: "policy_id",
  },
];

const malformed: { label: string; raw: string; code: ErrorCode }[] = [
  { label: "truncated JSON", raw: '{"tool_name":', code: "invalid_json" },
  { label: "trailing garbage", raw: '{"tool_name":"x"} x', code: "invalid_json" },
  { label: "single quotes", raw: "{'tool_name':'x'}", code: "invalid_json" },
  { label: "NaN literal", raw: '{"tool_name":"x","n":NaN}', code: "invalid_json" },
  { label: "trailing comma", raw: '{"tool_name":"x",}', code: "invalid_json" },
  { label: "bad escape", raw: '{"tool_name":"\\u12"}', code: "invalid_json" },
  { label: "raw control character in a string", raw: '{"tool_name":"a\u0001b"}', code: "invalid_json" },
  { label: "empty body", raw: "", code: "invalid_json" },
  { label: "whitespace only", raw: "   \n ", code: "invalid_json" },
  { label: "10,000 unclosed brackets", raw: "[".repeat(10_000), code: "invalid_json" },
  { label: "a JSON array", raw: "[]", code: "validation_failed" },
  { label: "an array holding an object", raw: '[{"tool_name":"x"}]', code: "validation_failed" },
  { label: "a JSON string", raw: '"tool_name"', code: "validation_failed" },
  { label: "a JSON number", raw: "42", code: "validation_failed" },
  { label: "JSON null", raw: "null", code: "validation_failed" },
  { label: "JSON true", raw: "true", code: "validation_failed" },
  { label: "an empty object", raw: "{}", code: "validation_failed" },
];

const tooDeep: { label: string; raw: () => string }[] = [
  { label: "65 levels in an unknown field", raw: () => `{"tool_name":"x","zzz":${deepArray(64)}}` },
  { label: "65 levels of objects", raw: () => deepObject(65) },
  { label: "10,000 levels of arrays", raw: () => deepArray(10_000) },
  { label: "10,000 levels of objects", raw: () => deepObject(10_000) },
  { label: "500,000 levels (just under 1 MiB)", raw: () => deepArray(500_000) },
];

const wrongMediaTypes = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=xyz", "application/xml", "application/octet-stream"];

const pollution: { label: string; members: string }[] = [
  { label: "__proto__ at the top level", members: '"__proto__":{"polluted":true}' },
  { label: "constructor.prototype at the top level", members: '"constructor":{"prototype":{"polluted":true}}' },
  { label: "unicode-escaped __proto__", members: '"\\u005f\\u005fproto\\u005f\\u005f":{"polluted":true}' },
  { label: "__proto__ nested in an unknown field", members: '"zzz":{"a":[{"__proto__":{"polluted":true}}]}' },
];

const badKeys: { label: string; key: () => string | undefined }[] = [
  { label: "no API key", key: () => undefined },
  { label: "an empty API key", key: () => "" },
  { label: "a garbage API key", key: () => "csk_not_a_real_key" },
  { label: "a 600-character API key", key: () => `csk_${"x".repeat(596)}` },
  { label: "an 8 KiB API key", key: () => "k".repeat(8192) },
  { label: "an API key with Latin-1 bytes", key: () => "csk_caf\u00e9" },
  { label: "another key with one character changed", key: () => `${admin.slice(0, -1)}${admin.endsWith("a") ? "b" : "a"}` },
];

describe.each(endpoints)("$name", (ep) => {
  it.each(malformed)("$label -> 400 $code", async ({ raw, code }) => {
    expectProblem(await http("POST", ep.path(), { key: ep.key(), rawBody: raw }), 400, code);
  });

  it("a body without its required field -> 400 validation_failed naming it", async () => {
    const { path, body } = await ep.valid();
    delete body[ep.required];
    expectFieldError(await http("POST", path, { key: ep.key(), body }), ep.required);
  });

  it.each(tooDeep)("$label -> 400 json_too_deep", async ({ raw }) => {
    expectProblem(await http("POST", ep.path(), { key: ep.key(), rawBody: raw() }), 400, "json_too_deep");
  });

  it("exactly 64 levels (in an unknown field) is accepted", async () => {
    const { path, body } = await ep.valid();
    const res = await http("POST", path, { key: ep.key(), rawBody: withRawMembers(body, `"zzz_deep":${deepArray(63)}`) });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
  });

  it("a body one byte over the limit -> 413 payload_too_large", async () => {
    const { path, body } = await ep.valid();
    expectProblem(await http("POST", path, { key: ep.key(), rawBody: paddedTo(body, maxBody + 1) }), 413, "payload_too_large");
  });

  it("a 5 MiB body -> 413 payload_too_large", async () => {
    expectProblem(await http("POST", ep.path(), { key: ep.key(), rawBody: `{"zzz":"${"a".repeat(5 * 1_048_576)}"}` }), 413, "payload_too_large");
  });

  it("a body of exactly the limit (padding in an unknown field) is accepted", async () => {
    const { path, body } = await ep.valid();
    const res = await http("POST", path, { key: ep.key(), rawBody: paddedTo(body, maxBody) });
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
  });

  it.each(pollution)("$label -> 4xx or ignored, never a 5xx, and no prototype is polluted", async ({ members }) => {
    const { path, body } = await ep.valid();
    expectHandled(await http("POST", path, { key: ep.key(), rawBody: withRawMembers(body, members) }));
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.prototype).not.toHaveProperty("polluted");
  });

  it.each(wrongMediaTypes)("Content-Type %s -> 415 unsupported_media_type", async (type) => {
    const { path, body } = await ep.valid();
    expectProblem(
      await http("POST", path, { key: ep.key(), rawBody: JSON.stringify(body), headers: { "content-type": type } }),
      415,
      "unsupported_media_type",
    );
  });

  it("a JSON body sent without any Content-Type -> 415 unsupported_media_type", async () => {
    const { path, body } = await ep.valid();
    const text = JSON.stringify(body);
    const res = await rawHttp(
      `POST ${path} (no content-type)`,
      rawRequest("POST", path, { "X-Vault-API-Key": ep.key(), "Content-Length": String(Buffer.byteLength(text)) }, text),
    );
    expectProblem(res, 415, "unsupported_media_type");
  });

  it("an unknown field is ignored: a valid body plus {zzz_unknown: 1} succeeds", async () => {
    const { path, body } = await ep.valid();
    const res = await http("POST", path, { key: ep.key(), body: { ...body, zzz_unknown: 1, zzz_nested: { a: [1, { b: null }] } } });
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
  });

  it("a number too large for a double (1e400) in an unknown field -> ignored or 4xx, never a 5xx", async () => {
    const { path, body } = await ep.valid();
    expectHandled(await http("POST", path, { key: ep.key(), rawBody: withRawMembers(body, '"zzz_unknown":1e400') }));
  });

  it.each(badKeys)("$label -> 401 unauthorized", async ({ key }) => {
    const { path, body } = await ep.valid();
    expectProblem(await http("POST", path, { key: key(), body, headers: key() === "" ? { "x-vault-api-key": "" } : {} }), 401, "unauthorized");
  });
});

// ---------------------------------------------------------------------------------------------
// Field types and sizes, per endpoint
// ---------------------------------------------------------------------------------------------

const long = (n: number) => "x".repeat(n);

describe("POST /request-clearance field validation", () => {
  const cases: { field: string; value: unknown }[] = [
    { field: "tool_name", value: 5 },
    { field: "tool_name", value: null },
    { field: "tool_name", value: "" },
    { field: "tool_name", value: true },
    { field: "tool_name", value: {} },
    { field: "tool_name", value: ["stripe_refund"] },
    { field: "tool_name", value: long(257) },
    { field: "tool_args", value: [] },
    { field: "tool_args", value: "x" },
    { field: "tool_args", value: 5 },
    { field: "tool_args", value: null },
    { field: "tool_args", value: true },
    { field: "agent_id", value: 5 },
    { field: "agent_id", value: long(257) },
    { field: "session_id", value: {} },
    { field: "session_id", value: long(257) },
    { field: "context", value: "x" },
    { field: "context", value: [] },
    { field: "human_principal", value: 5 },
    { field: "human_principal", value: long(513) },
    { field: "parent_jti", value: long(257) },
    { field: "destination_uri", value: long(2049) },
    { field: "destination_provider", value: [] },
    { field: "data_categories", value: "pii" },
    { field: "data_categories", value: [1] },
    { field: "data_categories", value: Array.from({ length: 101 }, (_, i) => `c${i}`) },
    { field: "data_categories", value: [long(129)] },
    { field: "purpose", value: long(513) },
    { field: "dataset_ref", value: false },
  ];
  it.each(cases)("$field = $value -> 400 validation_failed", async ({ field, value }) => {
    const body = { tool_name: "stripe_refund", tool_args: { amount: 5 }, [field]: value };
    expectFieldError(await http("POST", "/request-clearance", { key: agent, body }), field);
  });

  it("strings at their maximum length are accepted", async () => {
    const body = { tool_name: long(256), agent_id: long(256), session_id: long(256), human_principal: long(512), destination_uri: long(2048) };
    expect((await http("POST", "/request-clearance", { key: agent, body })).status).toBe(200);
  });

  it("omitted optional fields get their defaults", async () => {
    const res = await http("POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund" } });
    expect(res.status).toBe(200);
  });
});

describe("POST /reviews/:request_id/decision field validation", () => {
  const cases: { field: string; value: unknown }[] = [
    { field: "approved", value: "yes" },
    { field: "approved", value: "true" },
    { field: "approved", value: 1 },
    { field: "approved", value: 0 },
    { field: "approved", value: null },
    { field: "approved", value: [] },
    { field: "review_reason", value: 5 },
    { field: "review_reason", value: {} },
    { field: "review_reason", value: long(2001) },
  ];
  it.each(cases)("$field = $value -> 400 validation_failed", async ({ field, value }) => {
    const body = { approved: false, review_reason: "no", [field]: value };
    expectFieldError(await http("POST", `/reviews/${pendingId}/decision`, { key: reviewer, body }), field);
  });

  it("the request is still pending after all the rejected decisions", async () => {
    const res = await http("GET", `/clearance-status/${pendingId}`, { key: agent });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("pending_review");
  });
});

describe("POST /mint-token field validation", () => {
  const cases: { field: string; value: unknown }[] = [
    { field: "tool_name", value: 5 },
    { field: "tool_name", value: "" },
    { field: "tool_name", value: long(257) },
    { field: "tool_args", value: [] },
    { field: "tool_args", value: "x" },
    { field: "original_request_id", value: 5 },
    { field: "original_request_id", value: "" },
    { field: "original_request_id", value: null },
    { field: "original_request_id", value: long(257) },
    { field: "agent_id", value: long(257) },
    { field: "session_id", value: 5 },
    { field: "policy_id", value: [] },
    { field: "policy_version_id", value: long(257) },
    { field: "policy_content_hash", value: {} },
  ];
  it.each(cases)("$field = $value -> 400 validation_failed", async ({ field, value }) => {
    const body = { tool_name: "stripe_refund", tool_args: { amount: 5 }, original_request_id: approved.request_id, [field]: value };
    expectFieldError(await http("POST", "/mint-token", { key: agent, body }), field);
  });

  it("an unknown original_request_id -> 404 request_not_found", async () => {
    const body = { tool_name: "stripe_refund", tool_args: { amount: 5 }, original_request_id: "req_does_not_exist" };
    expectProblem(await http("POST", "/mint-token", { key: agent, body }), 404, "request_not_found");
  });

  it("a pending original request -> 409 approval_not_reusable", async () => {
    const body = { tool_name: "unlisted_tool", tool_args: { n: 1 }, original_request_id: pendingId };
    expectProblem(await http("POST", "/mint-token", { key: agent, body }), 409, "approval_not_reusable");
  });

  it("other arguments than the approved ones -> 409 approval_not_reusable", async () => {
    const body = { tool_name: "stripe_refund", tool_args: { amount: 5000 }, original_request_id: approved.request_id };
    expectProblem(await http("POST", "/mint-token", { key: agent, body }), 409, "approval_not_reusable");
  });
});

describe("POST /consume-token field validation", () => {
  const cases: { field: string; value: unknown }[] = [
    { field: "token", value: 5 },
    { field: "token", value: "" },
    { field: "token", value: null },
    { field: "token", value: [] },
    { field: "token", value: long(16_385) },
    { field: "tool_name", value: 5 },
    { field: "tool_name", value: "" },
    { field: "tool_args", value: [] },
    { field: "tool_args", value: "x" },
  ];
  it.each(cases)("$field = $value -> 400 validation_failed", async ({ field, value }) => {
    expectFieldError(await http("POST", "/consume-token", { key: agent, body: { token: "x.y.z", [field]: value } }), field);
  });
});

describe("POST /register-policy field validation", () => {
  const cases: { field: string; value: unknown }[] = [
    { field: "policy_id", value: 5 },
    { field: "policy_id", value: "" },
    { field: "policy_id", value: "has space" },
    { field: "policy_id", value: "../../etc/passwd" },
    { field: "policy_id", value: "-leading-dash" },
    { field: "policy_id", value: long(129) },
    { field: "description", value: 5 },
    { field: "description", value: long(20_001) },
    { field: "rules", value: "be nice" },
    { field: "rules", value: [5] },
    { field: "rules", value: [long(4001)] },
    { field: "rules", value: Array.from({ length: 501 }, () => "r") },
    { field: "tools", value: "stripe_refund" },
    { field: "tools", value: [""] },
    { field: "tools", value: [long(201)] },
    { field: "tools", value: Array.from({ length: 1001 }, (_, i) => `t${i}`) },
    { field: "conditions", value: {} },
    { field: "conditions", value: "args.n > 1" },
    { field: "conditions", value: [{}] },
    { field: "conditions", value: [{ id: "c", when: "true", decision: "maybe" }] },
    { field: "conditions", value: [{ id: "bad id", when: "true", decision: "deny" }] },
    { field: "conditions", value: [{ id: "c", when: "", decision: "deny" }] },
    { field: "conditions", value: [{ id: "c", when: 5, decision: "deny" }] },
    { field: "conditions", value: [{ id: "c", when: "true", decision: "deny", reason: long(2001) }] },
    { field: "conditions", value: Array.from({ length: 201 }, (_, i) => ({ id: `c${i}`, when: "true", decision: "deny" })) },
    { field: "default_decision", value: "yes" },
    { field: "default_decision", value: 5 },
  ];
  it.each(cases)("$field = $value -> 400 validation_failed", async ({ field, value }) => {
    expectFieldError(await http("POST", "/register-policy", { key: admin, body: policyDoc(undefined, { [field]: value }) }), field);
  });

  it("duplicate condition ids -> 400 naming the duplicate", async () => {
    const conditions = [
      { id: "same", when: "args.n > 1", decision: "deny" },
      { id: "same", when: "args.n > 2", decision: "review" },
    ];
    const res = await http("POST", "/register-policy", { key: admin, body: policyDoc(undefined, { conditions }) });
    expectFieldError(res, "conditions.1.id");
    expect(res.body.detail).toContain("same");
  });

  it("an expression over 2048 characters -> 400", async () => {
    const when = `args.n > ${"1".repeat(2049)}`;
    const res = await http("POST", "/register-policy", {
      key: admin,
      body: policyDoc(undefined, { conditions: [{ id: "long-one", when, decision: "deny" }] }),
    });
    expectProblem(res, 400);
    expect(["validation_failed", "invalid_condition"]).toContain(res.body.code);
  });

  const notCompiling: { label: string; when: string; mention?: string }[] = [
    { label: "a syntax error", when: "args.amount >" },
    { label: "an unknown variable", when: "foo == 1", mention: "foo" },
    { label: "an unknown variable inside a call", when: "size(secrets) > 0", mention: "secrets" },
    { label: "nested comprehensions", when: "args.items.all(x, args.items.exists(y, y == x))", mention: "nested" },
    { label: "a comprehension inside map()", when: "args.l.map(x, args.l.filter(y, y > x)).size() > 0", mention: "nested" },
    { label: "message construction", when: "google.protobuf.Value{}" },
    { label: "a NUL character", when: "args.n\u0000 > 1" },
    { label: "1,000 nested parentheses", when: `${"(".repeat(1000)}true${")".repeat(1000)}` },
    { label: "over 400 AST nodes", when: Array.from({ length: 110 }, (_, i) => `args.a == ${i}`).join(" || ") },
    { label: "an unterminated string", when: 'tool == "stripe' },
  ];
  it.each(notCompiling)("a condition with $label -> 400 invalid_condition naming the condition", async ({ when, mention }) => {
    const conditions = [
      { id: "fine-one", when: "args.n > 1", decision: "deny" },
      { id: "cond-broken", when, decision: "review" },
    ];
    const res = await http("POST", "/register-policy", { key: admin, body: policyDoc(undefined, { conditions }) });
    expectProblem(res, 400, "invalid_condition");
    expect(res.body.detail).toContain("cond-broken");
    expect(res.body.detail).not.toContain("fine-one");
    expect(res.body.errors).toEqual([expect.objectContaining({ condition_id: "cond-broken", path: "conditions.1.when" })]);
    if (mention) expect(res.body.detail).toContain(mention);
  });

  it("strings at their maximum length are accepted", async () => {
    const res = await http("POST", "/register-policy", {
      key: admin,
      body: policyDoc(`max-${"m".repeat(124)}`, { description: long(20_000), rules: [long(4000)], tools: ["policy_test_tool", long(200)] }),
    });
    expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
  });
});

// ---------------------------------------------------------------------------------------------
// Values PostgreSQL text or canonical JSON cannot hold
// ---------------------------------------------------------------------------------------------

describe("NUL characters, lone surrogates and non-finite numbers -> handled (2xx or 4xx), never a 5xx", () => {
  const clearance: { label: string; raw: () => string }[] = [
    { label: "NUL in tool_name", raw: () => JSON.stringify({ tool_name: "stripe\u0000refund" }) },
    { label: "NUL in agent_id", raw: () => JSON.stringify({ tool_name: "stripe_refund", agent_id: "a\u0000" }) },
    { label: "NUL in session_id", raw: () => JSON.stringify({ tool_name: "stripe_refund", session_id: "\u0000" }) },
    { label: "NUL in human_principal", raw: () => JSON.stringify({ tool_name: "stripe_refund", human_principal: "\u0000" }) },
    { label: "NUL in parent_jti", raw: () => JSON.stringify({ tool_name: "stripe_refund", parent_jti: "\u0000" }) },
    { label: "NUL in context.policy_id", raw: () => JSON.stringify({ tool_name: "stripe_refund", context: { policy_id: "p\u0000" } }) },
    { label: "NUL in a tool_args key and value", raw: () => JSON.stringify({ tool_name: "stripe_refund", tool_args: { "a\u0000": "\u0000" } }) },
    { label: "NUL in data_categories", raw: () => JSON.stringify({ tool_name: "stripe_refund", data_categories: ["\u0000"] }) },
    { label: "a lone surrogate in tool_name", raw: () => '{"tool_name":"a\\ud800"}' },
    { label: "1e400 in tool_args", raw: () => '{"tool_name":"stripe_refund","tool_args":{"amount":1e400}}' },
    { label: "-1e400 in context", raw: () => '{"tool_name":"stripe_refund","context":{"x":-1e400}}' },
  ];
  it.each(clearance)("POST /request-clearance with $label", async ({ raw }) => {
    expectHandled(await http("POST", "/request-clearance", { key: agent, rawBody: raw() }));
  });

  it("POST /reviews/:id/decision with NUL in review_reason", async () => {
    const id = await freshPending();
    expectHandled(await http("POST", `/reviews/${id}/decision`, { key: reviewer, body: { approved: false, review_reason: "no\u0000" } }));
  });

  const mint: { label: string; raw: () => string }[] = [
    { label: "NUL in session_id", raw: () => JSON.stringify({ tool_name: "stripe_refund", tool_args: { amount: 5 }, original_request_id: approved.request_id, session_id: "s\u0000" }) },
    { label: "NUL in original_request_id", raw: () => JSON.stringify({ tool_name: "stripe_refund", original_request_id: "req_\u0000" }) },
    { label: "1e400 in tool_args", raw: () => `{"tool_name":"stripe_refund","tool_args":{"amount":1e400},"original_request_id":"${approved.request_id}"}` },
  ];
  it.each(mint)("POST /mint-token with $label", async ({ raw }) => {
    expectHandled(await http("POST", "/mint-token", { key: agent, rawBody: raw() }));
  });

  it("POST /consume-token of a real token with 1e400 in tool_args", async () => {
    const token = await freshToken();
    const res = await http("POST", "/consume-token", { key: agent, rawBody: `{"token":"${token}","tool_args":{"amount":1e400}}` });
    expectHandled(res);
    expect(res.status, "arguments that cannot be the approved ones must not burn the token").not.toBe(200);
  });

  it("POST /consume-token of a real token with NUL in tool_name", async () => {
    const token = await freshToken();
    expectHandled(await http("POST", "/consume-token", { key: agent, body: { token, tool_name: "stripe\u0000refund" } }));
  });

  const policy: { label: string; body: () => Json }[] = [
    { label: "NUL in a tool", body: () => policyDoc(undefined, { tools: ["policy_test_tool\u0000"] }) },
    { label: "NUL in description", body: () => policyDoc(undefined, { description: "d\u0000" }) },
    { label: "NUL in a rule", body: () => policyDoc(undefined, { rules: ["r\u0000"] }) },
    { label: "NUL in a condition reason", body: () => policyDoc(undefined, { conditions: [{ id: "c", when: "args.n > 1", decision: "deny", reason: "\u0000" }] }) },
  ];
  it.each(policy)("POST /register-policy with $label", async ({ body }) => {
    expectHandled(await http("POST", "/register-policy", { key: admin, body: body() }));
  });
});

// ---------------------------------------------------------------------------------------------
// Authentication on the GET endpoints, scopes, public endpoints
// ---------------------------------------------------------------------------------------------

describe("GET /clearance-status authentication", () => {
  it.each(badKeys)("$label -> 401 unauthorized", async ({ key }) => {
    const k = key();
    expectProblem(
      await http("GET", `/clearance-status/${approved.request_id}`, { key: k, headers: k === "" ? { "x-vault-api-key": "" } : {} }),
      401,
      "unauthorized",
    );
  });
});

describe("scopes", () => {
  it("an agent key may not register policies -> 403 insufficient_scope", async () => {
    expectProblem(await http("POST", "/register-policy", { key: agent, body: policyDoc() }), 403, "insufficient_scope");
  });

  it("a reviewer key may not register policies -> 403 insufficient_scope", async () => {
    expectProblem(await http("POST", "/register-policy", { key: reviewer, body: policyDoc() }), 403, "insufficient_scope");
  });

  it("an agent key may not approve -> 403 insufficient_scope, and the request stays pending", async () => {
    const id = await freshPending();
    expectProblem(await http("POST", `/reviews/${id}/decision`, { key: agent, body: { approved: true } }), 403, "insufficient_scope");
    expect((await http("GET", `/clearance-status/${id}`, { key: agent })).body.status).toBe("pending_review");
  });

  it("an agent key may cancel (approved: false)", async () => {
    const id = await freshPending();
    const res = await http("POST", `/reviews/${id}/decision`, { key: agent, body: { approved: false } });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("denied");
  });

  it("a reviewer key may not request clearance -> 403 insufficient_scope", async () => {
    expectProblem(
      await http("POST", "/request-clearance", { key: reviewer, body: { tool_name: "stripe_refund", tool_args: { amount: 5 } } }),
      403,
      "insufficient_scope",
    );
  });

  it("a reviewer key may not consume -> 403 insufficient_scope, and the token is not burned", async () => {
    const token = await freshToken();
    expectProblem(await http("POST", "/consume-token", { key: reviewer, body: { token } }), 403, "insufficient_scope");
    expect((await http("POST", "/consume-token", { key: agent, body: { token } })).status).toBe(200);
  });

  it("a reviewer key may not mint -> 403 insufficient_scope", async () => {
    const body = { tool_name: "stripe_refund", tool_args: { amount: 5 }, original_request_id: approved.request_id };
    expectProblem(await http("POST", "/mint-token", { key: reviewer, body }), 403, "insufficient_scope");
  });
});

describe("public endpoints", () => {
  it.each([undefined, "csk_garbage"])("GET /.well-known/jwks.json with key %s -> 200", async (key) => {
    const res = await http("GET", "/.well-known/jwks.json", { key });
    expect(res.status).toBe(200);
    expect(res.body.keys).toEqual(expect.arrayContaining([expect.objectContaining({ kid: tokenHeader.kid, alg: "EdDSA" })]));
  });

  it.each(["/healthz", "/readyz"])("GET %s without a key -> 200", async (path) => {
    expect((await http("GET", path)).status).toBe(200);
  });
});

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

describe("POST /consume-token with bad tokens", () => {
  const invalid: { label: string; token: () => string }[] = [
    { label: "garbage", token: () => "not-a-token" },
    { label: "three empty segments", token: () => ".." },
    { label: "a.b.c", token: () => "a.b.c" },
    { label: "a header that is not JSON", token: () => `${b64u("{")}.${b64json(forgedClaims())}.c2ln` },
    { label: "16,384 characters of junk", token: () => "x".repeat(16_384) },
    { label: "alg none", token: () => `${b64json({ alg: "none", kid: tokenHeader.kid, typ: "JWT" })}.${b64json(forgedClaims())}.` },
    {
      label: "HS256 keyed with the public key (key confusion)",
      token: () => {
        const input = `${b64json({ alg: "HS256", kid: tokenHeader.kid, typ: "JWT" })}.${b64json(forgedClaims())}`;
        const x = (v.vault.ctx.keys.jwks().keys.find((k) => k.kid === tokenHeader.kid)?.x ?? "") as string;
        return `${input}.${b64u(createHmac("sha256", Buffer.from(x, "base64url")).update(input).digest())}`;
      },
    },
    {
      label: "HS256 keyed with the JWKS x string",
      token: () => {
        const input = `${b64json({ alg: "HS256", kid: tokenHeader.kid, typ: "JWT" })}.${b64json(forgedClaims())}`;
        const x = (v.vault.ctx.keys.jwks().keys.find((k) => k.kid === tokenHeader.kid)?.x ?? "") as string;
        return `${input}.${b64u(createHmac("sha256", x).update(input).digest())}`;
      },
    },
    {
      label: "EdDSA from another key under the vault's kid",
      token: () => signClaims(JSON.stringify(forgedClaims()), new LocalSigner(tokenHeader.kid, generateKeyPairSync("ed25519").privateKey)),
    },
    {
      label: "EdDSA from another key under an unknown kid",
      token: () => signClaims(JSON.stringify(forgedClaims()), new LocalSigner("attacker-key", generateKeyPairSync("ed25519").privateKey)),
    },
    { label: "a numeric kid", token: () => `${b64json({ alg: "EdDSA", kid: 5 })}.${b64json(forgedClaims())}.c2ln` },
    { label: "an object kid", token: () => `${b64json({ alg: "EdDSA", kid: { __proto__: 1 } })}.${b64json(forgedClaims())}.c2ln` },
    { label: "a real token without its signature", token: () => `${approved.token.split(".").slice(0, 2).join(".")}.` },
    {
      label: "a real token's signature on other claims",
      token: () => {
        const [h, , s] = approved.token.split(".");
        return `${h}.${b64json(forgedClaims({ tool: "wire_transfer" }))}.${s}`;
      },
    },
    { label: "the vault's key but another audience", token: () => signClaims(JSON.stringify(forgedClaims({ aud: "someone-else" })), vaultSigner()) },
    { label: "the vault's key but another issuer", token: () => signClaims(JSON.stringify(forgedClaims({ iss: "evil" })), vaultSigner()) },
    { label: "the vault's key but sub is not clearance", token: () => signClaims(JSON.stringify(forgedClaims({ sub: "admin" })), vaultSigner()) },
    { label: "the vault's key but no tool claim", token: () => signClaims(JSON.stringify(forgedClaims({ tool: undefined })), vaultSigner()) },
    { label: "the vault's key but no exp", token: () => signClaims(JSON.stringify(forgedClaims({ exp: undefined })), vaultSigner()) },
    { label: "the vault's key but a numeric jti", token: () => signClaims(JSON.stringify(forgedClaims({ jti: 7 })), vaultSigner()) },
  ];
  it.each(invalid)("$label -> 401 token_invalid", async ({ token }) => {
    expectProblem(await http("POST", "/consume-token", { key: agent, body: { token: token() } }), 401, "token_invalid");
  });

  it("a correctly signed token whose jti was never issued -> 404 token_not_found", async () => {
    const token = signClaims(JSON.stringify(forgedClaims()), vaultSigner());
    expectProblem(await http("POST", "/consume-token", { key: agent, body: { token } }), 404, "token_not_found");
  });

  it("binding mismatches -> 403 without burning; then it burns once; then 409", async () => {
    const token = await freshToken();
    expectProblem(await http("POST", "/consume-token", { key: agent, body: { token, tool_name: "wire_transfer" } }), 403, "token_binding_mismatch");
    expectProblem(
      await http("POST", "/consume-token", { key: agent, body: { token, tool_args: { amount: 6 } } }),
      403,
      "token_binding_mismatch",
    );
    expect((await http("POST", "/consume-token", { key: agent, body: { token, tool_name: "stripe_refund", tool_args: { amount: 5 } } })).status).toBe(200);
    expectProblem(await http("POST", "/consume-token", { key: agent, body: { token } }), 409, "token_already_consumed");
  });
});

// ---------------------------------------------------------------------------------------------
// Hostile ids in paths
// ---------------------------------------------------------------------------------------------

describe("GET /clearance-status/:request_id with hostile ids", () => {
  it.each([
    ["an unknown id", "req_does_not_exist"],
    ["a 256-character id", "r".repeat(256)],
    ["an encoded slash and space", "req%2F%201"],
    ["an encoded traversal", "..%2F..%2Fhealthz"],
    ["an emoji", "%F0%9F%92%A9"],
    ["SQL", encodeURIComponent("' OR '1'='1'; DROP TABLE clearance_requests; --")],
    ["a query string", "req_does_not_exist?x=1&x=2"],
  ])("%s -> 404 request_not_found", async (_label, id) => {
    expectProblem(await http("GET", `/clearance-status/${id}`, { key: agent }), 404, "request_not_found");
  });

  it.each([
    ["a 257-character id", "r".repeat(257)],
    ["a 300-character id", "r".repeat(300)],
  ])("%s -> 400 validation_failed", async (_label, id) => {
    expectProblem(await http("GET", `/clearance-status/${id}`, { key: agent }), 400, "validation_failed");
  });

  it.each([
    ["a 301-character id (over the router's param limit)", "r".repeat(301)],
    ["a 5,000-character id", "r".repeat(5000)],
    ["an encoded NUL", "req%00x"],
    ["a broken percent-encoding", "%E0%A4%A"],
    ["a lone percent sign", "req%"],
    ["an encoded lone surrogate", "%ED%A0%80"],
  ])("%s -> a 4xx problem", async (_label, id) => {
    expectClientProblem(await http("GET", `/clearance-status/${id}`, { key: agent }));
  });

  it("encoded dots (sent raw: fetch would resolve them away) -> 404 request_not_found", async () => {
    const res = await rawHttp("GET /clearance-status/%2e%2e", rawRequest("GET", "/clearance-status/%2e%2e", { "X-Vault-API-Key": agent }));
    expectProblem(res, 404, "request_not_found");
  });

  it("the missing id -> 404", async () => {
    expectProblem(await http("GET", "/clearance-status/", { key: agent }), 404);
  });
});

describe("POST /reviews/:request_id/decision with hostile ids", () => {
  it("an unknown id -> 404 request_not_found", async () => {
    expectProblem(await http("POST", "/reviews/req_does_not_exist/decision", { key: reviewer, body: { approved: true } }), 404, "request_not_found");
  });

  it("an unknown id with an agent key cancelling -> 404 request_not_found", async () => {
    expectProblem(await http("POST", "/reviews/req_does_not_exist/decision", { key: agent, body: { approved: false } }), 404, "request_not_found");
  });

  it("a 257-character id -> 400 validation_failed", async () => {
    expectProblem(await http("POST", `/reviews/${"r".repeat(257)}/decision`, { key: reviewer, body: { approved: true } }), 400, "validation_failed");
  });

  it.each([
    ["an encoded NUL", "req%00x"],
    ["a broken percent-encoding", "%E0%A4%A"],
    ["a 301-character id", "r".repeat(301)],
  ])("%s -> a 4xx problem", async (_label, id) => {
    expectClientProblem(await http("POST", `/reviews/${id}/decision`, { key: reviewer, body: { approved: false } }));
  });

  it("an already decided request -> 409 request_not_pending", async () => {
    const id = await freshPending();
    expect((await http("POST", `/reviews/${id}/decision`, { key: reviewer, body: { approved: false } })).status).toBe(200);
    expectProblem(await http("POST", `/reviews/${id}/decision`, { key: reviewer, body: { approved: true } }), 409, "request_not_pending");
  });
});

// ---------------------------------------------------------------------------------------------
// Routing
// ---------------------------------------------------------------------------------------------

describe("routing", () => {
  it.each([
    ["GET", "/nope", undefined],
    ["POST", "/nope", { a: 1 }],
    ["GET", "/", undefined],
    ["GET", "/REQUEST-CLEARANCE", undefined],
    ["GET", "/.well-known/", undefined],
    ["GET", "/reviews/x", undefined],
    ["GET", "/reviews/x/decision/extra", undefined],
  ] as const)("%s %s -> 404 not_found", async (method, path, body) => {
    expectProblem(await http(method, path, { key: agent, body }), 404, "not_found");
  });

  it.each([
    ["GET", "/request-clearance", undefined],
    ["GET", "/consume-token", undefined],
    ["GET", "/reviews/x/decision", undefined],
    ["PUT", "/request-clearance", { tool_name: "stripe_refund" }],
    ["PATCH", "/register-policy", { policy_id: "x" }],
    ["POST", "/clearance-status/x", { a: 1 }],
    ["POST", "/healthz", { a: 1 }],
    ["DELETE", "/request-clearance", undefined],
    ["DELETE", "/clearance-status/x", undefined],
  ] as const)("wrong method %s %s -> 404 or 405 problem", async (method, path, body) => {
    const res = await http(method, path, { key: agent, body });
    expectClientProblem(res, [404, 405]);
  });

  it.each(["//request-clearance", "///request-clearance", "/request-clearance/"])("POST %s is routed like /request-clearance", async (path) => {
    const res = await http("POST", path, { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 5 } } });
    expect(res.status, JSON.stringify(res.body).slice(0, 200)).toBe(200);
    expect(res.body.status).toBe("approved");
  });

  it("GET //clearance-status/:id is routed", async () => {
    const res = await http("GET", `//clearance-status/${approved.request_id}`, { key: agent });
    expect(res.status).toBe(200);
    expect(res.body.request_id).toBe(approved.request_id);
  });

  it("POST //register-policy and //consume-token are routed", async () => {
    expect((await http("POST", "//register-policy", { key: admin, body: policyDoc() })).status).toBe(200);
    expect((await http("POST", "//consume-token", { key: agent, body: { token: await freshToken() } })).status).toBe(200);
  });

  it("GET //healthz and //.well-known/jwks.json are routed", async () => {
    expect((await http("GET", "//healthz")).status).toBe(200);
    expect((await http("GET", "//.well-known/jwks.json")).status).toBe(200);
  });
});

// ---------------------------------------------------------------------------------------------
// Idempotency-Key
// ---------------------------------------------------------------------------------------------

describe("Idempotency-Key", () => {
  const idemEndpoints: { name: string; path: string; key: () => string; first: () => Json; second: () => Json }[] = [
    {
      name: "/request-clearance",
      path: "/request-clearance",
      key: () => agent,
      first: () => ({ tool_name: "stripe_refund", tool_args: { amount: 5 } }),
      second: () => ({ tool_name: "stripe_refund", tool_args: { amount: 6 } }),
    },
    {
      name: "/register-policy",
      path: "/register-policy",
      key: () => admin,
      first: () => policyDoc("idem-policy"),
      second: () => policyDoc("idem-policy", { description: "changed" }),
    },
    {
      name: "/mint-token",
      path: "/mint-token",
      key: () => agent,
      first: () => ({ tool_name: "stripe_refund", tool_args: { amount: 5 }, original_request_id: approved.request_id, session_id: "s1" }),
      second: () => ({ tool_name: "stripe_refund", tool_args: { amount: 5 }, original_request_id: approved.request_id, session_id: "s2" }),
    },
  ];

  it.each(idemEndpoints)("$name: same key and body replays; a different body -> 422 idempotency_key_reused", async (ep) => {
    const idem = `idem-${randomUUID()}`;
    const a = await http("POST", ep.path, { key: ep.key(), body: ep.first(), headers: { "idempotency-key": idem } });
    expect(a.status, JSON.stringify(a.body).slice(0, 300)).toBe(200);
    const b = await http("POST", ep.path, { key: ep.key(), body: ep.first(), headers: { "idempotency-key": idem } });
    expect(b.status).toBe(200);
    expect(b.body).toEqual(a.body);
    expectProblem(
      await http("POST", ep.path, { key: ep.key(), body: ep.second(), headers: { "idempotency-key": idem } }),
      422,
      "idempotency_key_reused",
    );
  });

  const badIdem: [string, string][] = [
    ["300 characters", "k".repeat(300)],
    ["256 characters", "k".repeat(256)],
    ["an empty value", ""],
    ["a tab", "a\tb"],
    ["a space", "a b"],
    ["a Latin-1 character", "caf\u00e9"],
  ];
  describe.each(idemEndpoints)("$name", (ep) => {
    it.each(badIdem)("an Idempotency-Key with %s -> 400 bad_request", async (_label, idem) => {
      const body = ep === idemEndpoints[1] ? policyDoc() : ep.first();
      expectProblem(await http("POST", ep.path, { key: ep.key(), body, headers: { "idempotency-key": idem } }), 400, "bad_request");
    });

    it("a 255-character Idempotency-Key is accepted", async () => {
      const body = ep === idemEndpoints[1] ? policyDoc() : ep.first();
      const res = await http("POST", ep.path, { key: ep.key(), body, headers: { "idempotency-key": `${randomUUID()}${"k".repeat(219)}` } });
      expect(res.status, JSON.stringify(res.body).slice(0, 300)).toBe(200);
    });
  });

  it.each([
    ["\\x01", "a\u0001b"],
    ["ESC", "a\u001bb"],
    ["DEL", "a\u007fb"],
  ])("an Idempotency-Key with the control character %s -> 400 problem+json", async (_label, idem) => {
    const body = JSON.stringify({ tool_name: "stripe_refund", tool_args: { amount: 5 } });
    const res = await rawHttp(
      `POST /request-clearance (Idempotency-Key with control character)`,
      rawRequest(
        "POST",
        "/request-clearance",
        { "Content-Type": "application/json", "X-Vault-API-Key": agent, "Idempotency-Key": idem, "Content-Length": String(Buffer.byteLength(body)) },
        body,
      ),
    );
    expectProblem(res, 400);
  });

  it("the same Idempotency-Key in another tenant is independent", async () => {
    const idem = `idem-${randomUUID()}`;
    const a = await http("POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 5 } }, headers: { "idempotency-key": idem } });
    expect(a.status).toBe(200);
    const b = await http("POST", "/request-clearance", { key: otherAdmin, body: { tool_name: "other_tool" }, headers: { "idempotency-key": idem } });
    expect(b.status).toBe(200);
    expect(b.body.request_id).not.toBe(a.body.request_id);
  });
});

// ---------------------------------------------------------------------------------------------
// Requests the HTTP parser itself refuses
// ---------------------------------------------------------------------------------------------

describe("requests refused before routing are still problem+json", () => {
  it("a header section over the server's limit (20 KiB API key) -> 4xx problem", async () => {
    const res = await http("GET", "/clearance-status/req_x", { key: "k".repeat(20_000) });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.status).toBeLessThan(500);
    expect(res.headers.get("content-type") ?? "").toMatch(/^application\/problem\+json/);
    expect(res.body).toMatchObject({ status: res.status, code: expect.any(String), title: expect.any(String), detail: expect.any(String) });
  });

  it("a non-numeric Content-Length -> 400 problem", async () => {
    const res = await rawHttp(
      "POST /request-clearance (bad content-length)",
      rawRequest("POST", "/request-clearance", { "Content-Type": "application/json", "X-Vault-API-Key": agent, "Content-Length": "abc" }, "{}"),
    );
    expectProblem(res, 400);
  });
});

// ---------------------------------------------------------------------------------------------
// Tenancy
// ---------------------------------------------------------------------------------------------

describe("a key never reaches another tenant's data", () => {
  it("another tenant cannot read the request -> 404 request_not_found", async () => {
    expectProblem(await http("GET", `/clearance-status/${approved.request_id}`, { key: otherAdmin }), 404, "request_not_found");
    expectProblem(await http("GET", `/clearance-status/${pendingId}`, { key: otherAdmin }), 404, "request_not_found");
  });

  it("another tenant cannot cancel or approve the request -> 404, and it stays pending", async () => {
    expectProblem(await http("POST", `/reviews/${pendingId}/decision`, { key: otherAdmin, body: { approved: false } }), 404, "request_not_found");
    expectProblem(await http("POST", `/reviews/${pendingId}/decision`, { key: otherAdmin, body: { approved: true } }), 404, "request_not_found");
    const res = await http("GET", `/clearance-status/${pendingId}`, { key: agent });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("pending_review");
  });

  it("another tenant cannot mint from the approval -> 404 request_not_found", async () => {
    const body = { tool_name: "stripe_refund", tool_args: { amount: 5 }, original_request_id: approved.request_id };
    expectProblem(await http("POST", "/mint-token", { key: otherAdmin, body }), 404, "request_not_found");
  });

  it("another tenant cannot consume the token -> 403 tenant_mismatch, and it stays unburned", async () => {
    const token = await freshToken();
    expectProblem(await http("POST", "/consume-token", { key: otherAdmin, body: { token } }), 403, "tenant_mismatch");
    expect((await http("POST", "/consume-token", { key: agent, body: { token } })).status).toBe(200);
  });

  it("the owner still reads its request", async () => {
    const res = await http("GET", `/clearance-status/${approved.request_id}`, { key: agent });
    expect(res.status).toBe(200);
    expect(res.body.status).toBe("approved");
  });
});

// ---------------------------------------------------------------------------------------------
// After everything
// ---------------------------------------------------------------------------------------------

describe("after the whole suite", () => {
  it("the vault still answers GET /healthz and /readyz", async () => {
    expect((await http("GET", "/healthz")).status).toBe(200);
    expect((await http("GET", "/readyz")).status).toBe(200);
  });

  it("no response in the suite was a 5xx", () => {
    expect(seen.length).toBeGreaterThan(300);
    const fiveHundreds = seen.filter((s) => s.status >= 500 || s.status === 0);
    expect(fiveHundreds, fiveHundreds.map((s) => `${s.status} ${s.label}`).join("\n")).toEqual([]);
  });
});
