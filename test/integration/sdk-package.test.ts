import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fullBundle, KID, signer } from "../helpers/proof-bundle-fixture.js";

/**
 * `import { Countersign } from "countersign/sdk"` from a built package: the SDK and what it reaches
 * are compiled (as `npm run build` does, with declarations) into a package laid out like the
 * published one, with this repository's package.json (its "exports"), and imported by name from a
 * consumer, in JavaScript and in TypeScript (the "types" condition). The same build then runs with
 * Node's Buffer and process globals removed, as in an edge runtime, and verifies a proof bundle and
 * hashes arguments with fetch/WebCrypto and plain JavaScript only.
 */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

function run(cmd: string, args: string[], cwd: string): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { cwd, env: { ...process.env, NODE_OPTIONS: "" }, timeout: 240_000 }, (err, stdout, stderr) => {
      resolve({ code: err ? (typeof err.code === "number" ? err.code : -1) : 0, stdout: String(stdout), stderr: String(stderr) });
    });
  });
}

describe("the countersign/sdk package export", () => {
  let dir: string;
  let pkg: string;

  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), "cs-sdk-pkg-"));
    pkg = path.join(dir, "node_modules/countersign");
    mkdirSync(pkg, { recursive: true });
    writeFileSync(path.join(pkg, "package.json"), readFileSync(path.join(ROOT, "package.json")));
    // The SDK's own files and what they import, compiled like tsconfig.build.json (rootDir src).
    const tsc = path.join(ROOT, "node_modules/typescript/bin/tsc");
    const build = await run(process.execPath, [tsc, "--rootDir", "src", "--outDir", path.join(pkg, "dist"), "--declaration", "--module", "NodeNext", "--moduleResolution", "NodeNext", "--target", "ES2022", "--lib", "ES2023", "--types", "node", "--strict", "--noUncheckedIndexedAccess", "--skipLibCheck", "src/sdk/index.ts"], ROOT);
    expect(build.code, build.stdout + build.stderr).toBe(0);
    // Its runtime dependencies, as npm would install them beside it.
    mkdirSync(path.join(dir, "node_modules"), { recursive: true });
    // @noble/post-quantum (StepAuth's ML-DSA-65) needs @noble/ciphers; @bufbuild/cel (evaluateRouting) its spec, re2 and protobuf.
    const deps = ["jose", "zod", "@noble/curves", "@noble/hashes", "@noble/post-quantum", "@noble/ciphers", "@bufbuild/cel", "@bufbuild/cel-spec", "@bufbuild/re2", "@bufbuild/protobuf"];
    for (const dep of deps) cpSync(path.join(ROOT, "node_modules", dep), path.join(dir, "node_modules", dep), { recursive: true });
    cpSync(path.join(ROOT, "node_modules/@types"), path.join(dir, "node_modules/@types"), { recursive: true });
    writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "consumer", type: "module", private: true }));
  }, 300_000);
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("resolves by name from JavaScript and exports the client, the functions and the error classes", async () => {
    const script = 'const m = await import("countersign/sdk"); console.log(JSON.stringify(Object.keys(m).sort()));';
    const out = await run(process.execPath, ["--input-type=module", "-e", script], dir);
    expect(out.code, out.stderr).toBe(0);
    const names = JSON.parse(out.stdout) as string[];
    for (const name of ["Countersign", "argsHash", "verifyWebhook", "verifyBundleWith", "CountersignError", "VaultUnavailableError", "TokenVerificationError", "TokenAlreadyConsumedError", "ApprovalNotReusableError", "ClearanceDeniedError"]) {
      expect(names).toContain(name);
    }
  });

  it("type-checks a TypeScript consumer against the declarations (the types condition)", async () => {
    writeFileSync(
      path.join(dir, "consumer.ts"),
      [
        'import { Countersign, TokenVerificationError, type Clearance } from "countersign/sdk";',
        'const cs = new Countersign({ baseUrl: "http://127.0.0.1:1", apiKey: "k" });',
        'const wait: Promise<Clearance> = cs.requestClearance({ tool: "t", args: { a: 1 }, agentId: "x" }, { waitSeconds: 5 });',
        "const code: string = new TokenVerificationError(\"expired\", \"m\").code;",
        "void wait.catch(() => code);",
        // A wrong call must not type-check: proves the types are real, not `any`.
        "// @ts-expect-error agentId is required",
        'void cs.requestClearance({ tool: "t" });',
      ].join("\n"),
    );
    const tsc = path.join(ROOT, "node_modules/typescript/bin/tsc");
    const out = await run(process.execPath, [tsc, "--noEmit", "--strict", "--module", "NodeNext", "--moduleResolution", "NodeNext", "--target", "ES2022", "--lib", "ES2023", "--types", "node", "--skipLibCheck", "consumer.ts"], dir);
    expect(out.code, out.stdout + out.stderr).toBe(0);
  }, 120_000);

  it("runs without Node's Buffer and process: verifies a proof bundle in plain JavaScript, hashes args with WebCrypto", async () => {
    const bundle = await fullBundle();
    const jwks = { keys: [{ ...signer.publicJwk, kid: KID }] };
    writeFileSync(path.join(dir, "input.json"), JSON.stringify({ bundle, jwks }));
    const script = `
      import { readFileSync } from "node:fs";
      const out = (text) => process.stdout.write(text);
      const { bundle, jwks } = JSON.parse(readFileSync("input.json", "utf8"));
      const keep = globalThis.process;
      delete globalThis.Buffer;
      globalThis.process = undefined;
      const { verifyBundleWith, argsHash } = await import("countersign/sdk");
      const good = verifyBundleWith(bundle, { jwks });
      bundle.event.receipt_signature = (bundle.event.receipt_signature.startsWith("A") ? "B" : "A") + bundle.event.receipt_signature.slice(1);
      const bad = verifyBundleWith(bundle, { jwks });
      const hash = await argsHash({ amount: 1 });
      globalThis.process = keep;
      out(JSON.stringify({ buffer: typeof Buffer, good: good.ok, failed: bad.checks.filter((c) => !c.ok).map((c) => c.name), hash }));
    `;
    const res = await run(process.execPath, ["--input-type=module", "-e", script], dir);
    expect(res.code, res.stderr).toBe(0);
    expect(JSON.parse(res.stdout)).toEqual({ buffer: "undefined", good: true, failed: ["receipt signature"], hash: createHash("sha256").update('{"amount":1}').digest("hex") });
  }, 120_000);
});
