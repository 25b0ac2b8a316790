import type { FastifyInstance } from "fastify";
import type { Config } from "../config/config.js";
import { createContext, startWorkers, type AppContext, type ContextOverrides } from "../context.js";
import { buildServer } from "../http/server.js";
import { bootstrapDefaultTenant } from "../tenancy/bootstrap.js";

export interface RunningVault {
  ctx: AppContext;
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

/** Starts a vault: context, first-start tenant, workers and recovery, then the HTTP listener. */
export async function startVault(config: Config, overrides: ContextOverrides = {}): Promise<RunningVault> {
  const ctx = await createContext(config, overrides);
  try {
    const boot = await bootstrapDefaultTenant(ctx);
    if (boot.created && boot.printed && config.bootstrap.printKey) {
      // Shown once, on stdout and not through the logger, so it never lands in log pipelines.
      process.stdout.write(
        `\nCountersign created tenant "default" (${boot.tenantId}).\nAdmin API key (shown once, store it now):\n\n  ${boot.apiKey}\n\n`,
      );
    }
    if (ctx.signerGenerated) {
      const where = config.dataDir === "memory://" ? "in memory (lost at exit)" : "in the data directory";
      ctx.log.warn({ kid: ctx.signer.kid }, `generated a new signing key ${where}`);
    }
    const recovered = await startWorkers(ctx);
    if (recovered > 0) ctx.log.info({ recovered }, "re-enqueued unfinished clearance requests");
    const app = await buildServer(ctx);
    const url = await app.listen({ host: config.http.host, port: config.http.port });
    return {
      ctx,
      app,
      url,
      async close() {
        await app.close();
        await ctx.close();
      },
    };
  } catch (err) {
    await ctx.close().catch(() => {});
    throw err;
  }
}
