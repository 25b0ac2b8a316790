import type { FastifyInstance } from "fastify";
import type { AddressInfo } from "node:net";
import { derivedPublicUrl, type Config } from "../config/config.js";
import { createContext, startWorkers, type AppContext, type ContextOverrides } from "./context.js";
import { listenEarly } from "../http/early-listener.js";
import { buildServer } from "../http/server.js";
import { bootstrapDefaultTenant } from "./bootstrap.js";
import { checkDataDir, markDataDir } from "./data-dir.js";

export interface RunningVault {
  ctx: AppContext;
  app: FastifyInstance;
  url: string;
  close(): Promise<void>;
}

/**
 * Starts a vault. The order is what makes a failed start leave nothing behind: the data directory is
 * checked (its permissions, and its format: a newer one is refused) and the port is bound before the
 * context creates any database, tenant or key; requests that arrive meanwhile get 503 not_ready. Then
 * the data directory's marker, the first-start tenant, workers and recovery, then the app.
 */
export async function startVault(configured: Config, overrides: ContextOverrides = {}): Promise<RunningVault> {
  checkDataDir(configured);
  const listener = await listenEarly(configured.http.host, configured.http.port, configured.http.limits);
  // Without VAULT_PUBLIC_URL the vault's address is derived; the port is the one bound (VAULT_PORT=0 picks one).
  const config: Config = configured.http.publicUrlSet
    ? configured
    : { ...configured, http: { ...configured.http, publicUrl: derivedPublicUrl(configured.http.host, (listener.server.address() as AddressInfo).port) } };
  let ctx: AppContext;
  try {
    ctx = await createContext(config, overrides);
  } catch (err) {
    await listener.close();
    throw err;
  }
  try {
    // The control database now has this binary's schema: say which data format the directory holds.
    markDataDir(config);
    const boot = await bootstrapDefaultTenant(ctx);
    if (boot.created) {
      if (boot.printed && config.bootstrap.printKey) {
        // Shown once, on stdout and not through the logger, so it never lands in log pipelines.
        process.stdout.write(
          `\nCountersign created tenant "default" (${boot.tenantId}).\nAdmin API key (shown once, store it now):\n\n  ${boot.apiKey}\n\n`,
        );
      }
      // After the key is shown: a crash while the tenant database is made loses no key (it is made on next use).
      await ctx.tenantDbs.get(boot.tenantId);
    } else if (boot.keylessTenantId) {
      // Left by an older version's start that died between the tenant and its key, or by revocations.
      const hint = `countersign keys create --tenant ${boot.keylessTenantId} --scope admin`;
      const when = config.database.kind === "pglite" ? " (with the vault stopped: the embedded database allows one process at a time)" : "";
      ctx.log.warn({ tenant_id: boot.keylessTenantId, hint }, 'tenant "default" has no active admin key');
      process.stderr.write(`\nTenant "default" (${boot.keylessTenantId}) has no active admin key. Create one${when} with:\n\n  ${hint}\n\n`);
    }
    if (ctx.signerGenerated) {
      const where = config.dataDir === "memory://" ? "in memory (lost at exit)" : "in the data directory";
      ctx.log.warn({ kid: ctx.signer.kid }, `generated a new signing key ${where}`);
    }
    const recovered = await startWorkers(ctx);
    if (recovered > 0) ctx.log.info({ recovered }, "re-enqueued unfinished clearance requests");
    // Requests keep getting 503 not_ready until the app is ready: Fastify may not see a request while
    // its plugins (the OpenAPI document among them) are still loading.
    let handler: Parameters<typeof listener.attach>[0] | undefined;
    const app = await buildServer(ctx, (h) => {
      handler = h;
      return listener.server;
    });
    await app.ready();
    listener.attach(handler!);
    const started = ctx;
    return {
      ctx: started,
      app,
      url: listener.url,
      async close() {
        // Stop accepting first; in-flight requests finish while the app and its workers close.
        const drained = listener.close();
        await app.close();
        // Keep-alive sockets whose last request finished during app.close() are idle now.
        listener.server.closeIdleConnections();
        await drained;
        await started.close();
      },
    };
  } catch (err) {
    await listener.close().catch(() => {});
    await ctx.close().catch(() => {});
    throw err;
  }
}
