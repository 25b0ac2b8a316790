/**
 * VAULT_LEDGER_WITNESSES / _QUORUM / _TIMEOUT_MS as loadConfig reads them: the accepted form, and every
 * way a list can be wrong stopping the start with a message that names the variable. The keys are
 * built with the test-local C2SP code (test/helpers/c2sp-cosignature-verifier.ts), not with ours.
 */
import { generateKeyPairSync } from "node:crypto";
import { describe, expect, it } from "vitest";
import { ConfigError, loadConfig } from "../../src/config/config.js";
import { checkCosignatureKey } from "../../src/config/witness-config.js";
import { c2spWitnessVkey } from "../helpers/c2sp-cosignature-verifier.js";

const vkey = (name: string) => c2spWitnessVkey(name, generateKeyPairSync("ed25519").privateKey);
const w1 = vkey("witness.example/w1");
const w2 = vkey("witness.example/w2");
const list = (...items: unknown[]) => JSON.stringify(items);
const load = (env: Record<string, string>) => loadConfig({ DATABASE_URL: "memory://", ...env });

function refused(env: Record<string, string>): string {
  try {
    load(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error("the configuration was accepted");
}

describe("witness configuration", () => {
  it("is off by default: no witnesses, quorum 0, timeout 5000 ms", () => {
    expect(load({}).ledger.witnessing).toEqual({ witnesses: [], quorum: 0, timeoutMs: 5000 });
  });

  it("reads the JSON list, names each witness after its key, trims the URL's trailing slash, quorum defaults to 1", () => {
    const cfg = load({ VAULT_LEDGER_WITNESSES: list({ url: "https://w1.example/prefix/", key: w1 }, { url: "http://127.0.0.1:7380", key: w2 }), VAULT_LEDGER_WITNESS_TIMEOUT_MS: "250" });
    expect(cfg.ledger.witnessing).toEqual({
      witnesses: [
        { url: "https://w1.example/prefix", key: w1, name: "witness.example/w1" },
        { url: "http://127.0.0.1:7380", key: w2, name: "witness.example/w2" },
      ],
      quorum: 1,
      timeoutMs: 250,
    });
    expect(load({ VAULT_LEDGER_WITNESSES: list({ url: "https://a.example", key: w1 }, { url: "https://b.example", key: w2 }), VAULT_LEDGER_WITNESS_QUORUM: "2" }).ledger.witnessing.quorum).toBe(2);
  });

  it("refuses a quorum above the number of witnesses, or without any witness", () => {
    expect(refused({ VAULT_LEDGER_WITNESSES: list({ url: "https://a.example", key: w1 }), VAULT_LEDGER_WITNESS_QUORUM: "2" })).toMatch(
      /VAULT_LEDGER_WITNESS_QUORUM: is 2, more than the 1 witness\(es\) in VAULT_LEDGER_WITNESSES/,
    );
    expect(refused({ VAULT_LEDGER_WITNESS_QUORUM: "1" })).toMatch(/VAULT_LEDGER_WITNESS_QUORUM: is set but VAULT_LEDGER_WITNESSES lists no witness/);
    expect(refused({ VAULT_LEDGER_WITNESSES: list({ url: "https://a.example", key: w1 }), VAULT_LEDGER_WITNESS_QUORUM: "0" })).toMatch(/VAULT_LEDGER_WITNESS_QUORUM: must be an integer from 1 to 32/);
    expect(refused({ VAULT_LEDGER_WITNESS_TIMEOUT_MS: "5" })).toMatch(/VAULT_LEDGER_WITNESS_TIMEOUT_MS: must be an integer from 100 to 120000/);
  });

  it.each([
    ["not JSON", "url=key", /must be a JSON array/],
    ["an object", JSON.stringify({ url: "https://a.example", key: w1 }), /must be a JSON array of \{url, key\} objects/],
    ["a string item", list("https://a.example"), /\[0\] must be an object/],
    ["an unknown field", list({ url: "https://a.example", key: w1, quorum: 1 }), /\[0\] has unknown field\(s\) quorum/],
    ["no key", list({ url: "https://a.example" }), /\[0\]\.key must be/],
    ["a relative URL", list({ url: "/w1", key: w1 }), /\[0\]\.url is not a URL/],
    ["a file URL", list({ url: "file:///etc/passwd", key: w1 }), /\[0\]\.url must be http\(s\)/],
    ["credentials in the URL", list({ url: "https://user:pw@a.example", key: w1 }), /\[0\]\.url must not carry credentials/],
    ["a query", list({ url: "https://a.example/?x=1", key: w1 }), /without query or fragment/],
    ["a log key (type 0x01) for a witness key", list({ url: "https://a.example", key: w1.replace(/\+B/, "+A") }), /\[0\]\.key /],
    ["a key ID that does not match", list({ url: "https://a.example", key: w1.replace(/\+[0-9a-f]{8}\+/, "+00000000+") }), /key ID 00000000 does not match/],
    ["a truncated key", list({ url: "https://a.example", key: w1.slice(0, -4) }), /\[0\]\.key /],
    ["a duplicate key", list({ url: "https://a.example", key: w1 }, { url: "https://b.example", key: w1 }), /two witnesses share the key/],
    [
      "one public key under two names",
      (() => {
        const key = generateKeyPairSync("ed25519").privateKey;
        return list({ url: "https://a.example", key: c2spWitnessVkey("witness.example/a", key) }, { url: "https://b.example", key: c2spWitnessVkey("witness.example/b", key) });
      })(),
      /witness\.example\/a and witness\.example\/b are the same public key under two names/,
    ],
    ["a duplicate URL", list({ url: "https://a.example", key: w1 }, { url: "https://a.example/", key: w2 }), /two witnesses share the url/],
    ["33 witnesses", list(...Array.from({ length: 33 }, (_, i) => ({ url: `https://w${i}.example`, key: w1 }))), /lists 33 witnesses; at most 32/],
  ])("refuses %s, naming VAULT_LEDGER_WITNESSES", (_what, value, message) => {
    const text = refused({ VAULT_LEDGER_WITNESSES: value });
    expect(text).toMatch(/^Invalid configuration:\n {2}VAULT_LEDGER_WITNESSES: /);
    expect(text).toMatch(message);
  });

  it("checks a key's structure and ID from the spec's rules", () => {
    expect(checkCosignatureKey(w1)).toEqual({ name: "witness.example/w1" });
    expect(checkCosignatureKey("no-plus-signs")).toMatchObject({ problem: expect.stringMatching(/not a verifier key/) });
    expect(checkCosignatureKey(`has space+${w1.split("+").slice(1).join("+")}`)).toMatchObject({ problem: expect.stringMatching(/key name/) });
    // A key ID of digits only reads the same in upper case (about 1 key in 40): take one with a letter.
    let lettered = w1;
    while (!/\+[0-9a-f]*[a-f][0-9a-f]*\+/.test(lettered)) lettered = vkey("witness.example/w1");
    expect(checkCosignatureKey(lettered.replace(/\+([0-9a-f]{8})\+/, (_m, id: string) => `+${id.toUpperCase()}+`))).toMatchObject({ problem: expect.stringMatching(/lowercase hex/) });
    expect(checkCosignatureKey(`${w1}AAAA`)).toHaveProperty("problem");
  });
});
