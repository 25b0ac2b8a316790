import { createHmac, timingSafeEqual } from "node:crypto";
import { once } from "node:events";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { SMTPServer } from "smtp-server";
import type { OutboxRequest } from "../../src/outbox/events.js";
import type { Sql } from "../../src/db/sql.js";
import type { TestVault } from "./vault.js";

export interface ReceivedRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  /** The exact body bytes, as a receiver must verify them. */
  raw: Buffer;
}

/** What the receiver does with the next request: a status code, or "hang" (never answers). */
export type Reply = number | "hang" | { status: number; headers: Record<string, string> };

/**
 * A real HTTP server on 127.0.0.1 standing in for a customer's webhook endpoint or Slack: it records
 * every request byte for byte and answers from a script (then `fallback` once the script runs out).
 */
export class HttpReceiver {
  readonly requests: ReceivedRequest[] = [];
  script: Reply[] = [];
  fallback: Reply = 200;
  private readonly hanging: http.ServerResponse[] = [];
  private readonly waiters: (() => void)[] = [];

  private constructor(private readonly server: http.Server) {}

  static async start(): Promise<HttpReceiver> {
    const server = http.createServer();
    const receiver = new HttpReceiver(server);
    server.on("request", (req, res) => receiver.handle(req, res));
    server.listen(0, "127.0.0.1");
    await once(server, "listening");
    return receiver;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Resolves once at least `n` requests have arrived. */
  async waitFor(n: number): Promise<void> {
    while (this.requests.length < n) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  async close(): Promise<void> {
    for (const res of this.hanging.splice(0)) res.destroy();
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server.close(resolve));
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      this.requests.push({ method: req.method ?? "", path: req.url ?? "", headers: req.headers, raw: Buffer.concat(chunks) });
      for (const wake of this.waiters.splice(0)) wake();
      const reply = this.script.shift() ?? this.fallback;
      if (reply === "hang") {
        this.hanging.push(res);
        return;
      }
      const { status, headers } = typeof reply === "number" ? { status: reply, headers: {} } : reply;
      res.writeHead(status, { "content-type": "text/plain", ...headers }).end(status < 300 ? "ok" : `failure ${status}`);
    });
  }
}

/** The Ledgix SDK's verifyWebhook (wire protocol §5), written out independently of the vault's code. */
export function sdkVerifyWebhook(rawBody: Buffer, signatureHeader: string | undefined, secret: string): boolean {
  if (!signatureHeader) return false;
  const hex = signatureHeader.startsWith("sha256=") ? signatureHeader.slice("sha256=".length) : signatureHeader;
  const given = Buffer.from(hex, "hex");
  const expected = createHmac("sha256", Buffer.from(secret, "utf8")).update(rawBody).digest();
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** X-Countersign-Signature as a receiver checks it: HMAC over "<t>.<body>", t within 5 minutes. */
export function receiverVerifyTimestamped(rawBody: Buffer, header: string | undefined, secret: string, nowSeconds: number): boolean {
  const m = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(header ?? "");
  if (!m) return false;
  const t = Number(m[1]);
  if (Math.abs(nowSeconds - t) > 300) return false;
  const expected = createHmac("sha256", Buffer.from(secret, "utf8"))
    .update(Buffer.concat([Buffer.from(`${t}.`, "utf8"), rawBody]))
    .digest();
  const given = Buffer.from(m[2]!, "hex");
  return given.length === expected.length && timingSafeEqual(given, expected);
}

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
}

/** A real SMTP server (smtp-server) on 127.0.0.1; recipients in `refuse` are rejected with 550. */
export class SmtpReceiver {
  readonly messages: ReceivedMail[] = [];
  readonly refuse = new Set<string>();

  private constructor(private readonly server: SMTPServer) {}

  static async start(): Promise<SmtpReceiver> {
    let receiver!: SmtpReceiver;
    const server = new SMTPServer({
      authOptional: true,
      disabledCommands: ["STARTTLS", "AUTH"],
      logger: false,
      onRcptTo(address, _session, callback) {
        if (receiver.refuse.has(address.address)) return callback(new Error("550 mailbox unavailable"));
        callback();
      },
      onData(stream, session, callback) {
        const chunks: Buffer[] = [];
        stream.on("data", (c: Buffer) => chunks.push(c));
        stream.on("end", () => {
          const from = session.envelope.mailFrom === false ? "" : session.envelope.mailFrom.address;
          receiver.messages.push({ from, to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString("utf8") });
          callback();
        });
      },
    });
    receiver = new SmtpReceiver(server);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    return receiver;
  }

  get port(): number {
    return (this.server.server.address() as AddressInfo).port;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}

/** A decoded MIME message: headers of the top part and the decoded text/plain and text/html bodies. */
export function parseMail(raw: string): { headers: Record<string, string>; text: string; html: string } {
  const [head, ...rest] = raw.split(/\r?\n\r?\n/);
  const headers = parseHeaders(head!);
  const body = rest.join("\r\n\r\n");
  const boundary = /boundary="?([^";]+)"?/i.exec(headers["content-type"] ?? "")?.[1];
  const parts = boundary ? body.split(`--${boundary}`).slice(1, -1) : [`${head}\r\n\r\n${body}`];
  const out = { headers, text: "", html: "" };
  for (const part of parts) {
    const [partHead, ...partBody] = part.replace(/^\r?\n/, "").split(/\r?\n\r?\n/);
    const h = parseHeaders(partHead!);
    const decoded = decodeBody(partBody.join("\r\n\r\n"), h["content-transfer-encoding"] ?? "7bit");
    if ((h["content-type"] ?? "").startsWith("text/plain")) out.text = decoded;
    if ((h["content-type"] ?? "").startsWith("text/html")) out.html = decoded;
  }
  return out;
}

function parseHeaders(block: string): Record<string, string> {
  const headers: Record<string, string> = {};
  for (const line of block.replace(/\r?\n[ \t]+/g, " ").split(/\r?\n/)) {
    const i = line.indexOf(":");
    if (i > 0) headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  return headers;
}

function decodeBody(body: string, encoding: string): string {
  const enc = encoding.toLowerCase();
  if (enc === "base64") return Buffer.from(body.replace(/\s+/g, ""), "base64").toString("utf8");
  if (enc === "quoted-printable") return decodeQ(body.replace(/=\r?\n/g, ""));
  return body;
}

/** Quoted-printable (and RFC 2047 "Q") to text: =XX is a byte, anything else is itself. */
function decodeQ(text: string): string {
  const bytes: number[] = [];
  for (let i = 0; i < text.length; i++) {
    const hex = text.slice(i + 1, i + 3);
    if (text[i] === "=" && /^[0-9A-F]{2}$/i.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(text[i]!, "utf8"));
    }
  }
  return Buffer.from(bytes).toString("utf8");
}

/** Decodes RFC 2047 encoded words (nodemailer uses them for non-ASCII or long subjects). */
export function decodeHeader(value: string): string {
  return value
    .replace(/\?=\s+=\?/g, "?==?")
    .replace(/=\?utf-8\?([BQ])\?([^?]*)\?=/gi, (_, kind: string, text: string) =>
      kind.toUpperCase() === "B" ? Buffer.from(text, "base64").toString("utf8") : decodeQ(text.replace(/_/g, " ")),
    );
}

/** A request as the review workflow would hand it to the outbox (it need not exist in the database). */
export function sampleRequest(overrides: Partial<OutboxRequest> = {}): OutboxRequest {
  return {
    id: `req_${Math.random().toString(16).slice(2)}-sample`,
    status: "pending_review",
    decision_status: "approved_pending_review",
    reason: "Refunds over $100 need a human",
    reason_code: "condition_review",
    tool_name: "stripe_refund",
    tool_args: { amount: 250, currency: "usd", customer: "cus_123" },
    agent_id: "agent-7",
    human_principal: "alice@example.test",
    policy_id: "refund-policy",
    confidence_bucket: "high",
    citations: [],
    evidence_chunks: [],
    created_at: new Date("2026-03-01T10:00:00Z"),
    decided_at: null,
    ...overrides,
  };
}

/** Runs fn in a transaction of the tenant's database, as the workflow would. */
export async function inTenantTx<T>(v: TestVault, tenantId: string, fn: (tx: Sql) => Promise<T>): Promise<T> {
  return (await v.vault.ctx.tenantDbs.get(tenantId)).transaction(fn);
}

/** A Sql that counts the statements sent through it (not a mock: every call goes to the real one). */
export function countingSql(inner: Sql): Sql & { count: number } {
  const counted = {
    count: 0,
    query: <T>(text: string, params?: readonly unknown[]) => {
      counted.count++;
      return inner.query<T>(text, params);
    },
    exec: (script: string) => {
      counted.count++;
      return inner.exec(script);
    },
    transaction: <T>(fn: (tx: Sql) => Promise<T>) => inner.transaction(fn),
    onCommit: (fn: () => void) => inner.onCommit(fn),
  };
  return counted;
}

/** A counter's value in the Prometheus text of GET /metrics (0 when absent). */
export async function metricValue(v: TestVault, name: string, labels: string): Promise<number> {
  const text = await (await fetch(`${v.url}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}}`));
  return line ? Number(line.split(" ").pop()) : 0;
}
