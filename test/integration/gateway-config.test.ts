import { spawn } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import fc from "fast-check";
import pino from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/config-error.js";
import { gatewayConfigFrom, loadGatewayConfig, parseGatewayFile } from "../../src/config/gateway-config.js";
import { SdkVault } from "../../src/gateway/token/sdk-vault.js";
import { argsHash as sdkArgsHash } from "../../src/sdk/index.js";
import { buildTokenGateway } from "../../src/gateway/token/server.js";
import { checkUpstream, UpstreamForbiddenError } from "../../src/gateway/token/upstream.js";
import { gatewayConfigOf, startTestGateway, startTestUpstream, type TestUpstream } from "../helpers/gateway.js";
import { call, freePort, newKey, newPgliteDir, startTestVault } from "../helpers/vault.js";

const base = {
  vault: { url: "http://127.0.0.1:9", api_key_env: "GW_KEY" },
  upstreams: { svc: { url: "http://127.0.0.1:9", allow_private: true } },
  routes: [{ method: "POST", path: "/things/:id", upstream: "svc", tool: "make_thing", args: { body: true, params: ["id"] } }],
};
const parse = (file: unknown) => parseGatewayFile(JSON.stringify(file));
const refusal = (file: unknown) => {
  try {
    parse(file);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error("the routes file was accepted");
};

describe("the gateway's routes file", () => {
  it("parses YAML and JSON alike, with defaults", () => {
    const fromJson = parse(base);
    const fromYaml = parseGatewayFile(
      "vault: { url: 'http://127.0.0.1:9', api_key_env: GW_KEY }\nupstreams:\n  svc: { url: 'http://127.0.0.1:9', allow_private: true }\nroutes:\n  - { method: post, path: '/things/:id', upstream: svc, tool: make_thing, args: { body: true, params: [id] } }\n",
    );
    expect(fromYaml).toEqual(fromJson);
    expect(fromJson).toMatchObject({
      vault: { issuer: "alcv-vault", audience: "ledgix-sdk", timeout_ms: 5000 },
      listen: { host: "127.0.0.1", port: 8080 },
      upstreams: { svc: { allow_private: true, timeout_ms: 30000 } },
      pass_through: [],
      max_body_bytes: 1048576,
    });
    expect(fromJson.routes[0]!.method).toBe("POST");
  });

  it("refuses unknown fields, at the top and nested", () => {
    expect(refusal({ ...base, rotues: [] })).toMatch(/rotues/);
    expect(refusal({ ...base, routes: [{ ...base.routes[0], tol: "x" }] })).toMatch(/tol/);
    expect(refusal({ ...base, vault: { ...base.vault, api_key: "csk_secret" } })).toMatch(/api_key/);
    expect(refusal({ ...base, routes: [{ ...base.routes[0], args: { body: true, querry: ["a"] } }] })).toMatch(/querry/);
  });

  it("refuses what would weaken the gateway: forwarding credentials, shadowed endpoints, ambiguous routes", () => {
    expect(refusal({ ...base, headers: { request: ["Authorization"] } })).toMatch(/never forwarded/);
    expect(refusal({ ...base, headers: { request: ["x-countersign-token"] } })).toMatch(/never forwarded/);
    expect(refusal({ ...base, headers: { response: ["set-cookie"] } })).toMatch(/never forwarded/);
    // Headers that would make the upstream act on another method or path than the one bound, or let
    // the client speak for the gateway about where the request came from.
    for (const h of ["X-HTTP-Method-Override", "x-method-override", "x-original-url", "x-rewrite-url", "x-forwarded-for", "forwarded", "x-real-ip"]) {
      expect(refusal({ ...base, headers: { request: ["accept", h] } }), h).toMatch(/never forwarded/);
    }
    expect(refusal({ ...base, routes: [{ ...base.routes[0], upstream_path: "/v1/../admin/:id" }] })).toMatch(/\. or \.\. segments/);
    expect(refusal({ ...base, routes: [{ ...base.routes[0], path: "/metrics" }] })).toMatch(/gateway's own endpoint/);
    expect(refusal({ ...base, routes: [base.routes[0], { ...base.routes[0], path: "/things/:other" }] })).toMatch(/listed twice/);
    expect(refusal({ ...base, routes: [{ ...base.routes[0], upstream: "nope" }] })).toMatch(/no upstream named nope/);
    expect(refusal({ ...base, routes: [{ ...base.routes[0], method: "GET" }] })).toMatch(/GET or HEAD route cannot take arguments from the body/);
    expect(refusal({ ...base, routes: [{ ...base.routes[0], path: "/things/*" }] })).toMatch(/static segments and :name parameters/);
    expect(refusal({ ...base, routes: [] })).toMatch(/routes/);
    expect(refusal({ ...base, upstreams: { svc: { url: "http://127.0.0.1:9", timeout_ms: 200_000 } } })).toMatch(/socket_idle_timeout_ms: must exceed the longest upstream time limit \(200000 ms\)/);
    expect(() => parseGatewayFile("vault: [unclosed")).toThrow(ConfigError);
  });

  it("takes the API key from the variable the file names, never from the file", () => {
    const file = parse(base);
    expect(() => gatewayConfigFrom(file, {})).toThrow(/GW_KEY/);
    const config = gatewayConfigFrom(file, { GW_KEY: "csk_from_env" }, { port: 0 });
    expect(config.apiKey).toBe("csk_from_env");
    expect(config.file.listen).toEqual({ host: "127.0.0.1", port: 0 });
    expect(() => gatewayConfigFrom(file, { GW_KEY: "k", LOG_LEVEL: "loud" })).toThrow(/LOG_LEVEL/);
    expect(() => loadGatewayConfig("/nonexistent/gateway.yaml", { GW_KEY: "k" })).toThrow(/cannot read the routes file/);
  });
});

describe("the gateway's argument hash", () => {
  it("is the SDK's RFC 8785 hash, computed with node:crypto", async () => {
    const vault = new SdkVault(gatewayConfigOf(base, "csk_unused"));
    const own = JSON.parse('{"__proto__":{"x":1},"b":[1.0,2e3,"\\u00e9"],"a":{"z":null,"y":true}}') as Record<string, unknown>;
    expect(await vault.argsHash(own)).toBe(await sdkArgsHash(own));
    await fc.assert(
      fc.asyncProperty(fc.dictionary(fc.string(), fc.jsonValue()), async (args) => {
        expect(await vault.argsHash(args)).toBe(await sdkArgsHash(args));
      }),
      { numRuns: 200 },
    );
  });
});

describe("SSRF rules for upstreams", () => {
  const vaultFor = (config: ReturnType<typeof gatewayConfigOf>) => new SdkVault(config);
  const build = (upstreamUrl: string, allowPrivate: boolean) => {
    const config = gatewayConfigOf({ ...base, upstreams: { svc: { url: upstreamUrl, allow_private: allowPrivate } } }, "csk_unused");
    return buildTokenGateway(config, { vault: vaultFor(config), log: pino({ level: "silent" }) });
  };

  it("refuses to start with a private, loopback, link-local or metadata upstream unless the file allows it", async () => {
    for (const url of ["http://127.0.0.1:8080", "http://10.1.2.3", "http://169.254.169.254/latest", "http://[::1]:80", "http://localhost:8080", "http://0x7f.1:80",
      // Other spellings of internal addresses: decimal, octal, short, IPv4-mapped/-translated, NAT64, 6to4, ULA, CGNAT.
      "http://2130706433", "http://0177.0.0.1", "http://127.1", "http://0.0.0.0", "http://[::]", "http://[::ffff:127.0.0.1]", "http://[0:0:0:0:0:ffff:a9fe:a9fe]",
      "http://[::ffff:0:7f00:1]", "http://[64:ff9b::a9fe:a9fe]", "http://[2002:a9fe:a9fe::1]", "http://[fd00::1]", "http://[fe80::1]", "http://100.64.0.1"]) {
      await expect(build(url, false), url).rejects.toBeInstanceOf(UpstreamForbiddenError);
    }
    await expect(build("ftp://example.com", false)).rejects.toThrow(/scheme ftp/);
    const allowed = await build("http://127.0.0.1:8080", true);
    await allowed.close();
  });

  it("checks every connection's own DNS answer and connects only to the address it checked (rebinding)", async () => {
    // A public literal passes at start; the connection's lookup then refuses a name that resolves to loopback.
    const upstream = await checkUpstream("public", { url: "http://93.184.216.34", allow_private: false, timeout_ms: 1000, max_connections: 1 });
    const answer = (hostname: string, lookup = upstream.lookup) =>
      new Promise<{ err: Error | null; addresses?: unknown }>((resolve) => lookup(hostname, { all: true }, (err, addresses) => resolve({ err, addresses })));
    const rebound = await answer("localhost");
    expect(rebound.err).toBeInstanceOf(UpstreamForbiddenError);
    expect(rebound.err!.message).toMatch(/loopback/);
    const unresolvable = await answer("no-such-host.invalid");
    expect((unresolvable.err as NodeJS.ErrnoException).code).toBe("ENOTFOUND");
    const privateOk = await checkUpstream("dev", { url: "http://localhost:1", allow_private: true, timeout_ms: 1000, max_connections: 1 });
    const pinned = await answer("localhost", privateOk.lookup);
    expect(pinned.err).toBeNull();
    expect(pinned.addresses).toEqual([expect.objectContaining({ address: expect.stringMatching(/^(127\.0\.0\.1|::1)$/) })]);
  });
});

describe("an expired token", () => {
  it("is refused with 401 token_expired and reaches nothing", async () => {
    const db = newPgliteDir();
    const v = await startTestVault(db, { env: { VAULT_JWT_TTL: "1" } });
    const upstream = await startTestUpstream();
    try {
      await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: { policy_id: "p", tools: ["make_thing"], default_decision: "approve" } });
      const res = await call(v.url, "POST", "/request-clearance", { key: v.adminKey, body: { tool_name: "make_thing", tool_args: { id: "t-1", size: 2 }, agent_id: "a" } });
      expect(res.body.status).toBe("approved");
      const gw = await startTestGateway(gatewayConfigOf({ ...base, vault: { ...base.vault, url: v.url }, upstreams: { svc: { url: upstream.url, allow_private: true } } }, await newKey(v, "agent")));
      try {
        await new Promise((r) => setTimeout(r, 2100));
        const answer = await fetch(`${gw.url}/things/t-1`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${res.body.token}` }, body: '{"size":2}' });
        expect(answer.status).toBe(401);
        expect(((await answer.json()) as { code: string }).code).toBe("token_expired");
        expect(upstream.seen).toHaveLength(0);
      } finally {
        await gw.close();
      }
    } finally {
      await upstream.close();
      await v.close();
      await db.drop();
    }
  });
});

describe("countersign gateway (the CLI)", () => {
  let upstream: TestUpstream;
  let dir: string;
  beforeAll(async () => {
    upstream = await startTestUpstream();
    dir = mkdtempSync(path.join(os.tmpdir(), "cs-gw-cli-"));
  });
  afterAll(async () => upstream?.close());

  it("starts from a routes file, serves /healthz, refuses unlisted paths, and stops on SIGTERM", async () => {
    const file = path.join(dir, "gateway.json");
    writeFileSync(file, JSON.stringify({ ...base, upstreams: { svc: { url: upstream.url, allow_private: true } } }));
    const port = await freePort();
    const child = spawn(process.execPath, ["--import", "tsx", "src/main/cli.ts", "gateway", "--config", file, "--port", String(port)], {
      env: { ...process.env, GW_KEY: "csk_cli_test", LOG_LEVEL: "silent" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
    try {
      let health: Response | undefined;
      for (let i = 0; i < 200 && !health; i++) {
        health = await fetch(`http://127.0.0.1:${port}/healthz`).catch(() => undefined);
        if (!health) await new Promise((r) => setTimeout(r, 100));
      }
      expect(health?.status, stderr).toBe(200);
      const unlisted = await fetch(`http://127.0.0.1:${port}/anything`);
      expect(unlisted.status).toBe(404);
      expect(((await unlisted.json()) as { code: string }).code).toBe("route_not_found");
      // No vault at 127.0.0.1:9: not ready.
      expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(503);
    } finally {
      child.kill("SIGTERM");
    }
    const [code] = await once(child, "exit");
    expect(code).toBe(0);
    expect(upstream.seen).toHaveLength(0);
  });

  it("exits 1 with a one-line reason for a bad routes file or a forbidden upstream", async () => {
    const run = (file: string) =>
      new Promise<{ code: number | null; stderr: string }>((resolve) => {
        const child = spawn(process.execPath, ["--import", "tsx", "src/main/cli.ts", "gateway", "--config", file, "--port", "0"], { env: { ...process.env, GW_KEY: "k" }, stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
        child.on("exit", (code) => resolve({ code, stderr }));
      });
    const bad = path.join(dir, "bad.yaml");
    writeFileSync(bad, "vault: { url: 'http://127.0.0.1:9', api_key_env: GW_KEY }\nupstreams: {}\nroutes: []\nextra: 1\n");
    const badRun = await run(bad);
    expect(badRun.code).toBe(1);
    expect(badRun.stderr).toMatch(/extra/);
    expect(badRun.stderr).not.toMatch(/\n\s+at /);
    const forbidden = path.join(dir, "forbidden.json");
    writeFileSync(forbidden, JSON.stringify({ ...base, upstreams: { svc: { url: "http://169.254.169.254" } } }));
    const forbiddenRun = await run(forbidden);
    expect(forbiddenRun.code).toBe(1);
    expect(forbiddenRun.stderr).toMatch(/link-local/);
  });
});
