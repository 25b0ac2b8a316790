/**
 * The OpenAPI contract (issue 14): every route the vault registers is in /openapi.json (or is a static
 * asset of the console or the docs page), every example in it validates against its schema, live answers
 * validate against the same schemas, and the document is valid OpenAPI 3.1.
 */
import { Validator } from "@seriousme/openapi-schema-validator";
import { Ajv2020 } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiReferenceMarkdown } from "../../src/http/openapi/api-reference.js";
import { registeredRoutes } from "../../src/http/openapi/route-registry.js";
import { VERSION } from "../../src/version.js";
import { call, newKey, newPgliteDir, refundPolicy, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

type Json = Record<string, any>;

/** The only routes allowed outside the document: the docs page's and the console's own files. */
// The console's static files, and the browser libraries it vendors (@simplewebauthn/browser under /console/vendor/).
const UNDOCUMENTED = [/^\/docs$/, /^\/docs\//, /^\/console\/[^/]+$/, /^\/console\/vendor\/[^/]+\.js$/];
const METHODS = ["get", "put", "post", "delete", "patch"];

// ajv-formats is CommonJS with a default export; under NodeNext the callable sits on .default.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => void;

/** Compiles a schema of the document with the document's components in reach of its $refs. */
function validatorFor(doc: Json) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  // Many operations share a schema (problem details, the clearance answer): compile each once.
  const compiled = new Map<string, ReturnType<typeof ajv.compile>>();
  return (schema: Json) => {
    const key = JSON.stringify(schema);
    if (!compiled.has(key)) compiled.set(key, ajv.compile({ ...schema, components: doc.components }));
    return compiled.get(key)!;
  };
}

/** Every example in the document with the schema it illustrates, named by where it sits. */
function examplesOf(doc: Json): { where: string; schema: Json; value: unknown }[] {
  const found: { where: string; schema: Json; value: unknown }[] = [];
  const fromContent = (where: string, content: Json | undefined) => {
    for (const [type, media] of Object.entries(content ?? {}) as [string, Json][]) {
      if (media.example !== undefined) found.push({ where: `${where} ${type}`, schema: media.schema, value: media.example });
      for (const [name, ex] of Object.entries(media.examples ?? {}) as [string, Json][]) found.push({ where: `${where} ${type} ${name}`, schema: media.schema, value: ex.value });
    }
  };
  for (const [path, item] of Object.entries(doc.paths) as [string, Json][]) {
    for (const method of METHODS.filter((m) => item[m])) {
      const op = item[method];
      fromContent(`${method.toUpperCase()} ${path} request`, op.requestBody?.content);
      for (const [status, response] of Object.entries(op.responses) as [string, Json][]) fromContent(`${method.toUpperCase()} ${path} ${status}`, response.content);
    }
  }
  return found;
}

describe("the OpenAPI document", () => {
  let db: TestDatabase;
  let v: TestVault;
  let doc: Json;
  let agent: string;
  let compile: ReturnType<typeof validatorFor>;

  /** Checks a live answer against the schema the document gives for its path, method, status and type. */
  function expectDocumented(method: string, path: string, res: { status: number; headers: Headers; body: unknown }) {
    const response = doc.paths[path]?.[method]?.responses?.[String(res.status)];
    expect(response, `${method} ${path} ${res.status} is documented`).toBeDefined();
    const type = String(res.headers.get("content-type")).split(";")[0]!;
    const media = Object.entries(response.content as Json).find(([t]) => t.split(";")[0] === type)?.[1] as Json | undefined;
    expect(media, `${method} ${path} ${res.status} documents ${type}`).toBeDefined();
    const validate = compile(media!.schema);
    expect(validate(res.body), `${method} ${path}: ${JSON.stringify(validate.errors)}`).toBe(true);
  }

  beforeAll(async () => {
    db = newPgliteDir();
    v = await startTestVault(db);
    agent = await newKey(v, "agent");
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy })).status).toBe(200);
    const res = await call(v.url, "GET", "/openapi.json");
    expect(res.status).toBe(200);
    doc = res.body;
    compile = validatorFor(doc);
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("documents every route the server registers, except the console's and the docs page's static files", () => {
    const routes = registeredRoutes(v.vault.app);
    const gets = new Set(routes.filter((r) => r.method === "GET").map((r) => r.url));
    // Fastify adds a HEAD route beside each GET; the document describes the GET.
    const real = routes.filter((r) => !(r.method === "HEAD" && gets.has(r.url)));
    const missing = real
      .filter((r) => !UNDOCUMENTED.some((allowed) => allowed.test(r.url)))
      .map((r) => `${r.method} ${r.url.replace(/:([A-Za-z0-9_]+)/g, "{$1}")}`)
      .filter((route) => {
        const [method, path] = route.split(" ") as [string, string];
        return doc.paths[path]?.[method.toLowerCase()] === undefined;
      });
    expect(missing).toEqual([]);
    // Hidden is for static files only: an API route cannot leave the document by saying so.
    expect(real.filter((r) => r.hidden && !UNDOCUMENTED.some((allowed) => allowed.test(r.url))).map((r) => `${r.method} ${r.url}`)).toEqual([]);
    // The allow-list is not vacuous: the docs page and the console's files are registered.
    expect(real.some((r) => r.url.startsWith("/docs/"))).toBe(true);
    expect(real.some((r) => /^\/console\/.+\.js$/.test(r.url))).toBe(true);
  });

  it("describes only routes that exist", () => {
    const registered = new Set(registeredRoutes(v.vault.app).map((r) => `${r.method.toLowerCase()} ${r.url.replace(/:([A-Za-z0-9_]+)/g, "{$1}")}`));
    const described = Object.entries(doc.paths).flatMap(([path, item]) => METHODS.filter((m) => (item as Json)[m]).map((m) => `${m} ${path}`));
    expect(described.length).toBeGreaterThan(30);
    expect(described.filter((op) => !registered.has(op))).toEqual([]);
  });

  it("has examples that validate against their schemas", () => {
    const examples = examplesOf(doc);
    // A request body example, a success example and problem examples for the key routes at least.
    expect(examples.length).toBeGreaterThan(100);
    for (const path of ["/request-clearance", "/consume-token", "/.well-known/jwks.json", "/ledger/proof/bundle"]) {
      expect(examples.some((e) => e.where.includes(` ${path} 200 `)), path).toBe(true);
    }
    const failures = examples.flatMap(({ where, schema, value }) => {
      const validate = compile(schema);
      return validate(value) ? [] : [`${where}: ${JSON.stringify(validate.errors)}`];
    });
    expect(failures).toEqual([]);
  });

  it("rejects an example that does not match (so the check above can fail)", () => {
    const op = doc.paths["/request-clearance"].post;
    const validate = compile(op.responses["200"].content["application/json"].schema);
    expect(validate({ ...op.responses["200"].content["application/json"].example, decision_status: "maybe" })).toBe(false);
    expect(compile(op.requestBody.content["application/json"].schema)({ tool_args: {} })).toBe(false);
  });

  it("is valid OpenAPI 3.1", async () => {
    const result = await new Validator().validate(structuredClone(doc));
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.openapi).toBe("3.1.0");
    expect(doc.info).toMatchObject({ title: "Countersign vault API", version: VERSION });
    expect(Object.keys(doc.components.securitySchemes).sort()).toEqual(["apiKey", "consoleSession"]);
  });

  it("answers as documented on the key routes (live answers against the document's schemas)", async () => {
    const args = { amount: 45, currency: "usd", order_id: "ord-openapi" };
    const approved = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: args, agent_id: "agent-7" } });
    expect(approved.body.status).toBe("approved");
    expectDocumented("post", "/request-clearance", approved);
    const review = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: 450 } } });
    expect(review.body.status).toBe("pending_review");
    expectDocumented("post", "/request-clearance", review);
    expectDocumented("get", "/clearance-status/{request_id}", await call(v.url, "GET", `/clearance-status/${approved.body.request_id}`, { key: agent }));
    const minted = await call(v.url, "POST", "/mint-token", {
      key: agent,
      body: { tool_name: "stripe_refund", tool_args: args, agent_id: "agent-7", policy_version_id: approved.body.policy_version_id, original_request_id: approved.body.request_id },
    });
    expectDocumented("post", "/mint-token", minted);
    const consumed = await call(v.url, "POST", "/consume-token", { key: agent, body: { token: approved.body.token, tool_name: "stripe_refund", tool_args: args } });
    expect(consumed.status).toBe(200);
    expectDocumented("post", "/consume-token", consumed);
    // A refusal is documented too, as problem+json with its code in the schema's list.
    const again = await call(v.url, "POST", "/consume-token", { key: agent, body: { token: approved.body.token } });
    expect(again.body.code).toBe("token_already_consumed");
    expectDocumented("post", "/consume-token", again);
    expectDocumented("get", "/.well-known/jwks.json", await call(v.url, "GET", "/.well-known/jwks.json"));
    await v.vault.ctx.ledgerLoop.drain();
    expectDocumented("get", "/ledger", await call(v.url, "GET", "/ledger", { key: agent }));
    expectDocumented("get", "/ledger/checkpoints", await call(v.url, "GET", "/ledger/checkpoints", { key: agent }));
    expectDocumented("get", "/ledger/proof/bundle", await call(v.url, "GET", `/ledger/proof/bundle?request_id=${approved.body.request_id}`, { key: agent }));
    expectDocumented("get", "/readyz", await call(v.url, "GET", "/readyz"));
    expectDocumented("get", "/clearance-status/{request_id}", await call(v.url, "GET", "/clearance-status/nope", { key: agent }));
  });

  it("renders the markdown reference with every operation, the same way each time", () => {
    const markdown = apiReferenceMarkdown(doc);
    expect(apiReferenceMarkdown(structuredClone(doc))).toBe(markdown);
    const operations = Object.entries(doc.paths).flatMap(([path, item]) => METHODS.filter((m) => (item as Json)[m]).map((m) => `${m.toUpperCase()} ${path}`));
    for (const op of operations) expect(markdown, op).toContain(`### \`${op}\``);
    expect(markdown.match(/^\| (GET|PUT|POST|DELETE|PATCH) \| \[/gm)).toHaveLength(operations.length);
    // The anchors other pages link to.
    for (const anchor of ["# API reference", '<a id="order-of-body-checks">', "## Errors", "## Idempotency-Key"]) expect(markdown).toContain(anchor);
  });

  it("links the console, the docs and the document from GET /, and reports the version on /healthz", async () => {
    const root = await call(v.url, "GET", "/");
    expect(root.body).toEqual({ name: "Countersign", version: VERSION, links: { console: "/console", docs: "/docs", openapi: "/openapi.json" } });
    expectDocumented("get", "/", root);
    const health = await call(v.url, "GET", "/healthz");
    expect(health.body).toEqual({ status: "ok", version: VERSION });
    expectDocumented("get", "/healthz", health);
  });

  it("serves the API reference page from the package, under a strict CSP of its own", async () => {
    const page = await fetch(`${v.url}/docs`);
    expect(page.status).toBe(200);
    const html = await page.text();
    const csp = String(page.headers.get("content-security-policy"));
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).not.toContain("unsafe-");
    expect(csp).not.toMatch(/https?:/);
    const sources = [...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]!);
    expect(sources.length).toBeGreaterThan(3);
    for (const src of sources) expect(src, "no CDN").toMatch(/^\/docs\/static\//);
    expect(html).not.toMatch(/<script>(?!\s*<\/script>)|<style>/);
    for (const src of sources) expect((await fetch(`${v.url}${src}`)).status, src).toBe(200);
    // The console keeps its own policy.
    expect((await fetch(`${v.url}/console`)).headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
  });
});
