import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { FastifyInstance, FastifyReply, FastifyRequest } from "fastify";
import { z } from "zod";
import { documented } from "../openapi/route-doc.js";

/**
 * The reviewer console: a handful of static files served from memory. The folder sits at the package
 * root, three levels above both src/http/routes (tsx) and dist/http/routes (npm start), like migrations/.
 */
export const consoleRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../../console");

const contentTypes: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".svg": "image/svg+xml",
};

/**
 * No inline script or style anywhere in the console, so 'self' is enough and an injected <script>
 * or style attribute cannot run. connect-src 'self' covers fetch and EventSource to the vault.
 */
const securityHeaders = {
  "content-security-policy":
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  "x-content-type-options": "nosniff",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  // Revalidate every time (the ETag makes that cheap): a vault upgrade must never leave stale JS running.
  "cache-control": "no-cache",
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
}

function assetOf(body: Buffer, type: string): Asset {
  return { body, type, etag: `"${createHash("sha256").update(body).digest("base64url").slice(0, 27)}"` };
}

/**
 * Third-party browser code the console runs, served by the vault itself (never a CDN: the CSP allows
 * 'self' only, and a reviewer's approval must not depend on another origin's integrity). Each is read
 * from the installed package, so the version served is the one package-lock.json pins; a vault upgrade
 * changes the ETag and the no-cache revalidation picks it up.
 */
const VENDORED: Record<string, { pkg: string; file: string }> = {
  // The UMD build (one file, sets globalThis.SimpleWebAuthnBrowser); its ESM build is ~20 files importing each other.
  "simplewebauthn-browser.js": { pkg: "@simplewebauthn/browser", file: "../dist/bundle/index.umd.min.js" },
};

/** Reads the vendored files once at start-up; a missing package stops start-up rather than failing the first enrolment. */
export function loadVendorAssets(): Map<string, Asset> {
  const require = createRequire(import.meta.url);
  const assets = new Map<string, Asset>();
  for (const [name, { pkg, file }] of Object.entries(VENDORED)) {
    // The package exports only its entry (script/index.js); the bundle sits beside it under dist/.
    const body = readFileSync(path.resolve(path.dirname(require.resolve(pkg)), file));
    assets.set(name, assetOf(body, contentTypes[".js"]!));
  }
  return assets;
}

/** Reads the console's files once at start-up; a missing folder stops start-up rather than serving 404s later. */
export function loadConsoleAssets(dir = consoleRoot): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  for (const name of readdirSync(dir).sort()) {
    const type = contentTypes[path.extname(name)];
    if (!type) continue;
    assets.set(name, assetOf(readFileSync(path.join(dir, name)), type));
  }
  if (!assets.has("index.html")) throw new Error(`reviewer console: ${path.join(dir, "index.html")} is missing`);
  return assets;
}

const consoleDoc = documented({
  summary: "The reviewer console (an HTML page)",
  description:
    "Reviewers sign in with their API key; the page then uses a session cookie. Static files, served from memory with a strict " +
    "Content-Security-Policy and an ETag (`If-None-Match` answers 304).",
  tags: ["console"],
  auth: "none",
  responses: { 200: { description: "The console's page.", mediaType: "text/html; charset=utf-8", schema: z.string(), example: "<!doctype html>\n<html lang=\"en\">…</html>" } },
});

/**
 * GET /console (and /console/, by the router's ignoreTrailingSlash) plus /console/<file>, one route per known file,
 * and /console/vendor/<file> for the vendored browser libraries.
 */
export function consoleRoutes(app: FastifyInstance, assets = loadConsoleAssets(), vendor = loadVendorAssets()) {
  const serve = (asset: Asset) => async (request: FastifyRequest, reply: FastifyReply) => {
    reply.headers(securityHeaders).header("etag", asset.etag);
    if (request.headers["if-none-match"] === asset.etag) return reply.code(304).send();
    return reply.type(asset.type).send(asset.body);
  };
  const index = assets.get("index.html")!;
  app.get("/console", { config: consoleDoc }, serve(index));
  // The page's own files: part of the console, not of the API.
  const hidden = documented({ ...consoleDoc.openapi, hidden: true });
  for (const [name, asset] of assets) app.get(`/console/${name}`, { config: hidden }, serve(asset));
  for (const [name, asset] of vendor) app.get(`/console/vendor/${name}`, { config: hidden }, serve(asset));
}
