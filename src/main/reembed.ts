import { SingleBar, Presets } from "cli-progress";
import pino from "pino";
import type { AdminContext } from "./context.js";
import { createEmbeddingProvider, createModelCredentials, tenantEmbeddings } from "../judge/judge-factory.js";
import { countStaleChunks, reembedChunks } from "../policies/reembed.js";

/**
 * `countersign policies reembed`: every tenant (or one), with a progress bar on stderr. Each
 * tenant's text is embedded with its own `embedding_api_key` when its bundle gives one, as the
 * vault does at registration; the others with EMBEDDING_API_KEY.
 */
export async function reembed(ctx: AdminContext, tenantId: string | undefined, json: boolean): Promise<void> {
  const embeddings = createEmbeddingProvider(ctx.config, ctx.secrets);
  // Its warnings (a tenant key this setup cannot use; they name the field, never the value) go to
  // stderr, like the progress bar: stdout carries the --json answer.
  const credentials = createModelCredentials(ctx.config, ctx.tenantKeys, pino({ level: ctx.config.log.level }, process.stderr));
  const tenants = tenantId ? [tenantId] : await ctx.tenantDbs.listTenantIds();
  const results: { tenant_id: string; texts: number; dimensions: number | null }[] = [];
  for (const id of tenants) {
    // Opening the tenant's database reads its bundle, so its own key is known from here on.
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
    const result = await reembedChunks(sql, tenantEmbeddings(embeddings, credentials, id), (done) => bar?.update(Math.min(done, total)));
    bar?.stop();
    results.push({ tenant_id: id, ...result });
  }
  const summary = results.map((r) => `${r.tenant_id}: ${r.texts} text(s) re-embedded${r.dimensions ? ` (${r.dimensions} dimensions)` : ""}`).join("\n");
  process.stdout.write(json ? `${JSON.stringify({ model: embeddings.model, tenants: results }, null, 2)}\n` : `${summary || "no tenants"}\nmodel: ${embeddings.model}\n`);
}
