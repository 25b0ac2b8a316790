import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allowPrivate, deliveries, emit, register } from "../helpers/outbox-api.js";
import { ManualClock } from "../../src/clock.js";
import { postPinned } from "../../src/outbox/pinned-http.js";
import { HttpReceiver } from "../helpers/outbox-receivers.js";
import { call, newKey, newPgDatabase, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

describe("SSRF: private and internal targets are refused by default (postgres)", () => {
  let db: TestDatabase;
  let v: TestVault | undefined;
  beforeAll(async () => {
    db = newPgDatabase();
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  const refused = [
    "http://127.0.0.1/hook",
    "http://10.0.0.1/hook",
    "http://172.20.1.1/hook",
    "http://192.168.0.10/hook",
    "http://169.254.169.254/latest/meta-data/",
    "http://100.64.1.1/hook",
    "http://0.0.0.0:8080/hook",
    "http://[::1]/hook",
    "http://[::ffff:127.0.0.1]/hook",
    "http://[::ffff:169.254.169.254]/hook",
    "http://[fd00::1]/hook",
    "http://[fe80::1]/hook",
    "http://224.0.0.1/hook",
    "http://2130706433/hook",
    "http://localhost:8080/hook",
    "ftp://example.com/hook",
    "file:///etc/passwd",
    "http://user:secret@example.com/hook",
  ];

  it.each(refused)("POST /webhooks refuses %s with webhook_target_forbidden", async (url) => {
    v ??= await startTestVault(db);
    const res = await call(v.url, "POST", "/webhooks", { key: v.adminKey, body: { url } });
    expect(res.status).toBe(400);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    expect(res.body.code).toBe("webhook_target_forbidden");
  });

  it("refuses private Slack URLs in the notification settings too, and accepts a public address", async () => {
    v ??= await startTestVault(db);
    const slack = await call(v.url, "PUT", "/notification-settings", { key: v.adminKey, body: { slack: { webhook_url: "http://169.254.169.254/hook" } } });
    expect(slack.body.code).toBe("webhook_target_forbidden");
    const ok = await call(v.url, "POST", "/webhooks", { key: v.adminKey, body: { url: "https://93.184.215.14/hook" } });
    expect(ok.status).toBe(201);
    const agent = await call(v.url, "POST", "/webhooks", { key: await newKey(v, "agent"), body: { url: "https://93.184.215.14/x" } });
    expect(agent.status).toBe(403);
    expect(agent.body.code).toBe("insufficient_scope");
  });

  it("checks again at delivery time: a name that now resolves to loopback is refused, nothing is sent", async () => {
    v ??= await startTestVault(db);
    const adminKey = v.adminKey;
    await v.close();
    v = undefined;
    const receiver = await HttpReceiver.start();
    try {
      // Registered while private targets were allowed (development), then served without the flag.
      const dev = await startTestVault(db, { env: allowPrivate, adminKey });
      const endpoint = await register(dev, `http://localhost:${receiver.port}/rebound`);
      // In development the name is resolved, checked and pinned, and the delivery arrives.
      await emit(dev, "request.submitted");
      await dev.vault.ctx.outboxWorker.drain();
      expect(receiver.requests).toHaveLength(1);
      expect(receiver.requests[0]!.headers.host).toBe(`localhost:${receiver.port}`);
      await dev.close();
      // A frozen clock: the background worker cannot retry between the drain and the assertions.
      v = await startTestVault(db, { adminKey: dev.adminKey, env: { VAULT_OUTBOX_MAX_ATTEMPTS: "3" }, overrides: { clock: new ManualClock(Date.now()) } });
      await emit(v, "request.approved");
      await v.vault.ctx.outboxWorker.drain();
      expect(receiver.requests).toHaveLength(1);
      const [row] = await deliveries(v, endpoint.id);
      expect(row).toMatchObject({ status: "pending", attempts: 1, last_status: null });
      expect(row!.last_error).toMatch(/target refused: .*loopback.*localhost resolves to/);
    } finally {
      await receiver.close();
    }
  });
});

describe("pinned connections", () => {
  it("go to the address the guard checked and never ask DNS again (no rebinding window)", async () => {
    const receiver = await HttpReceiver.start();
    try {
      // ".invalid" never resolves (RFC 6761): had the request looked the name up, it would have failed.
      const url = new URL(`http://pinned.invalid:${receiver.port}/hook?x=1`);
      const res = await postPinned({ url, address: "127.0.0.1", family: 4 }, '{"a":1}', { "content-type": "application/json" }, { timeoutMs: 5000 });
      expect(res.status).toBe(200);
      expect(receiver.requests).toHaveLength(1);
      expect(receiver.requests[0]).toMatchObject({ path: "/hook?x=1", method: "POST" });
      expect(receiver.requests[0]!.headers.host).toBe(`pinned.invalid:${receiver.port}`);
      expect(receiver.requests[0]!.raw.toString()).toBe('{"a":1}');
    } finally {
      await receiver.close();
    }
  });

  it("give up after the deadline when the receiver never answers", async () => {
    const receiver = await HttpReceiver.start();
    receiver.fallback = "hang";
    try {
      const target = { url: new URL(`${receiver.url}/slow`), address: "127.0.0.1", family: 4 as const };
      await expect(postPinned(target, "{}", {}, { timeoutMs: 300 })).rejects.toThrow(/no complete response within 0.3 s/);
    } finally {
      await receiver.close();
    }
  });
});
