import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import {
  ApprovalNotReusableError,
  AuthenticationError,
  BadRequestError,
  Countersign,
  RateLimitedError,
  TokenVerificationError,
  VaultUnavailableError,
} from "../../src/sdk/index.js";
import { freePort } from "../helpers/vault.js";

/**
 * Typed errors when the vault is down or misbehaves, against real sockets: a closed port, a 500, a
 * server that never answers, a redirect, a 2xx that is not JSON, and problem+json 4xx answers. And
 * the JWKS cache against a real JWKS server: rotation (a new kid is fetched once), the refetch
 * cooldown for unknown kids, and fail-closed verification when the JWKS cannot be fetched.
 */
type Handler = (req: IncomingMessage, res: ServerResponse) => void;

let handler: Handler = (_req, res) => res.end();
let server: Server;
let base: string;
let requests: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
});
afterEach(() => {
  requests = [];
});

const problem = (res: ServerResponse, status: number, code: string, headers: Record<string, string> = {}) => {
  res.writeHead(status, { "content-type": "application/problem+json", ...headers });
  res.end(JSON.stringify({ type: `urn:countersign:error:${code}`, title: code, status, detail: `detail of ${code}`, code }));
};
const clearance = { tool: "t", args: { a: 1 }, agentId: "x" };

describe("SDK errors when the vault is down or misbehaves", () => {
  it("a closed port is VaultUnavailableError (vault_unavailable), for every call", async () => {
    const cs = new Countersign({ baseUrl: `http://127.0.0.1:${await freePort()}`, apiKey: "k", timeoutMs: 5_000 });
    await expect(cs.requestClearance(clearance)).rejects.toBeInstanceOf(VaultUnavailableError);
    await expect(cs.requestClearance(clearance)).rejects.toMatchObject({ code: "vault_unavailable" });
    await expect(cs.consume("a.b.c")).rejects.toBeInstanceOf(VaultUnavailableError);
    await expect(cs.clearanceStatus("r", { waitSeconds: 2 })).rejects.toBeInstanceOf(VaultUnavailableError);
    await expect(cs.reportExecution("j", { status: 200, durationMs: 1 })).rejects.toBeInstanceOf(VaultUnavailableError);
    // Offline verification needs the keys: without them it fails closed, as jwks_unavailable.
    await expect(cs.verifyToken("eyJhbGciOiJFZERTQSIsImtpZCI6ImsifQ.e30.c2ln")).rejects.toMatchObject({ name: "TokenVerificationError", code: "jwks_unavailable" });
  });

  it("a 500 or 503 is VaultUnavailableError with the status and the problem code", async () => {
    handler = (_req, res) => problem(res, 500, "internal_error");
    const cs = new Countersign({ baseUrl: base, apiKey: "k" });
    await expect(cs.requestClearance(clearance)).rejects.toMatchObject({ name: "VaultUnavailableError", status: 500, code: "internal_error" });
    handler = (_req, res) => problem(res, 503, "signer_unavailable", { "retry-after": "1" });
    await expect(cs.consume("t")).rejects.toMatchObject({ name: "VaultUnavailableError", status: 503, code: "signer_unavailable" });
    handler = (_req, res) => {
      res.writeHead(502);
      res.end("Bad Gateway");
    };
    await expect(cs.requestClearance(clearance)).rejects.toMatchObject({ name: "VaultUnavailableError", status: 502, code: "http_502" });
  });

  it("a vault that never answers is VaultUnavailableError after timeoutMs; a long poll gets its wait on top", async () => {
    handler = () => undefined; // holds the request open
    const cs = new Countersign({ baseUrl: base, apiKey: "k", timeoutMs: 300 });
    await expect(cs.requestClearance(clearance)).rejects.toMatchObject({ name: "VaultUnavailableError", code: "vault_unavailable", message: expect.stringContaining("timed out after 300 ms") });
    await expect(cs.clearanceStatus("r", { waitSeconds: 1 })).rejects.toMatchObject({ message: expect.stringContaining("timed out after 1300 ms") });
    expect(requests).toContain("GET /clearance-status/r?wait=1");
    // The caller's own signal wins over the timeout and is not dressed up as an outage.
    const controller = new AbortController();
    const pending = cs.requestClearance(clearance, { signal: controller.signal });
    controller.abort(new Error("caller gave up"));
    await expect(pending).rejects.toThrow("caller gave up");
  });

  it("a redirect is not followed (the API key would go with it), and a 2xx without JSON is refused", async () => {
    handler = (_req, res) => {
      res.writeHead(307, { location: "http://127.0.0.1:1/elsewhere" });
      res.end();
    };
    const cs = new Countersign({ baseUrl: base, apiKey: "k" });
    await expect(cs.requestClearance(clearance)).rejects.toMatchObject({ name: "VaultUnavailableError", code: "vault_redirect", status: 307 });
    expect(requests).toEqual(["POST /request-clearance"]);
    handler = (_req, res) => {
      res.writeHead(200, { "content-type": "text/html" });
      res.end("<html>proxy login</html>");
    };
    await expect(cs.requestClearance(clearance)).rejects.toMatchObject({ name: "VaultUnavailableError", code: "invalid_response", status: 200 });
    // JSON, but not a clearance: never read as one.
    handler = (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ approved: true, token: "x" }));
    };
    await expect(cs.requestClearance(clearance)).rejects.toMatchObject({ name: "VaultUnavailableError", code: "invalid_response" });
  });

  it("4xx problem+json answers keep their code, in the most specific class", async () => {
    const cs = new Countersign({ baseUrl: `${base}/`, apiKey: "k" });
    handler = (_req, res) => problem(res, 400, "validation_failed");
    await expect(cs.requestClearance(clearance)).rejects.toMatchObject({ name: "BadRequestError", code: "validation_failed", status: 400, problem: { detail: "detail of validation_failed" } });
    expect(requests.at(-1)).toBe("POST /request-clearance"); // a trailing slash in baseUrl is not doubled
    handler = (_req, res) => problem(res, 401, "unauthorized");
    await expect(cs.requestClearance(clearance)).rejects.toBeInstanceOf(AuthenticationError);
    handler = (_req, res) => problem(res, 429, "queue_saturated", { "retry-after": "2.5" });
    const saturated = cs.requestClearance(clearance);
    await expect(saturated).rejects.toBeInstanceOf(RateLimitedError);
    await expect(saturated).rejects.toMatchObject({ retryAfterSeconds: 2.5 });
    handler = (_req, res) => problem(res, 409, "approval_not_reusable");
    const original = { requestId: "r1", raw: { policy_version_id: "pv" } } as never;
    await expect(cs.mintToken(original, { tool: "t", agentId: "x" })).rejects.toBeInstanceOf(ApprovalNotReusableError);
    handler = (_req, res) => problem(res, 401, "token_expired");
    await expect(cs.consume("t")).rejects.toMatchObject({ name: "TokenVerificationError", code: "expired" });
    handler = (_req, res) => problem(res, 413, "args_too_large");
    await expect(cs.requestClearance(clearance)).rejects.toBeInstanceOf(BadRequestError);
  });

  it("sends the args exactly as given, the key header and an Idempotency-Key, and no key rewriting anywhere", async () => {
    let seen: { headers: IncomingMessage["headers"]; body: string } | undefined;
    handler = (req, res) => {
      let body = "";
      req.on("data", (c) => (body += c));
      req.on("end", () => {
        seen = { headers: req.headers, body };
        res.writeHead(200, { "content-type": "application/json" });
        res.end(JSON.stringify({ request_id: "r", status: "denied", decision_status: "denied", reason: "no", reason_code: "x" }));
      });
    };
    const cs = new Countersign({ baseUrl: base, apiKey: "key-1" });
    const args = { amountCents: 100, nested: { innerKey: [{ deepKey: 1 }] } };
    const c = await cs.requestClearance({ tool: "t", args, agentId: "a", context: { policyId: "p" }, idempotencyKey: "idem-1" });
    expect(c).toMatchObject({ requestId: "r", status: "denied", reasonCode: "x" });
    expect(JSON.parse(seen!.body)).toEqual({ tool_name: "t", tool_args: args, agent_id: "a", context: { policyId: "p" } });
    expect(seen!.headers).toMatchObject({ "x-vault-api-key": "key-1", "idempotency-key": "idem-1" });
  });
});

describe("SDK JWKS cache", () => {
  const sign = async (key: Parameters<SignJWT["sign"]>[0], kid: string, claims: Record<string, unknown> = {}) =>
    new SignJWT({ tool: "t", tool_args_hash: "h", request_id: "r", tenant_id: "tn", ...claims })
      .setProtectedHeader({ alg: "EdDSA", kid })
      .setIssuer("alcv-vault")
      .setAudience("ledgix-sdk")
      .setSubject("clearance")
      .setJti(crypto.randomUUID())
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(key);

  it("fetches once, refetches once for a new kid (rotation), and rate-limits refetches for unknown kids", async () => {
    const one = await generateKeyPair("EdDSA", { extractable: true });
    const two = await generateKeyPair("EdDSA", { extractable: true });
    const forged = await generateKeyPair("EdDSA", { extractable: true });
    let published = [{ ...(await exportJWK(one.publicKey)), kid: "vault.t_1" }];
    handler = (req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      res.end(JSON.stringify({ keys: published }));
    };
    // The verifier's clock: real time plus `skipped` ms, so the test can move past cooldowns and cache ages.
    let skipped = 0;
    const verifier = new Countersign({ baseUrl: base, apiKey: "k", now: () => Date.now() + skipped });
    expect((await verifier.verifyToken(await sign(one.privateKey, "vault.t_1"))).kid).toBe("vault.t_1");
    expect((await verifier.verifyToken(await sign(one.privateKey, "vault.t_1"))).kid).toBe("vault.t_1");
    expect(requests.filter((r) => r.includes("jwks"))).toHaveLength(1);
    // Rotation: a new key is published; its first token makes the cache fetch again, once.
    published = [...published, { ...(await exportJWK(two.publicKey)), kid: "vault-2.t_1" }];
    expect((await verifier.verifyToken(await sign(two.privateKey, "vault-2.t_1"))).kid).toBe("vault-2.t_1");
    expect(requests.filter((r) => r.includes("jwks"))).toHaveLength(2);
    // Unknown kids: refused, and a flood of them does not hammer the vault (one refetch per cooldown).
    for (let i = 0; i < 5; i++) {
      await expect(verifier.verifyToken(await sign(forged.privateKey, `nope-${i}`))).rejects.toMatchObject({ code: "unknown_kid" });
    }
    expect(requests.filter((r) => r.includes("jwks"))).toHaveLength(2);
    skipped += 11_000;
    await expect(verifier.verifyToken(await sign(forged.privateKey, "nope-late"))).rejects.toBeInstanceOf(TokenVerificationError);
    expect(requests.filter((r) => r.includes("jwks"))).toHaveLength(3);
    // A forged token under a known kid fails the signature.
    await expect(verifier.verifyToken(await sign(forged.privateKey, "vault.t_1"))).rejects.toMatchObject({ code: "invalid_signature" });
    // Past the cache age, the set is fetched again; a key no longer published is no longer trusted.
    published = [{ ...(await exportJWK(two.publicKey)), kid: "vault-2.t_1" }];
    skipped += 301_000;
    await expect(verifier.verifyToken(await sign(one.privateKey, "vault.t_1"))).rejects.toMatchObject({ code: "unknown_kid" });
    // And when the JWKS cannot be fetched once stale, verification fails closed.
    handler = (_req, res) => problem(res, 503, "not_ready");
    skipped += 301_000;
    await expect(verifier.verifyToken(await sign(two.privateKey, "vault-2.t_1"))).rejects.toMatchObject({ code: "jwks_unavailable" });
  });

  it("pins EdDSA and the issuer and audience", async () => {
    const key = await generateKeyPair("EdDSA", { extractable: true });
    handler = (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      void exportJWK(key.publicKey).then((jwk) => res.end(JSON.stringify({ keys: [{ ...jwk, kid: "k1" }] })));
    };
    const verifier = new Countersign({ baseUrl: base, apiKey: "k", issuer: "my-vault" });
    await expect(verifier.verifyToken(await sign(key.privateKey, "k1"))).rejects.toMatchObject({ code: "invalid_claims" });
    const none = `${Buffer.from(JSON.stringify({ alg: "none", kid: "k1" })).toString("base64url")}.${Buffer.from("{}").toString("base64url")}.`;
    await expect(verifier.verifyToken(none)).rejects.toMatchObject({ code: "invalid_signature" });
  });
});
