import Fastify, { type FastifyInstance } from "fastify";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { argsBodyBudget } from "../../src/requests/request-schema.js";
import { registerJsonParser } from "../../src/http/json-body.js";
import { errorHandler } from "../../src/http/problem.js";

// The body parser's order of answers (json-body.ts), on a bare Fastify app with the real parser and
// error mapper: a route with the clearance budget, and one without.
describe("JSON body parser: one scan before parsing, deterministic order of answers", () => {
  let app: FastifyInstance;
  beforeAll(async () => {
    app = Fastify();
    registerJsonParser(app);
    app.setErrorHandler(errorHandler);
    app.post("/budgeted", { config: { jsonMemberBudget: argsBodyBudget({ maxNodes: 10_000, maxArrayLength: 1_000 }) } }, async (req) => ({ ok: req.body !== undefined }));
    app.post("/open", async (req) => ({ ok: req.body !== undefined }));
    await app.ready();
  });
  afterAll(() => app.close());

  const post = async (url: string, payload: string) => {
    const res = await app.inject({ method: "POST", url, headers: { "content-type": "application/json" }, payload });
    return { status: res.statusCode, body: res.json() as { code?: string; detail?: string; pointer?: string } };
  };
  const list = (n: number) => JSON.stringify(Array.from({ length: n }, (_, i) => `u${i}@example.com`));

  it("413 args_too_large at the crossed limit, whatever follows it; the same body elsewhere is parsed", async () => {
    const body = `{"tool_name":"t","tool_args":{"to":${list(45_000)}},"context":{}}`;
    expect(await post("/budgeted", body)).toMatchObject({ status: 413, body: { code: "args_too_large", detail: expect.stringContaining("/tool_args/to has 45000 items") } });
    // Malformed after the limit: still the budget, which the text reached well-formed.
    expect(await post("/budgeted", `${body.slice(0, 40_000)} oops`)).toMatchObject({ status: 413, body: { code: "args_too_large" } });
    expect(await post("/open", body)).toMatchObject({ status: 200, body: { ok: true } });
  });

  it("a syntax error before the limit, or anywhere for other problems, is 400 invalid_json", async () => {
    expect(await post("/budgeted", `{"tool_args":{"to":[1 2]}}`)).toMatchObject({ status: 400, body: { code: "invalid_json" } });
    expect(await post("/open", "[".repeat(10_000))).toMatchObject({ status: 400, body: { code: "invalid_json" } });
    expect(await post("/open", '{"a":1,"a":2,')).toMatchObject({ status: 400, body: { code: "invalid_json" } });
  });

  it("otherwise the first problem in reading order", async () => {
    expect(await post("/open", "[".repeat(65) + "]".repeat(65))).toMatchObject({ status: 400, body: { code: "json_too_deep" } });
    expect(await post("/open", '{"x":{"a":1,"a":2},"y":1e400}')).toMatchObject({ status: 400, body: { code: "duplicate_json_key", pointer: "/x/a" } });
    expect(await post("/open", '{"y":1e400,"x":{"a":1,"a":2}}')).toMatchObject({ status: 400, body: { code: "invalid_json", detail: expect.stringContaining("double range") } });
    expect(await post("/open", '{"s":"\\ud800"}')).toMatchObject({ status: 400, body: { code: "invalid_json", detail: expect.stringContaining("surrogate") } });
    expect(await post("/open", '{"__proto__":{"x":1}}')).toMatchObject({ status: 400, body: { code: "invalid_json" } });
  });
});
