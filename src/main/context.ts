import type { Config } from "../config/config.js";
import type { AppContext } from "../http/app-context.js";
import { openAdminContext } from "./admin-context.js";
import { buildPorts, type ContextOverrides } from "./ports.js";
import { buildServices } from "./services.js";

export type { AppContext, AppPorts, AppServices } from "../http/app-context.js";
export { openAdminContext, openControlDatabase, type AdminContext } from "./admin-context.js";
export type { ContextOverrides } from "./ports.js";

/**
 * The composition root: opens and migrates the control database, builds every port from config
 * (ports.ts), then the services on them (services.ts). Workers are started separately by
 * startWorkers().
 */
export async function createContext(config: Config, overrides: ContextOverrides = {}): Promise<AppContext> {
  const admin = await openAdminContext(config);
  let closeAnchor = async () => {};
  try {
    const built = await buildPorts(config, admin, overrides, (store) => (closeAnchor = () => store.close()));
    const services = buildServices(built);
    const { ports } = built;
    return {
      ...ports,
      ...services,
      async close() {
        // No new take-overs, then let running jobs finish, then hand what is left to a peer or the next start.
        await services.leaseSweeper.stop();
        await ports.queue.stop();
        // No job is running now: stop the condition worker threads, so a process that starts many vaults keeps none idle.
        await built.closeJudge();
        await services.grants.close();
        await services.replay.close();
        await services.leaseSweeper.releaseAll();
        await services.ledgerLoop.stop();
        await services.outboxWorker.stop();
        await services.stepauth.sweeper.stop();
        await services.reviewSweeper.stop();
        services.reviewBus.close();
        await built.knowledgeCheck;
        await ports.anchorStore.close();
        // Last: everything above that signs (the ledger loop's checkpoints) has stopped.
        ports.signer.close?.();
        ports.ledgerSigner.close?.();
        await admin.close();
      },
    };
  } catch (err) {
    await closeAnchor().catch(() => {});
    await admin.close().catch(() => {});
    throw err;
  }
}

/** Starts the clearance workers and re-enqueues whatever a previous process left unfinished. */
export async function startWorkers(ctx: AppContext): Promise<number> {
  ctx.queue.start((job, delivery) => ctx.clearance.processJob(job, delivery));
  ctx.ledgerLoop.start();
  ctx.outboxWorker.start();
  ctx.stepauth.sweeper.start();
  ctx.reviewSweeper.start();
  const recovered = await ctx.clearance.recover(await ctx.tenantDbs.listTenantIds());
  ctx.leaseSweeper.start();
  return recovered;
}
