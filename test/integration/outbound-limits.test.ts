/**
 * Issue 11 item 7: every outbound client the vault and judge use (the judge service, the LLM and the
 * embedding endpoint) follows no redirect and refuses an oversized answer, failing closed. Each fake
 * upstream sends its redirect to a second server that would answer in a way that APPROVES (or embeds
 * fine): following the redirect would change the outcome, and that server must receive nothing, so
 * neither X-API-Key, the bearer key nor the agent's request leaks. Each oversized answer is otherwise
 * valid (padding in a field the client ignores), so only the cap stands between it and an approval.
 */
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { excerptsOf, hashEmbedding, type RecordedRequest } from "../helpers/openai-test-server.js";
import { call, newDatabase, newKey, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

type Handler = (req: RecordedRequest, res: ServerResponse) => void;

/** A loopback server that records every request (headers and parsed body) before answering it. */
async function upstream(handler: Handler) {
  const seen: RecordedRequest[] = [];
  const sockets = new Set<Socket>();
  const box = { handler };
  const server = createServer((req: IncomingMessage, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const raw = Buffer.concat(chunks).toString("utf8");
      let body: unknown = raw;
      try {
        body = raw ? JSON.parse(raw) : undefined;
      } catch {
        /* kept as text */
      }
      const recorded = { method: req.method ?? "", path: (req.url ?? "").split("?")[0]!, headers: req.headers, body };
      seen.push(recorded);
      res.on("error", () => undefined);
      box.handler(recorded, res);
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    set handler(h: Handler) {
      box.handler = h;
    },
    async close() {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) }).end(text);
}

/** Chunked on purpose: no Content-Length, so only counting the stream can refuse it. */
function chunkedJson(res: ServerResponse, body: unknown): void {
  res.writeHead(200, { "content-type": "application/json" });
  res.end(JSON.stringify(body));
}

/** 307 keeps method and body: a client that followed it would re-send the request as it was. */
function redirectTo(target: string): Handler {
  return (req, res) => res.writeHead(307, { location: `${target}${req.path}` }).end();
}

const padding = (bytes: number) => "x".repeat(bytes);

async function decide(v: TestVault, key: string, body: unknown) {
  const first = await call(v.url, "POST", "/request-clearance", { key, body });
  expect([200, 202], JSON.stringify(first.body)).toContain(first.status);
  let decided = first.body;
  for (const deadline = Date.now() + 30_000; decided.status === "processing" && Date.now() < deadline; ) {
    await sleep(100);
    decided = (await call(v.url, "GET", `/clearance-status/${first.body.request_id}`, { key })).body;
  }
  return decided;
}

async function failClosedCount(v: TestVault, reason: string): Promise<number> {
  const text = (await call<string>(v.url, "GET", "/metrics")).body;
  const m = new RegExp(`^countersign_judge_fail_closed_total\\{reason="${reason}"\\} (\\d+)$`, "m").exec(text);
  return m ? Number(m[1]) : 0;
}

describe("remote judge (VAULT_JUDGE_URL): no redirect, answers capped at VAULT_JUDGE_MAX_RESPONSE_BYTES", () => {
  const judgeKey = "judge-key-that-must-not-leak";
  /** A verdict the vault would act on: approval with high confidence. */
  const approve = {
    decision: "approve",
    reason: "approved by whoever answered",
    reason_code: "condition_matched",
    confidence_bucket: "extra_high",
    policy_id: null,
    policy_version_id: null,
    policy_content_hash: null,
    applied_policies: [],
    matched_condition_ids: [],
    citations: [],
    evidence_chunks: [],
    trace: {},
  };
  let harvester: Awaited<ReturnType<typeof upstream>>;
  let judge: Awaited<ReturnType<typeof upstream>>;
  let db: TestDatabase;
  let v: TestVault;
  let agent: string;
  const request = { tool_name: "wire_transfer", tool_args: { amount: 1_000_000, to: "attacker" } };

  beforeAll(async () => {
    harvester = await upstream((_req, res) => json(res, 200, approve));
    judge = await upstream((_req, res) => json(res, 200, approve));
    db = newDatabase("pglite");
    v = await startTestVault(db, { env: { VAULT_JUDGE_URL: judge.url, VAULT_JUDGE_API_KEY: judgeKey, VAULT_JUDGE_TIMEOUT_MS: "10000" } });
    agent = await newKey(v, "agent");
  });
  afterAll(async () => {
    await v?.close();
    await judge?.close();
    await harvester?.close();
    await db?.drop();
  });

  it("control: an answer the judge gives itself is acted on, so the cases below are decided by the limits alone", async () => {
    judge.handler = (_req, res) => json(res, 200, approve);
    expect(await decide(v, agent, request)).toMatchObject({ status: "approved", reason: "approved by whoever answered" });
    expect(judge.seen.at(-1)).toMatchObject({ method: "POST", path: "/evaluate" });
    expect(judge.seen.at(-1)!.headers["x-api-key"]).toBe(judgeKey);
  });

  for (const status of [302, 307]) {
    it(`a ${status} from /evaluate goes to review (judge_unavailable), and the redirect target receives nothing`, async () => {
      judge.handler = (req, res) => res.writeHead(status, { location: `${harvester.url}${req.path}` }).end();
      const calls = judge.seen.length;
      const before = await failClosedCount(v, "judge_unavailable");
      const decided = await decide(v, agent, request);
      expect(decided).toMatchObject({ status: "pending_review", reason_code: "judge_unavailable", token: null, approved: false });
      expect(judge.seen.length).toBe(calls + 1);
      expect(harvester.seen).toEqual([]);
      expect(await failClosedCount(v, "judge_unavailable")).toBe(before + 1);
    });
  }

  it("a valid approval padded to 2 MiB (chunked, no Content-Length) goes to review", async () => {
    judge.handler = (_req, res) => chunkedJson(res, { ...approve, trace: { padding: padding(2 * MiB) } });
    const decided = await decide(v, agent, request);
    expect(decided).toMatchObject({ status: "pending_review", reason_code: "judge_unavailable", token: null, approved: false });
  });

  it("the same approval just under 1 MiB is still accepted: the cap is the limit, not a smaller one", async () => {
    judge.handler = (_req, res) => chunkedJson(res, { ...approve, trace: { padding: padding(MiB - 4096) } });
    expect(await decide(v, agent, request)).toMatchObject({ status: "approved" });
  });
});

describe("LLM and embedding endpoints: no redirect, answers capped", () => {
  const llmKey = "sk-llm-must-not-leak";
  const embedKey = "sk-embed-must-not-leak";
  const policy = {
    policy_id: "refund-llm",
    description: "# Refunds\n\nRefunds of customer payments for damaged goods are handled by support agents.",
    rules: ["Refunds up to $100 for damaged goods may be issued automatically"],
    tools: ["stripe_refund"],
    default_decision: "review",
  };
  /** A completion approving with high confidence, citing the last excerpt the request showed. */
  const approval = (req: RecordedRequest, extra: Record<string, unknown> = {}) => ({
    id: "chatcmpl-test",
    object: "chat.completion",
    created: 1_700_000_000,
    model: "gpt-test",
    choices: [
      {
        index: 0,
        finish_reason: "stop",
        logprobs: null,
        message: {
          role: "assistant",
          refusal: null,
          content: JSON.stringify({ decision: "yes", reasoning: "approved by whoever answered", confidence_bucket: "high", cited_chunk_ids: excerptsOf(req).map((e) => e.chunk_id).slice(-1) }),
        },
      },
    ],
    ...extra,
  });
  const embeddings = (req: RecordedRequest, extra: Record<string, unknown> = {}) => ({
    object: "list",
    model: "test-embed",
    data: (req.body.input as string[]).map((text, index) => ({ object: "embedding", index, embedding: hashEmbedding(text) })),
    ...extra,
  });
  const honest: Handler = (req, res) => {
    if (req.path === "/v1/embeddings") return json(res, 200, embeddings(req));
    if (req.path === "/v1/chat/completions") return json(res, 200, approval(req));
    json(res, 404, { error: { message: "no route" } });
  };

  let harvester: Awaited<ReturnType<typeof upstream>>;
  let provider: Awaited<ReturnType<typeof upstream>>;
  let db: TestDatabase;
  let v: TestVault;
  let agent: string;
  // A new text each time: the judge caches query vectors, and each case must reach the endpoint.
  let n = 0;
  const refund = () => decide(v, agent, { tool_name: "stripe_refund", tool_args: { amount: 50, reason: `damaged goods, parcel ${++n}` } });
  const embeddingCalls = () => provider.seen.filter((r) => r.path === "/v1/embeddings").length;

  beforeAll(async () => {
    harvester = await upstream(honest);
    provider = await upstream(honest);
    db = newDatabase("pglite");
    v = await startTestVault(db, {
      env: {
        EVAL_MODEL: "openai/gpt-test",
        LLM_BASE_URL: `${provider.url}/v1`,
        LLM_API_KEY: llmKey,
        EVAL_TIMEOUT_MS: "5000",
        EMBEDDING_MODEL: "openai/test-embed",
        EMBEDDING_BASE_URL: `${provider.url}/v1`,
        EMBEDDING_API_KEY: embedKey,
        // A smaller cap than the 32 MiB default, so the test need not send 33 MiB; it also checks the variable is wired.
        EMBEDDING_MAX_RESPONSE_BYTES: String(MiB),
      },
    });
    agent = await newKey(v, "agent");
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: policy })).status).toBe(200);
  });
  afterAll(async () => {
    await v?.close();
    await provider?.close();
    await harvester?.close();
    await db?.drop();
  });

  it("control: the provider's own approval is acted on", async () => {
    provider.handler = honest;
    expect(await refund()).toMatchObject({ status: "approved", reason_code: "llm_approved" });
    const chat = provider.seen.filter((r) => r.path === "/v1/chat/completions").at(-1)!;
    expect(chat.headers.authorization).toBe(`Bearer ${llmKey}`);
  });

  it("a redirect from the chat endpoint goes to review (llm_unavailable); the target receives nothing", async () => {
    provider.handler = (req, res) => (req.path === "/v1/chat/completions" ? redirectTo(harvester.url)(req, res) : honest(req, res));
    const before = await failClosedCount(v, "llm_unavailable");
    const decided = await refund();
    expect(decided).toMatchObject({ status: "pending_review", reason_code: "llm_unavailable", token: null, approved: false });
    expect(harvester.seen).toEqual([]);
    expect(await failClosedCount(v, "llm_unavailable")).toBe(before + 1);
  });

  it("a valid approval padded to 2 MiB from the chat endpoint goes to review (llm_unavailable)", async () => {
    provider.handler = (req, res) => (req.path === "/v1/chat/completions" ? chunkedJson(res, approval(req, { padding: padding(2 * MiB) })) : honest(req, res));
    const chats = provider.seen.filter((r) => r.path === "/v1/chat/completions").length;
    const decided = await refund();
    expect(decided).toMatchObject({ status: "pending_review", reason_code: "llm_unavailable", token: null, approved: false });
    // Exactly one call: a transport failure is not retried.
    expect(provider.seen.filter((r) => r.path === "/v1/chat/completions").length).toBe(chats + 1);
  });

  it("a redirect from the embedding endpoint refuses registration (503 embedding_unavailable) and clearance retrieval; the target receives nothing", async () => {
    provider.handler = (req, res) => (req.path === "/v1/embeddings" ? redirectTo(harvester.url)(req, res) : honest(req, res));
    const calls = embeddingCalls();
    const res = await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: { ...policy, policy_id: "redirected" } });
    expect(res.status).toBe(503);
    expect(res.body.code).toBe("embedding_unavailable");
    expect(embeddingCalls()).toBe(calls + 1);
    const decided = await refund();
    expect(embeddingCalls()).toBe(calls + 2);
    expect(decided).toMatchObject({ status: "pending_review", reason_code: "retrieval_unavailable", token: null, approved: false });
    expect(harvester.seen).toEqual([]);
  });

  it("valid embeddings padded past EMBEDDING_MAX_RESPONSE_BYTES refuse registration and retrieval", async () => {
    provider.handler = (req, res) => (req.path === "/v1/embeddings" ? chunkedJson(res, embeddings(req, { padding: padding(2 * MiB) })) : honest(req, res));
    const calls = embeddingCalls();
    const res = await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: { ...policy, policy_id: "oversized" } });
    expect(res.status).toBe(503);
    expect(res.body.code).toBe("embedding_unavailable");
    expect(await refund()).toMatchObject({ status: "pending_review", reason_code: "retrieval_unavailable", token: null });
    expect(embeddingCalls()).toBe(calls + 2);
    const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
    expect(await sql.query("SELECT 1 FROM policies WHERE policy_id IN ('redirected', 'oversized')")).toEqual([]);
  });
});
