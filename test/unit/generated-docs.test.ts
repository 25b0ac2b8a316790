import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { configurationReferenceMarkdown, schemaDefaultOf } from "../../src/config/configuration-reference.js";
import { envDocSections, tenantBundleFieldDocs } from "../../src/config/env-docs.js";
import { envSchema } from "../../src/config/env-schema.js";
import { generatedDocs, type GeneratedDoc } from "../../src/main/reference-docs.js";
import { tenantBundleSchema } from "../../src/tenancy/tenant-secrets.js";

const ROOT = path.resolve(fileURLToPath(new URL("../..", import.meta.url)));

describe("generated reference pages", () => {
  const PAGES = ["docs/configuration.md", "docs/cli.md", "docs/api.md"];
  let generated: GeneratedDoc[];
  beforeAll(async () => {
    generated = await generatedDocs();
  });

  it("are the configuration, CLI and API references", () => {
    expect(generated.map((d) => d.path)).toEqual(PAGES);
  });

  it.each(PAGES)("%s is what `npm run docs` writes now", (page) => {
    const doc = generated.find((d) => d.path === page)!;
    let committed: string;
    try {
      committed = readFileSync(path.join(ROOT, page), "utf8");
    } catch {
      committed = "";
    }
    expect(committed === doc.content, `${page} is out of date with ${doc.source}: run npm run docs (${firstDifference(committed, doc.content)})`).toBe(true);
  });
});

/** Where two texts part, for the failure message: the line number and both versions of that line. */
function firstDifference(committed: string, generated: string): string {
  const a = committed.split("\n");
  const b = generated.split("\n");
  const i = a.findIndex((line, n) => line !== b[n]);
  const at = i === -1 ? a.length : i;
  return `first difference at line ${at + 1}: the file has ${JSON.stringify(a[at] ?? "(end)")}, the code gives ${JSON.stringify(b[at] ?? "(end)")}`;
}

describe("the configuration reference (src/config/env-docs.ts)", () => {
  const schemaNames = Object.keys(envSchema.shape).sort();
  const documented = envDocSections.flatMap((s) => Object.keys(s.variables));
  const sdkOnly = envDocSections.flatMap((s) => Object.keys(s.sdkVariables ?? {}));

  it("documents every variable of the schema exactly once", () => {
    const missing = schemaNames.filter((n) => !documented.includes(n));
    expect(missing, `add these to src/config/env-docs.ts, then run npm run docs`).toEqual([]);
    const twice = documented.filter((n, i) => documented.indexOf(n) !== i);
    expect(twice, "documented in more than one place").toEqual([]);
  });

  it("documents nothing the schema does not read, except what the AWS SDK reads itself", () => {
    const stale = documented.filter((n) => !schemaNames.includes(n));
    expect(stale, "no longer in src/config/env-schema.ts: remove from src/config/env-docs.ts").toEqual([]);
    expect(sdkOnly.filter((n) => schemaNames.includes(n)), "read by the schema: document under variables, not sdkVariables").toEqual([]);
  });

  it("states a default by hand only where the schema has none", () => {
    const contradicting = envDocSections.flatMap((s) =>
      Object.entries(s.variables)
        .filter(([name, doc]) => doc?.derivedDefault !== undefined && schemaDefaultOf(name) !== undefined)
        .map(([name]) => name),
    );
    expect(contradicting, "these have a default in env-schema.ts: drop derivedDefault, the page shows the schema's").toEqual([]);
  });

  it("shows the schema's defaults in the page", () => {
    const page = configurationReferenceMarkdown();
    expect(page).toContain("| `VAULT_PORT` | `8000` |");
    expect(page).toContain("| `VAULT_PRINT_BOOTSTRAP_KEY` | `true` |");
    expect(page).toContain("| `DATABASE_URL` | unset |");
    expect(page).toContain("| `VAULT_LEDGER_KEY_ID` | `<VAULT_KEY_ID>.ledger` |");
  });

  it("documents exactly the fields of a tenant's secret bundle", () => {
    expect(Object.keys(tenantBundleFieldDocs).sort()).toEqual(Object.keys(tenantBundleSchema.shape).sort());
  });
});
