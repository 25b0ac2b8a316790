import { createServer, type IncomingHttpHeaders, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";

/** One request the server received, as the vault's OpenAI SDK sent it. */
export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: any;
}

/**
 * What the server answers one chat completion with:
 * - json: a well-formed completion whose message.content is JSON.stringify(json)
 * - content: a well-formed completion with this raw text as content (malformed answers)
 * - refusal: a completion whose message carries a refusal and no content
 * - status: an OpenAI-style error body with this HTTP status
 * - hang: never answers; the socket stays open until the client gives up or close() runs
 */
export type ChatReply = { json: unknown } | { content: string } | { refusal: string } | { status: number; message?: string } | { hang: true };
export type ChatScript = ChatReply | ((request: RecordedRequest) => ChatReply);

export const EMBEDDING_DIMENSIONS = 64;

/** FNV-1a, so a word always lands in the same dimension across runs and processes. */
function fnv1a(word: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < word.length; i++) {
    h ^= word.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/**
 * A hashed bag of words: texts sharing words point in similar directions, so a test can predict
 * which chunk retrieval ranks first. Not normalised on purpose: the vault must normalise itself.
 */
export function hashEmbedding(text: string): number[] {
  const v = new Array<number>(EMBEDDING_DIMENSIONS).fill(0);
  const words = text.toLowerCase().match(/[a-z0-9]+/g) ?? [];
  for (const w of words) v[fnv1a(w) % EMBEDDING_DIMENSIONS]! += 1;
  // A text without words still needs a non-zero vector, or the vault would reject the answer.
  if (words.length === 0) v[0] = 1;
  return v;
}

/** Cosine similarity of two texts under hashEmbedding: what the vault should report as a score. */
export function hashCosine(a: string, b: string): number {
  const x = hashEmbedding(a);
  const y = hashEmbedding(b);
  const dotp = x.reduce((s, xi, i) => s + xi * y[i]!, 0);
  const norm = (v: number[]) => Math.sqrt(v.reduce((s, vi) => s + vi * vi, 0));
  return dotp / (norm(x) * norm(y));
}

/** The `<policy_excerpts>` JSON of the judge's user message, so a script can cite what it was shown. */
export function excerptsOf(request: RecordedRequest): { chunk_id: string; policy_id: string; heading: string; text: string }[] {
  const user = userMessage(request);
  const m = /<policy_excerpts>\n([\s\S]*?)\n<\/policy_excerpts>/.exec(user);
  if (!m) throw new Error("chat request has no <policy_excerpts> block");
  return JSON.parse(m[1]!);
}

export function userMessage(request: RecordedRequest): string {
  const user = (request.body?.messages ?? []).find((m: { role: string }) => m.role === "user");
  if (typeof user?.content !== "string") throw new Error("chat request has no user message");
  return user.content;
}

export class OpenAiTestServer {
  readonly requests: RecordedRequest[] = [];
  /** Replies used in order, one per chat request; `fallback` answers once the queue is empty. */
  readonly queue: ChatScript[] = [];
  fallback: ChatScript | undefined;
  /** Chat requests that found neither a queued reply nor a fallback (answered 500). */
  unscripted = 0;
  private readonly sockets = new Set<Socket>();
  private counter = 0;

  private constructor(
    private readonly server: ReturnType<typeof createServer>,
    readonly url: string,
  ) {}

  static async start(): Promise<OpenAiTestServer> {
    let self: OpenAiTestServer | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const raw = Buffer.concat(chunks).toString("utf8");
        let body: unknown = raw;
        try {
          body = raw ? JSON.parse(raw) : undefined;
        } catch {
          /* kept as text: a test can still see what arrived */
        }
        self!.handle({ method: req.method ?? "", path: (req.url ?? "").split("?")[0]!, headers: req.headers, body }, res);
      });
    });
    server.on("connection", (socket) => {
      self?.sockets.add(socket);
      socket.on("close", () => self?.sockets.delete(socket));
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as AddressInfo;
    self = new OpenAiTestServer(server, `http://127.0.0.1:${port}`);
    return self;
  }

  chatRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.path === "/v1/chat/completions");
  }

  embeddingRequests(): RecordedRequest[] {
    return this.requests.filter((r) => r.path === "/v1/embeddings");
  }

  /** Forgets recorded requests and scripts between tests that share one server. */
  reset(): void {
    this.requests.length = 0;
    this.queue.length = 0;
    this.fallback = undefined;
    this.unscripted = 0;
  }

  async close(): Promise<void> {
    // Hanging replies keep their sockets open; destroying them lets server.close() return.
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve, reject) => this.server.close((err) => (err ? reject(err) : resolve())));
  }

  private handle(request: RecordedRequest, res: ServerResponse): void {
    this.requests.push(request);
    if (request.method === "POST" && request.path === "/v1/chat/completions") return this.chat(request, res);
    if (request.method === "POST" && request.path === "/v1/embeddings") return this.embeddings(request, res);
    send(res, 404, { error: { message: `no route ${request.method} ${request.path}`, type: "invalid_request_error", code: null, param: null } });
  }

  private chat(request: RecordedRequest, res: ServerResponse): void {
    const script = this.queue.shift() ?? this.fallback;
    if (!script) {
      this.unscripted++;
      return send(res, 500, { error: { message: "the test did not script this chat request", type: "server_error", code: null, param: null } });
    }
    const reply = typeof script === "function" ? script(request) : script;
    if ("hang" in reply) return;
    if ("status" in reply) {
      return send(res, reply.status, { error: { message: reply.message ?? "scripted failure", type: "server_error", code: null, param: null } });
    }
    const message =
      "refusal" in reply
        ? { role: "assistant", content: null, refusal: reply.refusal }
        : { role: "assistant", content: "json" in reply ? JSON.stringify(reply.json) : reply.content, refusal: null };
    send(res, 200, {
      id: `chatcmpl-test${++this.counter}`,
      object: "chat.completion",
      created: Math.floor(Date.now() / 1000),
      model: request.body?.model ?? "unknown",
      choices: [{ index: 0, message, logprobs: null, finish_reason: "stop" }],
      usage: { prompt_tokens: 100, completion_tokens: 20, total_tokens: 120 },
      system_fingerprint: "fp_test",
    });
  }

  private embeddings(request: RecordedRequest, res: ServerResponse): void {
    const input: unknown = request.body?.input;
    const texts = typeof input === "string" ? [input] : Array.isArray(input) ? input : null;
    if (!texts || texts.some((t) => typeof t !== "string")) {
      return send(res, 400, { error: { message: "input must be a string or an array of strings", type: "invalid_request_error", code: null, param: "input" } });
    }
    const base64 = request.body?.encoding_format === "base64";
    const data = (texts as string[]).map((text, index) => {
      const vector = hashEmbedding(text);
      const embedding = base64 ? Buffer.from(Float32Array.from(vector).buffer).toString("base64") : vector;
      return { object: "embedding", index, embedding };
    });
    // Real endpoints do not promise order; reversed data checks that the client sorts by index.
    send(res, 200, { object: "list", data: data.reverse(), model: request.body?.model ?? "unknown", usage: { prompt_tokens: 10, total_tokens: 10 } });
  }
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
  res.end(text);
}
