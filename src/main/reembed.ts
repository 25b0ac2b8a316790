import { SingleBar, Presets } from "cli-progress";
import type { AdminContext } from "./context.js";
import { createEmbeddingProvider } from "../judge/judge-factory.js";
import { countStaleChunks, reembedChunks } from "../policies/reembed.js";

/** `countersign policies reembed`: every tenant (or one), with a progress bar on stderr. */
export async function reembed(ctx: AdminContext, tenantId: string | undefined, json: boolean): Promise<void> {
  const embeddings = createEmbeddingProvider(ctx.config, ctx.secrets);
  const tenants = tenantId ? [tenantId] : await ctx.tenantDbs.listTenantIds();
  const results: { tenant_id: string; texts: number; dimensions: number | null }[] = [];
  for (const id of tenants) {
    const sql = await ctx.tenantDbs.get(id);
    const total = await countStaleChunks(sql, embeddings.model);
    // On a pipe (CI logs) the bar still prints, every two seconds, instead of redrawing in place.
    const bar =
      !json && total > 0
        ? new SingleBar(
            { format: `${id} [{bar}] {value}/{total} texts | ETA {eta}s`, stream: process.stderr, noTTYOutput: true, notTTYSchedule: 2000 },
            Presets.shades_classic,
          )
        : null;
    bar?.start(total, 0);
    const result = await reembedChunks(sql, embeddings, (done) => bar?.update(Math.min(done, total)));
    bar?.stop();
    results.push({ tenant_id: id, ...result });
  }
  const summary = results.map((r) => `${r.tenant_id}: ${r.texts} text(s) re-embedded${r.dimensions ? ` (${r.dimensions} dimensions)` : ""}`).join("\n");
  process.stdout.write(json ? `${JSON.stringify({ model: embeddings.model, tenants: results }, null, 2)}\n` : `${summary || "no tenants"}\nmodel: ${embeddings.model}\n`);
}
