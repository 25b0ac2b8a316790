/**
 * Static serving of the reviewer console, and the rules that keep its CSP meaningful: no inline
 * script or style, no external origin, and data never parsed as HTML.
 */
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { consoleRoot, consoleRoutes } from "../../src/http/routes/console.js";

const files = readdirSync(consoleRoot).map((name) => ({ name, text: readFileSync(path.join(consoleRoot, name), "utf8") }));

describe("reviewer console static files", () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = Fastify({ routerOptions: { ignoreTrailingSlash: true } });
    consoleRoutes(app);
    await app.ready();
  });
  afterAll(() => app.close());

  it("serves the page at /console and /console/ with a strict CSP and no caching without revalidation", async () => {
    for (const url of ["/console", "/console/", "/console/index.html"]) {
      const res = await app.inject({ url });
      expect(res.statusCode, url).toBe(200);
      expect(res.headers["content-type"]).toBe("text/html; charset=utf-8");
      const csp = String(res.headers["content-security-policy"]);
      expect(csp).toContain("default-src 'self'");
      expect(csp).toContain("script-src 'self'");
      expect(csp).toContain("style-src 'self'");
      expect(csp).toContain("frame-ancestors 'none'");
      expect(csp).not.toContain("unsafe-");
      expect(res.headers["x-content-type-options"]).toBe("nosniff");
      expect(res.headers["cache-control"]).toBe("no-cache");
      expect(res.body).toContain('<script type="module" src="/console/app.js">');
    }
  });

  it("serves each asset with its content type and answers a matching ETag with 304", async () => {
    const types: Record<string, string> = { js: "text/javascript; charset=utf-8", css: "text/css; charset=utf-8", svg: "image/svg+xml" };
    for (const { name } of files.filter((f) => !f.name.endsWith(".html"))) {
      const res = await app.inject({ url: `/console/${name}` });
      expect(res.statusCode, name).toBe(200);
      expect(res.headers["content-type"], name).toBe(types[name.split(".").pop()!]);
      expect(res.headers["x-content-type-options"]).toBe("nosniff");
      const again = await app.inject({ url: `/console/${name}`, headers: { "if-none-match": String(res.headers.etag) } });
      expect(again.statusCode, name).toBe(304);
      expect(again.body).toBe("");
    }
  });

  it("serves the vendored @simplewebauthn/browser bundle itself (no CDN), as JavaScript with the console's headers", async () => {
    const res = await app.inject({ url: "/console/vendor/simplewebauthn-browser.js" });
    expect(res.statusCode).toBe(200);
    expect(res.headers["content-type"]).toBe("text/javascript; charset=utf-8");
    expect(res.headers["x-content-type-options"]).toBe("nosniff");
    // Revalidated every time: a vault upgrade that bumps the library must not leave the old copy running.
    expect(res.headers["cache-control"]).toBe("no-cache");
    expect(String(res.headers["content-security-policy"])).toContain("script-src 'self';");
    // Byte for byte the installed package's UMD build, the version package-lock.json pins.
    const require = createRequire(import.meta.url);
    const installed = readFileSync(path.resolve(path.dirname(require.resolve("@simplewebauthn/browser")), "../dist/bundle/index.umd.min.js"));
    expect(res.rawPayload.equals(installed)).toBe(true);
    const pinned = JSON.parse(readFileSync(path.resolve(consoleRoot, "../package.json"), "utf8")).dependencies["@simplewebauthn/browser"];
    expect(res.body.slice(0, 80)).toContain(`[@simplewebauthn/browser@${pinned}]`);
    expect(res.body).toContain("startAuthentication");
    const again = await app.inject({ url: "/console/vendor/simplewebauthn-browser.js", headers: { "if-none-match": String(res.headers.etag) } });
    expect(again.statusCode).toBe(304);
    // Only the named file: no walking the package tree or node_modules through the vendor path.
    for (const url of ["/console/vendor/", "/console/vendor/index.umd.min.js", "/console/vendor/../package.json", "/console/vendor/%2e%2e/%2e%2e/package.json"]) {
      expect((await app.inject({ url })).statusCode, url).toBe(404);
    }
  });

  it("loads the passkey library from the vault's own origin only, and the CSP allows no other script origin", async () => {
    const webauthn = files.find((f) => f.name === "webauthn.js")!.text;
    expect(webauthn).toContain('"/console/vendor/simplewebauthn-browser.js"');
    const csp = String((await app.inject({ url: "/console" })).headers["content-security-policy"]);
    const directives = new Map(csp.split(";").map((d) => d.trim().split(/\s+/)).map(([name, ...values]) => [name!, values]));
    // 'self' alone: a script (or a fetch) from a CDN or any other origin is blocked by the browser.
    expect(directives.get("script-src")).toEqual(["'self'"]);
    expect(directives.get("connect-src")).toEqual(["'self'"]);
    expect(directives.get("default-src")).toEqual(["'self'"]);
  });

  it("serves nothing else from the folder's neighbourhood", async () => {
    for (const url of ["/console/../package.json", "/console/%2e%2e/package.json", "/console/missing.js", "/console/session.js"]) {
      expect((await app.inject({ url })).statusCode, url).toBe(404);
    }
  });

  it("has no inline script, inline style, event-handler attribute or external origin", () => {
    const html = files.find((f) => f.name === "index.html")!.text;
    for (const tag of html.match(/<script\b[^>]*>/g) ?? []) expect(tag).toMatch(/\bsrc="\/console\/[\w.-]+\.js"/);
    expect(html).not.toMatch(/<style\b/i);
    expect(html).not.toMatch(/\sstyle=/i);
    expect(html).not.toMatch(/\son[a-z]+=/i);
    for (const { name, text } of files) {
      expect(text, name).not.toMatch(/https?:\/\/(?!www\.w3\.org\/2000\/svg)/);
      expect(text, name).not.toMatch(/@import|url\(/);
    }
  });

  it("never turns data into markup: no innerHTML, outerHTML, insertAdjacentHTML, document.write or eval in the scripts", () => {
    for (const { name, text } of files.filter((f) => f.name.endsWith(".js"))) {
      expect(text, name).not.toMatch(/\.(innerHTML|outerHTML)\b|insertAdjacentHTML|document\.write|\beval\(|new Function\(|setAttribute\(\s*["']style/);
    }
  });
});
