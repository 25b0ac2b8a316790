/**
 * Where the main thread spends its time on one hostile /request-clearance body (issue 11 item 5: a
 * 45,000-address list, ~1 MB): JSON.parse, the walk of the parsed value (jsonProblem), the
 * duplicate-name scan and the args budget, each on its own, then the single pre-parse scan that
 * replaced them in the body parser (json-scan.ts): with the default budget it stops at item 1,001
 * (plus a count of the rest for the message). Run with `npx tsx bench/json-body-bench.ts`.
 */
import { performance } from "node:perf_hooks";
import { argsBudgetViolation } from "../src/requests/request-schema.js";
import { jsonProblem } from "../src/http/json-body.js";
import { findDuplicateKey } from "../src/tokens/duplicate-keys.js";

const ROUNDS = 30;
const to = Array.from({ length: 44_999 }, (_, i) => `u${i}@example.com`);
to.push("mallory@evil.test");
const text = JSON.stringify({ tool_name: "send_email", tool_args: { to, subject: "hi" }, context: { policy_id: "hostile-cel" } });

function msPerRun(f: () => unknown): number {
  for (let i = 0; i < 5; i++) f();
  const t0 = performance.now();
  for (let i = 0; i < ROUNDS; i++) f();
  return (performance.now() - t0) / ROUNDS;
}

const parsed = JSON.parse(text) as { tool_args: unknown; context: unknown };
const rows: [string, () => unknown][] = [
  ["JSON.parse", () => JSON.parse(text)],
  ["prototype-key regex (secure-json-parse)", () => /"(?:_|\\u005[Ff])(?:_|\\u005[Ff])(?:p|\\u0070)(?:r|\\u0072)(?:o|\\u006[Ff])(?:t|\\u0074)(?:o|\\u006[Ff])(?:_|\\u005[Ff])(?:_|\\u005[Ff])"\s*:/.test(text)],
  ["jsonProblem", () => jsonProblem(parsed, 64)],
  ["findDuplicateKey", () => findDuplicateKey(text)],
  ["argsBudgetViolation", () => argsBudgetViolation(parsed, { maxNodes: 10_000, maxArrayLength: 1_000 })],
];
console.log(`body ${(text.length / 1e6).toFixed(2)} MB`);
for (const [name, f] of rows) console.log(`${name.padEnd(42)} ${msPerRun(f).toFixed(2).padStart(8)} ms`);

const { scanJson } = await import("../src/tokens/json-scan.js");
const budget = { members: ["tool_args", "context"], maxNodes: 10_000, maxArrayLength: 1_000 };
const scanRows: [string, () => unknown][] = [
  ["scanJson, default budget (refuses early)", () => scanJson(text, { maxDepth: 64, budget })],
  ["scanJson, budget raised (whole body)", () => scanJson(text, { maxDepth: 64, budget: { ...budget, maxNodes: 200_000, maxArrayLength: 100_000 } })],
  ["scanJson, no budget (whole body)", () => scanJson(text, { maxDepth: 64 })],
];
console.log(JSON.stringify(scanJson(text, { maxDepth: 64, budget })));
for (const [name, f] of scanRows) console.log(`${name.padEnd(42)} ${msPerRun(f).toFixed(2).padStart(8)} ms`);
