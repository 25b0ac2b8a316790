import type { FastifyInstance } from "fastify";
import { boundedFetch } from "../../http-client/bounded-fetch.js";
import { sendProblem } from "../../http/problem.js";
import { VERSION } from "../../version.js";
import type { GateDeps } from "./call-context.js";

/**
 * /healthz (the process serves HTTP), /readyz (every upstream is connected and the vault answers its
 * /healthz: without either, every gated call would fail closed) and /metrics (the gateway's registry).
 */
export function gatewayProbes(app: FastifyInstance, deps: GateDeps): void {
  app.get("/healthz", async () => ({ status: "ok", version: VERSION }));

  app.get("/readyz", async (request, reply) => {
    const upstreams: Record<string, string> = {};
    await Promise.all(
      deps.upstreams.all.map(async (u) => {
        try {
          await u.connect();
          upstreams[u.name] = "connected";
        } catch (err) {
          upstreams[u.name] = `unreachable: ${(err as Error).message}`;
        }
      }),
    );
    let vault = "reachable";
    try {
      const res = await boundedFetch(`${deps.config.vault.url}/healthz`, {}, { timeoutMs: deps.config.vault.timeoutMs, maxResponseBytes: 64 * 1024 });
      await res.body?.cancel();
      if (res.status !== 200) vault = `unhealthy: HTTP ${res.status}`;
    } catch (err) {
      vault = `unreachable: ${(err as Error).message}`;
    }
    const down = Object.values(upstreams).some((s) => s !== "connected") || vault !== "reachable";
    if (down) return sendProblem(reply, request, "not_ready", "an upstream or the vault is not reachable", { upstreams, vault });
    return { status: "ready", upstreams, vault };
  });

  app.get("/metrics", async (_request, reply) => {
    reply.type(deps.metrics.registry.contentType);
    return deps.metrics.registry.metrics();
  });
}
