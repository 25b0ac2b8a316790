import { createServer, type IncomingMessage, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { headerReader } from "../../src/protocols/http-signatures/signature-base.js";
import { verifySigilumRequest } from "../../src/protocols/http-signatures/sigilum-verify.js";
import { AgentSigner, BadRequestError, Countersign, CountersignError, createAgentIdentity, type AgentIdentity } from "../../src/sdk/index.js";

/**
 * The SDK agent signer: sign → verify round trips, and `signer.fetch` against a real HTTP server that
 * checks what arrived on the wire with the vault's verifier (the bytes, the URL and the headers it saw).
 */
const NOW_MS = 1_800_000_000_000;
const identity = createAgentIdentity({ namespace: "  Acme-Agents ", issuedAt: "2026-01-01T00:00:00Z" });
const signer = new AgentSigner(identity, { subject: "agent-7", now: () => NOW_MS });
const verifyAt = (method: string, url: string, headers: Record<string, string>, body: Uint8Array | null) =>
  verifySigilumRequest({ method, targetUri: url, header: headerReader(headers), body, nowSeconds: NOW_MS / 1000 + 1 });

describe("createAgentIdentity", () => {
  it("normalises the namespace like the Sigilum SDK and gives a self-consistent identity", () => {
    expect(identity.certificate.namespace).toBe("acme-agents");
    expect(identity.publicKey).toBe(identity.certificate.publicKey);
    expect(identity.publicKey).toMatch(/^ed25519:[A-Za-z0-9+/]{43}=$/);
    expect(identity.seed).toHaveLength(32);
    expect(createAgentIdentity({ namespace: "acme" }).publicKey).not.toBe(createAgentIdentity({ namespace: "acme" }).publicKey);
  });

  it("gives the same key back from the same seed", () => {
    const again = createAgentIdentity({ namespace: "acme-agents", seed: identity.seed });
    expect(again.publicKey).toBe(identity.publicKey);
    expect(again.certificate.keyId).toBe(identity.certificate.keyId);
  });

  it.each([["a"], ["-acme"], ["acme-"], ["ac me"], ["ç-namespace"], ["x".repeat(65)]])("refuses namespace %j", (namespace) => {
    expect(() => createAgentIdentity({ namespace })).toThrow(CountersignError);
  });

  it("refuses a seed of the wrong length, and a signer whose seed is not the certificate's key", () => {
    expect(() => createAgentIdentity({ namespace: "acme", seed: new Uint8Array(31) })).toThrow(/seed must be 32 bytes/);
    const other = createAgentIdentity({ namespace: "acme-agents" });
    const mixed: AgentIdentity = { ...identity, seed: other.seed };
    expect(() => new AgentSigner(mixed)).toThrow(/not its certificate's key/);
    expect(() => new AgentSigner(identity, { subject: "a\nb" })).toThrow(CountersignError);
  });
});

describe("AgentSigner.sign", () => {
  it("GET without a body: no content-digest, verifies with the subject", () => {
    const url = "https://vault.example/v1/verify?namespace=acme-agents&service=crm";
    const headers = signer.sign("GET", url);
    expect(headers["content-digest"]).toBeUndefined();
    expect(verifyAt("GET", url, headers, null)).toMatchObject({ ok: true, namespace: "acme-agents", subject: "agent-7", publicKey: identity.publicKey, created: NOW_MS / 1000 });
    expect(verifyAt("GET", url.replace("crm", "billing"), headers, null)).toMatchObject({ ok: false, code: "SIGNATURE_INVALID" });
  });

  it("POST with a body (string or bytes): digest sent, each signature has its own nonce", () => {
    const url = new URL("https://vault.example/request-clearance");
    const body = JSON.stringify({ tool: "refund", args: { amount: "12 €" } });
    const a = signer.sign("POST", url, body);
    const b = signer.sign("POST", url, new TextEncoder().encode(body));
    expect(a["content-digest"]).toBe(b["content-digest"]);
    expect(a["signature-input"]).not.toBe(b["signature-input"]);
    for (const headers of [a, b]) expect(verifyAt("POST", url.href, headers, new TextEncoder().encode(body)).ok).toBe(true);
    expect(verifyAt("POST", url.href, a, new TextEncoder().encode(body + " ")).ok).toBe(false);
  });

  it("refuses a relative URL as invalid_input", () => {
    expect(() => signer.sign("GET", "/relative")).toThrow(BadRequestError);
  });
});

describe("AgentSigner.fetch against an HTTP server", () => {
  let server: Server;
  let origin = "";
  const seen: { method: string; url: string; verification: unknown }[] = [];

  beforeAll(async () => {
    server = createServer(async (req: IncomingMessage, res) => {
      const chunks: Buffer[] = [];
      for await (const chunk of req) chunks.push(chunk as Buffer);
      const body = Buffer.concat(chunks);
      // The URL as the server sees it: its own origin plus the raw path and query of the request line.
      const verification = verifySigilumRequest({
        method: req.method ?? "",
        targetUri: `${origin}${req.url ?? ""}`,
        header: headerReader(req.headers),
        body: body.length > 0 ? new Uint8Array(body) : null,
        nowSeconds: Math.floor(Date.now() / 1000),
      });
      seen.push({ method: req.method ?? "", url: req.url ?? "", verification });
      if (req.url === "/redirect") {
        res.writeHead(307, { location: "/elsewhere" }).end();
        return;
      }
      res.writeHead(verification.ok ? 200 : 401, { "content-type": "application/json" }).end(JSON.stringify(verification));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const live = new AgentSigner(identity, { subject: "agent-7" });

  it("signs a GET and a POST that the server verifies, keeping the caller's headers", async () => {
    const get = await live.fetch(`${origin}/v1/verify?namespace=acme-agents&x=%20y`, { headers: { accept: "application/json" } });
    expect(get.status).toBe(200);
    expect(await get.json()).toMatchObject({ ok: true, namespace: "acme-agents", subject: "agent-7" });
    const post = await live.fetch(new URL(`${origin}/request-clearance`), { method: "POST", headers: { "content-type": "application/json" }, body: '{"tool":"refund"}' });
    expect(await post.json()).toMatchObject({ ok: true, publicKey: identity.publicKey });
    const bytes = await live.fetch(`${origin}/bytes`, { method: "PUT", body: new Uint8Array([0, 1, 2, 255]) });
    expect(bytes.status).toBe(200);
  });

  it("works as the Countersign client's fetch (the client's own requests arrive signed)", async () => {
    const client = new Countersign({ baseUrl: origin, apiKey: "k", fetch: live.fetch, timeoutMs: 5_000 });
    await client.requestClearance({ tool: "refund", args: { amount: 1 }, agentId: "agent-7" }).catch(() => undefined);
    expect(seen.at(-1)).toMatchObject({ method: "POST", url: "/request-clearance", verification: { ok: true, subject: "agent-7" } });
  });

  it("does not follow a redirect (the signature is bound to this URL), and refuses bodies it cannot sign", async () => {
    const count = seen.length;
    const res = await live.fetch(`${origin}/redirect`);
    expect(res.status).toBe(307);
    expect(seen.length).toBe(count + 1);
    await expect(live.fetch(`${origin}/x`, { method: "POST", body: new URLSearchParams({ a: "1" }) })).rejects.toThrow(BadRequestError);
    await expect(live.fetch(new Request(`${origin}/x`))).rejects.toThrow(BadRequestError);
  });
});
