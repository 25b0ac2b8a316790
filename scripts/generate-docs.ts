/**
 * `npm run docs`: writes the generated reference pages (configuration, CLI, API) from the code.
 * test/unit/generated-docs.test.ts fails when a committed page differs from what this writes.
 */
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { generatedDocs } from "../src/main/reference-docs.js";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

for (const doc of await generatedDocs()) {
  const file = path.join(root, doc.path);
  let before: string | undefined;
  try {
    before = readFileSync(file, "utf8");
  } catch {
    before = undefined;
  }
  if (before === doc.content) {
    process.stdout.write(`${doc.path}: up to date\n`);
  } else {
    writeFileSync(file, doc.content);
    process.stdout.write(`${doc.path}: written (from ${doc.source})\n`);
  }
}
