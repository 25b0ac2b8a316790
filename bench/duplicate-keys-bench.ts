/**
 * The duplicate-name scan every JSON body goes through (src/tokens/duplicate-keys.ts), next to
 * JSON.parse of the same text in the same run: the scan must stay within a few times the parse, on
 * bodies shaped the ways a client could choose to make it slow (many names, escaped names, long
 * strings, deep arrays, number runs). Run alone with `npx tsx bench/duplicate-keys-bench.ts`.
 */
import { performance } from "node:perf_hooks";
import { findDuplicateKey } from "../src/tokens/duplicate-keys.js";

const ROUNDS = 30;

const shapes: Record<string, string> = {
  "40k names": JSON.stringify(Object.fromEntries(Array.from({ length: 40_000 }, (_, i) => [`key_${i}`, i]))),
  "5k records": JSON.stringify(Array.from({ length: 5_000 }, (_, i) => ({ id: i, name: `n${i}`, tags: ["a", "b"], meta: { x: 1.5, y: null, z: true } }))),
  "1 MB string": JSON.stringify({ blob: "x".repeat(1_000_000), s: Array.from({ length: 1_000 }, () => 'a"b\\c\u00e9') }),
  "20k escaped names": JSON.stringify(Object.fromEntries(Array.from({ length: 20_000 }, (_, i) => [`k\n${i}`, i]))),
  "100k numbers": JSON.stringify(Array.from({ length: 100_000 }, (_, i) => i * 1.25)),
  "backslash runs": `{"a":"${"\\\\".repeat(400_000)}\\"${"\\\\".repeat(100_000)}"}`,
};

function msPerRun(f: () => void): number {
  for (let i = 0; i < 5; i++) f();
  const t0 = performance.now();
  for (let i = 0; i < ROUNDS; i++) f();
  return (performance.now() - t0) / ROUNDS;
}

console.log("shape               size      JSON.parse   duplicate scan   scan/parse");
for (const [name, text] of Object.entries(shapes)) {
  const parse = msPerRun(() => JSON.parse(text));
  const scan = msPerRun(() => findDuplicateKey(text));
  console.log(
    `${name.padEnd(18)}  ${(text.length / 1e6).toFixed(2).padStart(5)} MB  ${parse.toFixed(2).padStart(8)} ms  ${scan.toFixed(2).padStart(11)} ms  ${(scan / parse).toFixed(2).padStart(10)}`,
  );
}
