import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadConfig } from "../config/config.js";
import { configurationReferenceMarkdown } from "../config/configuration-reference.js";
import { apiReferenceMarkdown } from "../http/openapi/api-reference.js";
import { buildServer } from "../http/server.js";
import { cliReferenceMarkdown } from "./cli/cli-reference.js";
import { buildProgram } from "./cli/program.js";
import { createContext } from "./context.js";

/** One page of docs/ that is generated from the code, never edited by hand. */
export interface GeneratedDoc {
  /** Relative to the repository root. */
  path: string;
  /** Where its content comes from, for the message that asks to regenerate it. */
  source: string;
  content: string;
}

/**
 * Every generated page, as `npm run docs` (scripts/generate-docs.ts) writes it and
 * test/unit/generated-docs.test.ts expects it: a change to the environment schema, the CLI or the
 * routes without regenerating fails the build.
 */
export async function generatedDocs(): Promise<GeneratedDoc[]> {
  return [
    { path: "docs/configuration.md", source: "src/config/env-schema.ts and src/config/env-docs.ts", content: configurationReferenceMarkdown() },
    { path: "docs/cli.md", source: "the CLI's command definitions (src/main/cli/)", content: cliReferenceMarkdown(buildProgram()) },
    { path: "docs/api.md", source: "the routes' OpenAPI descriptions (GET /openapi.json)", content: apiReferenceMarkdown(await servedOpenApiDocument()) },
  ];
}

/**
 * The document a vault serves at /openapi.json, from a throwaway in-memory vault: the same routes and
 * schemas as a real one, nothing written to disk but a temporary directory removed at the end.
 */
async function servedOpenApiDocument(): Promise<Record<string, unknown>> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "cs-docs-"));
  try {
    const config = loadConfig({ DATABASE_URL: "memory://", VAULT_DATA_DIR: dir, VAULT_LEDGER_ANCHOR_DIR: path.join(dir, "anchors"), LOG_LEVEL: "silent" });
    const ctx = await createContext(config);
    try {
      const app = await buildServer(ctx);
      try {
        const res = await app.inject({ method: "GET", url: "/openapi.json" });
        if (res.statusCode !== 200) throw new Error(`GET /openapi.json answered ${res.statusCode}: ${res.body.slice(0, 500)}`);
        return res.json() as Record<string, unknown>;
      } finally {
        await app.close();
      }
    } finally {
      await ctx.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
