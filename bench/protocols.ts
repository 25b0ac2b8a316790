/**
 * Issue 16's figures: the seed protocols next to the vault's own API, in the same run, against one
 * vault process on real PostgreSQL.
 *  (a) StepAuth submit → decision/s for an auto-approved request (a signed envelope submitted, then the
 *      signed decision fetched by poll), next to POST /request-clearance approved by the same policy, at
 *      PROTOCOLS_BENCH_CONNECTIONS (default 8) concurrent clients each.
 *  (b) What a Sigilum-signed request costs: /request-clearance at one connection with an API key only,
 *      with the API key and a signature, and with the signature only (tenant from the namespace), p50/p99
 *      each; and in this process, verifySigilumRequest alone next to hashing an API key (what key
 *      authentication does per request before its cached lookup).
 * Everything a request needs (envelopes, signatures: ML-DSA-65 signs in ~12 ms) is made before the timed part.
 */
import { createHash, randomBytes } from "node:crypto";
import { performance } from "node:perf_hooks";
import { generateHybridKeyset, publicKeysetOf } from "../src/protocols/stepauth/keyset.js";
import { encodeEnvelope, signEnvelope } from "../src/protocols/stepauth/envelope.js";
import { verifySigilumRequest } from "../src/protocols/http-signatures/sigilum-verify.js";
import { AgentSigner, createAgentIdentity } from "../src/sdk/agent-signer.js";
import { LatencyRecorder, figures, row, type PhaseStats } from "./stats.js";
import { createDatabase, startVault, withDatabase } from "./vault.js";

const N = Number(process.env.PROTOCOLS_BENCH_N ?? 400);
const CONNECTIONS = Number(process.env.PROTOCOLS_BENCH_CONNECTIONS ?? 8);
const LATENCY_N = Number(process.env.PROTOCOLS_BENCH_LATENCY_N ?? 400);
const MICRO_N = 2000;
const SP = "sp.bench.example";

export interface ProtocolsBenchOptions {
  serverUrl: string;
  controlDb: string;
  apiKey: string;
  dataDir: string;
  log: (msg: string) => void;
}

interface Call {
  method: string;
  path: string;
  headers: Record<string, string>;
  body?: string;
}

const enc = new TextEncoder();

export async function runProtocolsBench(opts: ProtocolsBenchOptions) {
  const db = `${opts.controlDb}_protocols`;
  await createDatabase(opts.serverUrl, db);
  opts.log(`protocols: starting the vault on ${db}`);
  const vault = await startVault({ databaseUrl: withDatabase(opts.serverUrl, db), apiKey: opts.apiKey, dataDir: opts.dataDir, tenantPool: 20, controlPool: 5 });
  try {
    const admin = (method: string, path: string, body?: unknown) => call(vault.url, { method, path, headers: { "x-vault-api-key": opts.apiKey, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body) });
    await expectOk(admin("POST", "/register-policy", { policy_id: "protocols-bench", tools: ["bench.deploy", "bench_tool"], default_decision: "approve" }));
    const stepauth = await stepAuthPhases(vault.url, admin, opts);
    const signed = await signedRequestPhases(vault.url, admin, opts);
    const phases: Record<string, PhaseStats> = { ...stepauth, ...signed.phases };
    const rows = [
      `StepAuth vs /request-clearance (auto-approved, ${CONNECTIONS} clients, n=${N} each, same vault and policy)`,
      row("  /request-clearance (API key) decisions", stepauth.clearance),
      row("  StepAuth submit (202, hybrid envelope)", stepauth.submit),
      row("  StepAuth submit → signed decision (poll)", stepauth.stepauth),
      `Signed requests (Sigilum profile), /request-clearance at 1 connection, n=${LATENCY_N} each`,
      row("  API key only", signed.phases.apiKey),
      row("  API key + signature", signed.phases.both, `  (+${(signed.phases.both.p50Ms - signed.phases.apiKey.p50Ms).toFixed(2)} ms p50)`),
      row("  signature only (tenant from namespace)", signed.phases.signedOnly, `  (+${(signed.phases.signedOnly.p50Ms - signed.phases.apiKey.p50Ms).toFixed(2)} ms p50)`),
      `  in process: verifySigilumRequest p50 ${signed.micro.verify.p50Ms.toFixed(3)} ms p99 ${signed.micro.verify.p99Ms.toFixed(3)} ms; API key hash p50 ${signed.micro.keyHash.p50Ms.toFixed(3)} ms p99 ${signed.micro.keyHash.p99Ms.toFixed(3)} ms`,
    ];
    const summary = { ...Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, figures(v)])), micro: signed.micro };
    return { rows, summary, phases };
  } finally {
    await vault.stop();
  }
}

async function stepAuthPhases(url: string, admin: (m: string, p: string, b?: unknown) => Promise<Response>, opts: ProtocolsBenchOptions) {
  const keyset = generateHybridKeyset();
  await expectOk(admin("POST", "/stepauth/senders", { entity: SP, keysets: [publicKeysetOf(keyset)], callback_pattern: null }));
  const hub = (await (await expectOk(admin("GET", "/stepauth/hub"))).json()) as { entity: string; host: string };
  const prefix = new URL(hub.host).pathname.replace(/\/$/, "");
  opts.log(`protocols: signing ${N} StepAuth requests and polls (ML-DSA-65)`);
  const now = new Date();
  const iso = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");
  const jobs = Array.from({ length: N }, (_, i) => {
    const requestId = `req_${randomBytes(16).toString("hex")}`;
    const request = {
      requestId, senderId: SP, recipientId: hub.entity, timestamp: iso(now), expiresAt: iso(new Date(now.getTime() + 1_800_000)),
      principal: { subject: "email:dev@sp.bench.example" },
      action: { type: "bench.deploy", category: "code.deploy", summary: `Deploy build ${i}`, details: [{ key: "build", label: "Build", value: String(i) }] },
    };
    const decisionPath = `${prefix}/v1/authorization-requests/${encodeURIComponent(requestId)}/decision`;
    const poll = { senderId: SP, recipientId: hub.entity, requestUri: decisionPath, timestamp: iso(now) };
    return {
      submit: { method: "POST", path: `${prefix}/v1/authorization-requests`, headers: { "content-type": "application/json" }, body: encodeEnvelope(signEnvelope(enc.encode(JSON.stringify(request)), keyset)) },
      poll: { method: "POST", path: decisionPath, headers: { "content-type": "application/json" }, body: encodeEnvelope(signEnvelope(enc.encode(JSON.stringify(poll)), keyset)) },
    };
  });
  const clearanceCall = (i: number): Call => ({
    method: "POST", path: "/request-clearance", headers: { "x-vault-api-key": opts.apiKey, "content-type": "application/json" },
    body: JSON.stringify({ tool_name: "bench_tool", tool_args: { build: i }, agent_id: "bench" }),
  });
  // Warm both paths (JIT, connections, the hub keyset) outside the timed part.
  await runConcurrent(url, 20, CONNECTIONS, async (i) => (await call(url, clearanceCall(i))).status === 200);
  opts.log(`protocols: timing /request-clearance and StepAuth, ${CONNECTIONS} clients`);
  const clearance = await runConcurrent(url, N, CONNECTIONS, async (i) => (await call(url, clearanceCall(i))).status === 200);
  const submitOnly = new LatencyRecorder();
  const stepauth = await runConcurrent(url, N, CONNECTIONS, async (i) => {
    const t0 = performance.now();
    const submitted = await call(url, jobs[i]!.submit);
    submitOnly.add(performance.now() - t0);
    if (submitted.status !== 202) return false;
    for (let attempt = 0; attempt < 200; attempt++) {
      const polled = await call(url, jobs[i]!.poll);
      if (polled.status === 200) return true;
      if (polled.status !== 202) return false;
      await new Promise((r) => setTimeout(r, 10));
    }
    return false;
  });
  const submit: PhaseStats = { ...stepauth, ...submitOnly.summary(), latencies: submitOnly };
  return { clearance, stepauth, submit };
}

async function signedRequestPhases(url: string, admin: (m: string, p: string, b?: unknown) => Promise<Response>, opts: ProtocolsBenchOptions) {
  const namespace = "bench-agents";
  await expectOk(admin("POST", "/agent-namespaces", { namespace }));
  await expectOk(admin("POST", "/protected-services", { slug: "bench", name: "Bench" }));
  const serviceKey = ((await (await expectOk(admin("POST", "/protected-services/bench/keys", { label: "bench" }))).json()) as { api_key: string }).api_key;
  const identity = createAgentIdentity({ namespace });
  const signer = new AgentSigner(identity);
  const claimBody = JSON.stringify({ namespace, public_key: identity.publicKey, service: "bench", agent_ip: "127.0.0.1", nonce: `bench-${randomBytes(8).toString("hex")}` });
  const claimed = await expectOk(call(url, { method: "POST", path: "/v1/claims", headers: { "content-type": "application/json", authorization: `Bearer ${serviceKey}`, ...signer.sign("POST", `${url}/v1/claims`, claimBody) }, body: claimBody }));
  const claimId = ((await claimed.json()) as { claim_id: string }).claim_id;
  await expectOk(admin("POST", `/v1/claims/${claimId}/approve`, {}));

  const body = (i: number) => JSON.stringify({ tool_name: "bench_tool", tool_args: { build: i } });
  const keyed = (i: number): Call => ({ method: "POST", path: "/request-clearance", headers: { "x-vault-api-key": opts.apiKey, "content-type": "application/json" }, body: body(i) });
  const signedCall = (i: number, withKey: boolean): Call => {
    const b = body(i);
    const headers: Record<string, string> = { "content-type": "application/json", ...signer.sign("POST", `${url}/request-clearance`, b) };
    if (withKey) headers["x-vault-api-key"] = opts.apiKey;
    return { method: "POST", path: "/request-clearance", headers, body: b };
  };
  opts.log(`protocols: signing ${3 * LATENCY_N} agent requests`);
  const both = Array.from({ length: LATENCY_N + 20 }, (_, i) => signedCall(i, true));
  const signedOnly = Array.from({ length: LATENCY_N + 20 }, (_, i) => signedCall(i, false));
  const ok = async (c: Call) => (await call(url, c)).status === 200;
  for (let i = 0; i < 20; i++) await Promise.all([ok(keyed(i)), ok(both[LATENCY_N + i]!), ok(signedOnly[LATENCY_N + i]!)]);
  opts.log("protocols: timing API key, API key + signature and signature only, 1 connection");
  const phases = {
    apiKey: await runConcurrent(url, LATENCY_N, 1, (i) => ok(keyed(i))),
    both: await runConcurrent(url, LATENCY_N, 1, (i) => ok(both[i]!)),
    signedOnly: await runConcurrent(url, LATENCY_N, 1, (i) => ok(signedOnly[i]!)),
  };

  // In process: the verification alone (certificate proof, digest, base, signature), and the key hash.
  const sample = signedCall(0, false);
  const header = (name: string) => sample.headers[name.toLowerCase()];
  const verify = new LatencyRecorder();
  const keyHash = new LatencyRecorder();
  const nowSeconds = Math.floor(Date.now() / 1000);
  const bytes = enc.encode(sample.body!);
  for (let i = 0; i < MICRO_N; i++) {
    let t = performance.now();
    const v = verifySigilumRequest({ method: "POST", targetUri: `${url}/request-clearance`, header, body: bytes, nowSeconds });
    verify.add(performance.now() - t);
    if (!v.ok) throw new Error(`the bench's own signed request does not verify: ${v.code}`);
    t = performance.now();
    createHash("sha256").update(opts.apiKey).digest("hex");
    keyHash.add(performance.now() - t);
  }
  return { phases, micro: { verify: verify.summary(), keyHash: keyHash.summary(), n: MICRO_N } };
}

/** `count` operations over `connections` concurrent loops; latency per operation, rate over the whole. */
async function runConcurrent(_url: string, count: number, connections: number, op: (i: number) => Promise<boolean>): Promise<PhaseStats> {
  const latencies = new LatencyRecorder();
  let next = 0;
  let ok = 0;
  let unexpected = 0;
  let errors = 0;
  let sample: string | undefined;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: connections }, async () => {
      for (let i = next++; i < count; i = next++) {
        const t0 = performance.now();
        try {
          if (await op(i)) ok++;
          else unexpected++;
        } catch (err) {
          errors++;
          sample ??= String(err);
        }
        latencies.add(performance.now() - t0);
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { ok, seconds, perSecond: ok / seconds, ...latencies.summary(), errors, unexpected, statusCodes: {}, sample, latencies };
}

function call(base: string, c: Call): Promise<Response> {
  return fetch(`${base}${c.path}`, { method: c.method, headers: c.headers, body: c.body, redirect: "manual" });
}

async function expectOk(res: Promise<Response>): Promise<Response> {
  const r = await res;
  if (r.status >= 300) throw new Error(`HTTP ${r.status}: ${await r.text()}`);
  return r;
}
