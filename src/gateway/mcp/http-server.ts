import { randomUUID } from "node:crypto";
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from "fastify";
import { StreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/streamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import type { Server } from "@modelcontextprotocol/sdk/server/index.js";
import { errorHandler } from "../../http/problem.js";
import { agentAccessGuard } from "./agent-access.js";
import type { GateDeps } from "./call-context.js";
import { gatewayProbes } from "./probes.js";
import { createSessionServer } from "./session.js";

interface Session {
  transport: StreamableHTTPServerTransport;
  server: Server;
  lastSeen: number;
}

/** Sessions beyond this are refused (503) rather than let a client exhaust memory. */
const MAX_SESSIONS = 10_000;
/** A session nobody used for this long is closed (its pending memory goes with it). */
const IDLE_MS = 60 * 60 * 1000;

/**
 * The streamable HTTP transport for agents: POST/GET/DELETE /mcp, one MCP session per
 * Mcp-Session-Id, plus /healthz, /readyz and /metrics. A request with an Origin header is refused
 * unless that origin is allowed (the spec's DNS-rebinding rule: a web page must not drive the gateway).
 */
export function buildMcpHttpApp(deps: GateDeps, listenHost?: string): { app: FastifyInstance; closeSessions(): Promise<void> } {
  const app = Fastify({ logger: false, bodyLimit: deps.config.limits.maxRequestBytes });
  app.setErrorHandler(errorHandler);
  const sessions = new Map<string, Session>();
  const refused = agentAccessGuard(deps.config, listenHost);

  const sweep = setInterval(() => {
    const now = Date.now();
    for (const [id, s] of sessions) if (now - s.lastSeen > IDLE_MS) void s.transport.close();
  }, 60_000);
  sweep.unref();

  const jsonRpcError = (reply: FastifyReply, status: number, message: string) =>
    reply.code(status).send({ jsonrpc: "2.0", error: { code: -32000, message }, id: null });

  const handle = async (request: FastifyRequest, reply: FastifyReply) => {
    if (refused(request, reply)) return reply;
    const sid = request.headers["mcp-session-id"];
    let session = typeof sid === "string" ? sessions.get(sid) : undefined;
    if (!session) {
      if (sid !== undefined) return jsonRpcError(reply, 404, "Session not found");
      if (request.method !== "POST" || !isInitializeRequest(request.body)) return jsonRpcError(reply, 400, "Bad Request: no Mcp-Session-Id and not an initialize request");
      if (sessions.size >= MAX_SESSIONS) return jsonRpcError(reply, 503, "Too many MCP sessions");
      session = await openSession(deps, sessions);
    }
    session.lastSeen = Date.now();
    // The SDK writes the answer (JSON or an SSE stream) to the raw response itself.
    reply.hijack();
    try {
      await session.transport.handleRequest(request.raw, reply.raw, request.body);
    } catch (err) {
      // The SDK answers its own errors; anything else must not leave the socket open or end the process.
      deps.log.error({ err: (err as Error).message }, "MCP transport failed on a request");
      if (reply.raw.headersSent) reply.raw.end();
      else reply.raw.writeHead(500, { "content-type": "application/json" }).end(JSON.stringify({ jsonrpc: "2.0", error: { code: -32603, message: "Internal error" }, id: null }));
    }
  };
  app.post("/mcp", handle);
  app.get("/mcp", handle);
  app.delete("/mcp", handle);
  gatewayProbes(app, deps);

  return {
    app,
    async closeSessions() {
      clearInterval(sweep);
      await Promise.all([...sessions.values()].map((s) => s.transport.close().catch(() => undefined)));
      sessions.clear();
    },
  };
}

async function openSession(deps: GateDeps, sessions: Map<string, Session>): Promise<Session> {
  const connectionId = randomUUID();
  const { server } = createSessionServer(deps, connectionId);
  const session: Session = {
    server,
    lastSeen: Date.now(),
    transport: new StreamableHTTPServerTransport({
      sessionIdGenerator: () => randomUUID(),
      onsessioninitialized: (id) => {
        sessions.set(id, session);
      },
      onsessionclosed: (id) => {
        sessions.delete(id);
      },
      maxRequestBodySize: deps.config.limits.maxRequestBytes,
    }),
  };
  session.transport.onclose = () => {
    if (session.transport.sessionId) sessions.delete(session.transport.sessionId);
    void server.close().catch(() => undefined);
  };
  await server.connect(session.transport);
  return session;
}
