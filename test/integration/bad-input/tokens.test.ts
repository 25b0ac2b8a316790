/**
 * POST /consume-token: field validation and bad tokens (forged, key confusion, wrong claims,
 * never issued), binding mismatches that must not burn a token, and a second consume.
 *
 * Part of the bad-input suite (test/integration/bad-input/): every error is RFC 9457 problem+json
 * with a stable `code` from the catalog, bad input always gets a 4xx, never a 5xx or a crash, and
 * unknown fields are ignored only where the protocol asks (§6.11). This file starts its own vault on PGlite; every response's
 * status is recorded, and the last tests check that none was a 5xx and that the vault still answers.
 */
import { createHmac, generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { signClaims } from "../../../src/tokens/a-jwt.js";
import { LocalSigner } from "../../../src/tokens/signer.js";
import { describeClosingChecks, useBadInputVault } from "./suite-lifecycle.js";
import { b64json, b64u, long } from "./hostile-payloads.js";
import { expectFieldError, expectProblem } from "./problem-assertions.js";

const suite = useBadInputVault();

describe("POST /consume-token field validation", () => {
  const cases: { field: string; value: unknown }[] = [
    { field: "token", value: 5 },
    { field: "token", value: "" },
    { field: "token", value: null },
    { field: "token", value: [] },
    { field: "token", value: long(16_385) },
    { field: "tool_name", value: 5 },
    { field: "tool_name", value: "" },
    { field: "tool_args", value: [] },
    { field: "tool_args", value: "x" },
  ];
  it.each(cases)("$field = $value -> 400 validation_failed", async ({ field, value }) => {
    expectFieldError(await suite.vault.http("POST", "/consume-token", { key: suite.vault.agentKey, body: { token: "x.y.z", [field]: value } }), field);
  });
});

// ---------------------------------------------------------------------------------------------
// Tokens
// ---------------------------------------------------------------------------------------------

describe("POST /consume-token with bad tokens", () => {
  const invalid: { label: string; token: () => string | Promise<string> }[] = [
    { label: "garbage", token: () => "not-a-token" },
    { label: "three empty segments", token: () => ".." },
    { label: "a.b.c", token: () => "a.b.c" },
    { label: "a header that is not JSON", token: () => `${b64u("{")}.${b64json(suite.vault.forgedClaims())}.c2ln` },
    { label: "16,384 characters of junk", token: () => "x".repeat(16_384) },
    { label: "alg none", token: () => `${b64json({ alg: "none", kid: suite.vault.tokenHeader.kid, typ: "JWT" })}.${b64json(suite.vault.forgedClaims())}.` },
    {
      label: "HS256 keyed with the public key (key confusion)",
      token: () => {
        const input = `${b64json({ alg: "HS256", kid: suite.vault.tokenHeader.kid, typ: "JWT" })}.${b64json(suite.vault.forgedClaims())}`;
        const x = suite.vault.testVault.vault.ctx.signer.publicJwk.x;
        return `${input}.${b64u(createHmac("sha256", Buffer.from(x, "base64url")).update(input).digest())}`;
      },
    },
    {
      label: "HS256 keyed with the JWKS x string",
      token: () => {
        const input = `${b64json({ alg: "HS256", kid: suite.vault.tokenHeader.kid, typ: "JWT" })}.${b64json(suite.vault.forgedClaims())}`;
        const x = suite.vault.testVault.vault.ctx.signer.publicJwk.x;
        return `${input}.${b64u(createHmac("sha256", x).update(input).digest())}`;
      },
    },
    {
      label: "EdDSA from another key under the vault's kid",
      token: () => signClaims(JSON.stringify(suite.vault.forgedClaims()), new LocalSigner(suite.vault.tokenHeader.kid, generateKeyPairSync("ed25519").privateKey)),
    },
    {
      label: "EdDSA from another key under an unknown kid",
      token: () => signClaims(JSON.stringify(suite.vault.forgedClaims()), new LocalSigner("attacker-key", generateKeyPairSync("ed25519").privateKey)),
    },
    { label: "a numeric kid", token: () => `${b64json({ alg: "EdDSA", kid: 5 })}.${b64json(suite.vault.forgedClaims())}.c2ln` },
    { label: "an object kid", token: () => `${b64json({ alg: "EdDSA", kid: { __proto__: 1 } })}.${b64json(suite.vault.forgedClaims())}.c2ln` },
    { label: "a real token without its signature", token: () => `${suite.vault.approved.token.split(".").slice(0, 2).join(".")}.` },
    {
      label: "a real token's signature on other claims",
      token: () => {
        const [h, , s] = suite.vault.approved.token.split(".");
        return `${h}.${b64json(suite.vault.forgedClaims({ tool: "wire_transfer" }))}.${s}`;
      },
    },
    { label: "the vault's key but another audience", token: () => signClaims(JSON.stringify(suite.vault.forgedClaims({ aud: "someone-else" })), suite.vault.vaultSigner()) },
    { label: "the vault's key but another issuer", token: () => signClaims(JSON.stringify(suite.vault.forgedClaims({ iss: "evil" })), suite.vault.vaultSigner()) },
    { label: "the vault's key but sub is not clearance", token: () => signClaims(JSON.stringify(suite.vault.forgedClaims({ sub: "admin" })), suite.vault.vaultSigner()) },
    { label: "the vault's key but no tool claim", token: () => signClaims(JSON.stringify(suite.vault.forgedClaims({ tool: undefined })), suite.vault.vaultSigner()) },
    { label: "the vault's key but no exp", token: () => signClaims(JSON.stringify(suite.vault.forgedClaims({ exp: undefined })), suite.vault.vaultSigner()) },
    { label: "the vault's key but a numeric jti", token: () => signClaims(JSON.stringify(suite.vault.forgedClaims({ jti: 7 })), suite.vault.vaultSigner()) },
  ];
  it.each(invalid)("$label -> 401 token_invalid", async ({ token }) => {
    expectProblem(await suite.vault.http("POST", "/consume-token", { key: suite.vault.agentKey, body: { token: await token() } }), 401, "token_invalid");
  });

  it("a correctly signed token whose jti was never issued -> 404 token_not_found", async () => {
    const token = await signClaims(JSON.stringify(suite.vault.forgedClaims()), suite.vault.vaultSigner());
    expectProblem(await suite.vault.http("POST", "/consume-token", { key: suite.vault.agentKey, body: { token } }), 404, "token_not_found");
  });

  it("binding mismatches -> 403 without burning; then it burns once; then 409", async () => {
    const token = await suite.vault.freshToken();
    expectProblem(await suite.vault.http("POST", "/consume-token", { key: suite.vault.agentKey, body: { token, tool_name: "wire_transfer" } }), 403, "token_binding_mismatch");
    expectProblem(
      await suite.vault.http("POST", "/consume-token", { key: suite.vault.agentKey, body: { token, tool_args: { amount: 6 } } }),
      403,
      "token_binding_mismatch",
    );
    expect((await suite.vault.http("POST", "/consume-token", { key: suite.vault.agentKey, body: { token, tool_name: "stripe_refund", tool_args: { amount: 5 } } })).status).toBe(200);
    expectProblem(await suite.vault.http("POST", "/consume-token", { key: suite.vault.agentKey, body: { token } }), 409, "token_already_consumed");
  });
});

describeClosingChecks(suite, 35);
