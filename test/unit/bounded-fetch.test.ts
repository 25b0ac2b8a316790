import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { boundedFetch, boundedFetcher, OutboundHttpError, outboundFailureOf } from "../../src/http-client/bounded-fetch.js";

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage["headers"];
  body: string;
}

/** A loopback server that records what reached it and answers with the test's handler. */
async function recordingServer(handler: (req: IncomingMessage, res: ServerResponse) => void) {
  const seen: Seen[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      seen.push({ method: req.method ?? "", url: req.url ?? "", headers: req.headers, body: Buffer.concat(chunks).toString("utf8") });
      handler(req, res);
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    seen,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

const MiB = 1024 * 1024;
const limits = { maxResponseBytes: MiB, timeoutMs: 5_000 };

async function failureOf(p: Promise<unknown>): Promise<OutboundHttpError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(OutboundHttpError);
  return err as OutboundHttpError;
}

describe("boundedFetch", () => {
  let elsewhere: Awaited<ReturnType<typeof recordingServer>>;
  let origin: Awaited<ReturnType<typeof recordingServer>>;
  let route: (req: IncomingMessage, res: ServerResponse) => void = () => undefined;

  beforeAll(async () => {
    elsewhere = await recordingServer((_req, res) => res.end("{}"));
    origin = await recordingServer((req, res) => route(req, res));
  });
  afterAll(async () => {
    await origin?.close();
    await elsewhere?.close();
  });
  beforeEach(() => {
    origin.seen.length = 0;
    elsewhere.seen.length = 0;
  });

  it("passes an ordinary answer through untouched", async () => {
    route = (_req, res) => res.writeHead(200, { "content-type": "application/json" }).end('{"ok":true}');
    const res = await boundedFetch(`${origin.url}/x`, { method: "POST", body: "hi" }, limits);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ ok: true });
    expect(origin.seen[0]).toMatchObject({ method: "POST", body: "hi" });
  });

  for (const status of [301, 302, 303, 307, 308]) {
    it(`refuses a ${status} and sends nothing to its Location, even when the caller asked to follow`, async () => {
      route = (_req, res) => res.writeHead(status, { location: `${elsewhere.url}/harvest` }).end();
      const err = await failureOf(
        boundedFetch(`${origin.url}/evaluate`, { method: "POST", redirect: "follow", headers: { "x-api-key": "secret-key" }, body: '{"a":1}' }, limits),
      );
      expect(err.reason).toBe("redirect");
      expect(err.message).toContain(`HTTP ${status}`);
      expect(err.message).not.toContain("secret-key");
      expect(origin.seen).toHaveLength(1);
      expect(elsewhere.seen).toHaveLength(0);
    });
  }

  it("refuses an answer whose Content-Length is over the cap before reading it", async () => {
    route = (_req, res) => {
      res.writeHead(200, { "content-length": String(2 * MiB) });
      res.write(Buffer.alloc(1024, 0x61)); // then stalls: only the header can have been judged
    };
    const started = performance.now();
    const err = await failureOf(boundedFetch(origin.url, undefined, limits));
    expect(err.reason).toBe("too_large");
    // Far below the 5 s deadline: refused on the header, not by waiting for the rest.
    expect(performance.now() - started).toBeLessThan(2_500);
  });

  it("caps a chunked answer without Content-Length while it streams, and the read fails", async () => {
    let written = 0;
    route = (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" }); // no length: chunked
      const piece = Buffer.alloc(64 * 1024, 0x61);
      const pump = () => {
        // 4 MiB offered in total; the client must stop early.
        while (written < 4 * MiB && res.write(piece)) written += piece.length;
        if (written >= 4 * MiB) return res.end();
        res.once("drain", () => {
          written += piece.length;
          pump();
        });
      };
      res.on("error", () => undefined);
      pump();
    };
    const res = await boundedFetch(origin.url, undefined, limits);
    expect(res.headers.get("content-length")).toBeNull();
    expect(res.headers.get("transfer-encoding")).toBe("chunked");
    const err = await failureOf(res.text());
    expect(err.reason).toBe("too_large");
    expect(err.message).toContain(`${MiB} bytes`);
  });

  it("lets an answer of exactly the cap through, and refuses one byte more", async () => {
    route = (req, res) => {
      const size = req.url === "/over" ? MiB + 1 : MiB;
      res.writeHead(200, {}); // chunked, so only the stream count can tell
      res.end(Buffer.alloc(size, 0x62));
    };
    expect((await (await boundedFetch(`${origin.url}/exact`, undefined, limits)).arrayBuffer()).byteLength).toBe(MiB);
    expect((await failureOf((await boundedFetch(`${origin.url}/over`, undefined, limits)).arrayBuffer())).reason).toBe("too_large");
  });

  it("counts decoded bytes: a small gzip that inflates past the cap is refused", async () => {
    const bomb = gzipSync(Buffer.alloc(8 * MiB, 0x20));
    expect(bomb.length).toBeLessThan(64 * 1024);
    route = (_req, res) => res.writeHead(200, { "content-encoding": "gzip", "content-length": String(bomb.length) }).end(bomb);
    const res = await boundedFetch(origin.url, undefined, limits);
    expect((await failureOf(res.text())).reason).toBe("too_large");
  });

  it("times out a server that never answers", async () => {
    route = () => undefined;
    const started = performance.now();
    const err = await failureOf(boundedFetch(origin.url, undefined, { ...limits, timeoutMs: 300 }));
    expect(err.reason).toBe("timeout");
    expect(err.message).toMatch(/timed out/);
    expect(performance.now() - started).toBeLessThan(3_000);
  });

  it("times out a body that drips after the headers: the deadline covers the whole exchange", async () => {
    route = (_req, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      const timer = setInterval(() => res.write(" "), 50);
      res.on("close", () => clearInterval(timer));
    };
    const started = performance.now();
    const res = await boundedFetch(origin.url, undefined, { ...limits, timeoutMs: 400 });
    expect(res.status).toBe(200);
    const err = await failureOf(res.text());
    expect(err.reason).toBe("timeout");
    expect(performance.now() - started).toBeLessThan(3_000);
  });

  it("as a fetcher, honours the caller's own abort signal too", async () => {
    route = () => undefined;
    const controller = new AbortController();
    const pending = boundedFetcher(limits)(origin.url, { signal: controller.signal });
    setTimeout(() => controller.abort(), 50);
    await expect(pending).rejects.toThrow();
    expect(outboundFailureOf(await pending.catch((e: unknown) => e))).toBeUndefined();
  });

  it("finds our failure inside a client's wrapper error", () => {
    const ours = new OutboundHttpError("redirect", "x");
    expect(outboundFailureOf(new Error("Connection error.", { cause: ours }))).toBe(ours);
    expect(outboundFailureOf(new Error("other"))).toBeUndefined();
  });
});
