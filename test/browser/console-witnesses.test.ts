/**
 * The console's witness display (console/merkle.js, WebCrypto Ed25519) against cosignatures made by
 * the test-local C2SP code (test/helpers/c2sp-cosignature-verifier.ts). Runs in Node, whose global
 * crypto.subtle is the WebCrypto API the browser has, and once in headless Chromium, where the
 * cosignatures must verify (Ed25519 in WebCrypto), not merely be listed.
 */
import { generateKeyPairSync } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { c2spCosign, c2spWitnessVkey } from "../helpers/c2sp-cosignature-verifier.js";
import { launchChromium } from "./chromium.js";

type Result = { name: string; state: "verified" | "invalid" | "listed" | "absent"; timestamp?: number };
let witnessCosignatures: (note: unknown, witnesses: unknown) => Promise<Result[]>;
let witnessSummary: (bundle: unknown, view: unknown) => Promise<string>;

beforeAll(async () => {
  const url = pathToFileURL(path.resolve(import.meta.dirname, "../../console/merkle.js")).href;
  ({ witnessCosignatures, witnessSummary } = await import(url));
});

const body = "vault.example.com/ledger/acme\n5\npEK8pxObHfKKS8CQQLAeSmC3AqCLQD7eW0JsuOzMfHo=\n";
/** The inclusion checkpoint `body` is the C2SP form of. */
const head = { tree_size: 5, root_hash: Buffer.from("pEK8pxObHfKKS8CQQLAeSmC3AqCLQD7eW0JsuOzMfHo=", "base64").toString("hex") };
const logLine = "\u2014 vault.example.com/ledger/acme 8tYxmCvZPE7//tSJw87oEvHwrT2ROydR//ZneAdGshswRd43dBnp4MysZ6jJNjDFg4k3qmBgOlQ2BUlExZLrsriQ8wU=\n";
const witness = (name: string) => {
  const key = generateKeyPairSync("ed25519").privateKey;
  return { name, key, vkey: c2spWitnessVkey(name, key) };
};
const [w1, w2, w3] = [witness("witness.example/w1"), witness("witness.example/w2"), witness("witness.example/w3")];
const configured = [w1, w2, w3].map((w) => ({ name: w.name, key: w.vkey }));

describe("console/merkle.js witness cosignatures", () => {
  it("names the configured witnesses whose cosignature verifies, with the time they signed", async () => {
    const note = `${body}\n${logLine}${c2spCosign(body, w1.name, w1.key, 1_767_225_600n)}${c2spCosign(body, w3.name, w3.key, 1_767_225_601n)}`;
    expect(await witnessCosignatures(note, configured)).toEqual([
      { name: w1.name, state: "verified", timestamp: 1_767_225_600 },
      { name: w2.name, state: "absent" },
      { name: w3.name, state: "verified", timestamp: 1_767_225_601 },
    ]);
    const summary = await witnessSummary({ c2sp_checkpoint: note, inclusion: { checkpoint: { checkpoint_id: 7, ...head } } }, { quorum: 2, witnesses: configured });
    expect(summary).toBe(`Witnesses: cosigned by ${w1.name}, ${w3.name} (2 of 3; quorum 2).`);
  });

  it("calls a cosignature over another checkpoint invalid, and ignores keys it was not given", async () => {
    const other = body.replace("\n5\n", "\n6\n");
    const stranger = witness("witness.example/w1");
    const note = `${body}\n${logLine}${c2spCosign(other, w1.name, w1.key, 1n)}${c2spCosign(body, stranger.name, stranger.key, 2n)}`;
    expect(await witnessCosignatures(note, configured)).toEqual([
      { name: w1.name, state: "invalid", timestamp: 1 },
      { name: w2.name, state: "absent" },
      { name: w3.name, state: "absent" },
    ]);
    expect(await witnessSummary({ c2sp_checkpoint: note, inclusion: { checkpoint: { checkpoint_id: 9, ...head } } }, { quorum: 1, witnesses: configured })).toBe(
      `Witnesses: INVALID cosignature from ${w1.name}.`,
    );
  });

  it("claims no cosignature for a proof that leads to another tree head than the cosigned one (as verify-bundle)", async () => {
    const note = `${body}\n${logLine}${c2spCosign(body, w1.name, w1.key, 1n)}${c2spCosign(body, w2.name, w2.key, 2n)}`;
    const elsewhere = { checkpoint_id: 8, tree_size: 6, root_hash: "ab".repeat(32) };
    expect(await witnessSummary({ c2sp_checkpoint: note, inclusion: { checkpoint: elsewhere } }, { quorum: 2, witnesses: configured })).toBe(
      "Witnesses: the cosigned checkpoint (tree size 5) is not the one the proof leads to (tree size 6), so its cosignatures prove nothing here.",
    );
    const sameSizeOtherRoot = { ...head, checkpoint_id: 7, root_hash: "ab".repeat(32) };
    expect(await witnessSummary({ c2sp_checkpoint: note, inclusion: { checkpoint: sameSizeOtherRoot } }, { quorum: 2, witnesses: configured })).toMatch(/is not the one the proof leads to/);
    expect(await witnessSummary({ c2sp_checkpoint: note, inclusion: { checkpoint: { ...head, checkpoint_id: 7 } } }, { quorum: 2, witnesses: configured })).toBe(
      `Witnesses: cosigned by ${w1.name}, ${w2.name} (2 of 3; quorum 2).`,
    );
  });

  it("says nothing without witnesses, and never throws on hostile input", async () => {
    expect(await witnessSummary({ c2sp_checkpoint: `${body}\n${logLine}` }, { quorum: 0, witnesses: [] })).toBe("");
    expect(await witnessSummary({ c2sp_checkpoint: `${body}\n${logLine}`, inclusion: { checkpoint: { checkpoint_id: 3, ...head } } }, { quorum: 1, witnesses: configured })).toBe(
      "Witnesses: no witness has cosigned checkpoint 3 yet (quorum 1).",
    );
    for (const note of [undefined, 42, "", "no blank line"]) expect(await witnessCosignatures(note, configured)).toEqual([]);
    const allAbsent = configured.map((w) => ({ name: w.name, state: "absent" }));
    for (const line of ["!!!", "A".repeat(200), ""]) {
      expect(await witnessCosignatures(`${body}\n\u2014 ${w1.name} ${line}\n`, configured)).toEqual(allAbsent);
    }
    expect(await witnessCosignatures(`${body}\n${logLine}`, "not a list")).toEqual([]);
    expect(await witnessCosignatures(`${body}\n${logLine}`, [{ name: "x", key: "not a key" }, null, { key: w1.vkey.replace(/\+[0-9a-f]{8}\+/, "+00000000+") }])).toEqual([
      { name: "x", state: "absent" },
      { name: "?", state: "absent" },
      { name: "?", state: "absent" },
    ]);
  });
});

describe("console/merkle.js witness cosignatures in Chromium", () => {
  let server: http.Server;
  let browser: Awaited<ReturnType<typeof launchChromium>>;
  beforeAll(async () => {
    const merkle = readFileSync(path.resolve(import.meta.dirname, "../../console/merkle.js"));
    server = http.createServer((req, res) => {
      if (req.url === "/merkle.js") res.writeHead(200, { "content-type": "text/javascript" }).end(merkle);
      else res.writeHead(200, { "content-type": "text/html" }).end("<!doctype html><title>t</title>");
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    browser = await launchChromium();
  });
  afterAll(async () => {
    await browser?.close();
    await new Promise((resolve) => server?.close(resolve));
  });

  it("verifies the cosignatures with the browser's own Ed25519", async () => {
    const page = await browser.newPage();
    await page.goto(`http://127.0.0.1:${(server.address() as AddressInfo).port}/`);
    const note = `${body}\n${logLine}${c2spCosign(body, w2.name, w2.key, 1_767_225_602n)}`;
    // A string, so the test runner's transform leaves the page's own dynamic import alone.
    const results = await page.evaluate(`import("/merkle.js").then((m) => m.witnessCosignatures(${JSON.stringify(note)}, ${JSON.stringify(configured)}))`);
    expect(results).toEqual([
      { name: w1.name, state: "absent" },
      { name: w2.name, state: "verified", timestamp: 1_767_225_602 },
      { name: w3.name, state: "absent" },
    ]);
  });
});
