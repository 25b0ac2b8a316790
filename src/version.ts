import { readFileSync } from "node:fs";

/**
 * The package version, read once from package.json. src/version.ts and dist/version.js both sit one
 * directory below the package root, so the same relative path serves the checkout and the build.
 */
export const VERSION: string = (JSON.parse(readFileSync(new URL("../package.json", import.meta.url), "utf8")) as { version: string }).version;
