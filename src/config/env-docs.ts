import type { EnvDocSection } from "./env-doc-types.js";
import { vaultSection } from "./env-docs-vault.js";
import { awsSection, emailSection } from "./env-docs-services.js";
import { judgeSection, ledgerSection } from "./env-docs-judge-ledger.js";

/**
 * What each environment variable means, keyed by its name in env-schema.ts: the source of
 * docs/configuration.md (`npm run docs`, src/config/configuration-reference.ts). Defaults are not
 * written here: the reference takes them from the schema itself, so the two cannot disagree. Only a
 * default the schema cannot state (one derived from another variable or the host) is given, as
 * `derivedDefault`, and only for a variable whose schema default is unset (test/unit/generated-docs.test.ts).
 * The sections live in env-docs-vault.ts, env-docs-services.ts and env-docs-judge-ledger.ts.
 */

export type { EnvDocSection, EnvVarDoc, EnvVarName } from "./env-doc-types.js";
export { tenantBundleFieldDocs } from "./env-docs-services.js";

/** The sections of docs/configuration.md, in reading order. */
export const envDocSections: EnvDocSection[] = [vaultSection, emailSection, awsSection, ledgerSection, judgeSection];
