import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify } from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";
import { describe, expect, it } from "vitest";
import { fromBase64Strict, toBase64, toHex, utf8 } from "../../src/protocols/encoding.js";
import { contentDigest, contentDigestMatches } from "../../src/protocols/http-signatures/content-digest.js";
import { headerReader, rfc9421SignatureBase, sigilumSignatureBase, sigilumTargetUri } from "../../src/protocols/http-signatures/signature-base.js";
import {
  formatSigilumSignatureInput,
  parseSigilumSignatureInput,
  SIGILUM_COMPONENTS_NO_BODY,
  SIGILUM_COMPONENTS_WITH_BODY,
} from "../../src/protocols/http-signatures/signature-input.js";

/** RFC 9421 Appendix B.1.4 key `test-key-ed25519` and the B.2.6 example, byte for byte. */
const B14_PUBLIC_SPKI = "MCowBQYDK2VwAyEAJrQLj5P/89iXES9+vFgrIy29clF9CC/oPPsw3c5D0bs=";
const B14_PRIVATE_PKCS8 = "MC4CAQAwBQYDK2VwBCIEIJ+DYvh6SEqVTm50DFtMDoQikTmiCqirVv9mWG9qfSnF";
const B26_PARAMS = '("date" "@method" "@path" "@authority" "content-type" "content-length");created=1618884473;keyid="test-key-ed25519"';
const B26_BASE = [
  '"date": Tue, 20 Apr 2021 02:07:55 GMT',
  '"@method": POST',
  '"@path": /foo',
  '"@authority": example.com',
  '"content-type": application/json',
  '"content-length": 18',
  `"@signature-params": ${B26_PARAMS}`,
].join("\n");
const B26_SIGNATURE = "wqcAqbmYJ2ji2glfAMaRy4gruYYnx2nEFN2HN6jrnDnQCK1u02Gb04v9EDgwUPiu4A0w6vuQv5lIp5WPpBKRCw==";

describe("rfc9421SignatureBase: RFC 9421 Appendix B.2.6", () => {
  const base = rfc9421SignatureBase(
    [
      { id: "date", value: "Tue, 20 Apr 2021 02:07:55 GMT" },
      { id: "@method", value: "POST" },
      { id: "@path", value: "/foo" },
      { id: "@authority", value: "example.com" },
      { id: "content-type", value: "application/json" },
      { id: "content-length", value: "18" },
    ],
    B26_PARAMS,
  );

  it("builds the 284-byte base, method case kept, no trailing LF", () => {
    expect(base).toBe(B26_BASE);
    expect(utf8(base).length).toBe(284);
    expect(base.endsWith("\n")).toBe(false);
  });

  it("reproduces sig-b26 from the private key bytes (noble and node:crypto agree) and verifies with the public key", () => {
    const pkcs8 = fromBase64Strict(B14_PRIVATE_PKCS8)!;
    const seed = pkcs8.slice(pkcs8.length - 32); // the PKCS#8 Ed25519 key ends with the 32-byte seed
    expect(toBase64(ed25519.sign(utf8(base), seed))).toBe(B26_SIGNATURE);
    const nodeKey = createPrivateKey({ key: Buffer.from(pkcs8), format: "der", type: "pkcs8" });
    expect(nodeSign(null, Buffer.from(base), nodeKey).toString("base64")).toBe(B26_SIGNATURE);

    const spki = fromBase64Strict(B14_PUBLIC_SPKI)!;
    const rawPub = spki.slice(spki.length - 32);
    expect(toHex(rawPub)).toMatch(/^26b40b8f.*ce43d1bb$/);
    expect(toHex(ed25519.getPublicKey(seed))).toBe(toHex(rawPub));
    expect(ed25519.verify(fromBase64Strict(B26_SIGNATURE)!, utf8(base), rawPub)).toBe(true);
    expect(nodeVerify(null, Buffer.from(base), createPublicKey({ key: Buffer.from(spki), format: "der", type: "spki" }), Buffer.from(B26_SIGNATURE, "base64"))).toBe(true);
    expect(ed25519.verify(fromBase64Strict(B26_SIGNATURE)!, utf8(base.replace("POST", "post")), rawPub)).toBe(false);
  });
});

describe("sigilumSignatureBase", () => {
  const headers: Record<string, string> = { "sigilum-namespace": "  acme  ", "x-multi": "a, b" };
  const req = { method: "PoSt", targetUri: "HTTPS://API.example.com:443?q=%41#frag", header: (n: string) => headers[n] };

  it("lowercases @method, normalises @target-uri (WHATWG, no fragment) and trims header values", () => {
    expect(sigilumSignatureBase(req, ["@method", "@target-uri", "sigilum-namespace", "x-multi"], "P")).toBe(
      ['"@method": post', '"@target-uri": https://api.example.com/?q=%41', '"sigilum-namespace": acme', '"x-multi": a, b', '"@signature-params": P'].join("\n"),
    );
  });

  it("refuses what it cannot resolve: a missing or empty header, an unknown derived component, a bad URL, a line break", () => {
    expect(sigilumSignatureBase(req, ["missing"], "P")).toBeNull();
    expect(sigilumSignatureBase({ ...req, header: () => "   " }, ["x"], "P")).toBeNull();
    expect(sigilumSignatureBase(req, ["@path"], "P")).toBeNull();
    expect(sigilumSignatureBase({ ...req, targetUri: "/relative" }, ["@target-uri"], "P")).toBeNull();
    expect(sigilumSignatureBase({ ...req, header: () => "a\nb" }, ["x"], "P")).toBeNull();
    expect(sigilumSignatureBase(req, ["@method"], "P\r")).toBeNull();
  });

  it("keeps existing escapes, drops the default port, gives a bare origin its /", () => {
    expect(sigilumTargetUri("http://h.example:80")).toBe("http://h.example/");
    expect(sigilumTargetUri("https://h.example:8443/a%2Fb?x=1&y=%20#z")).toBe("https://h.example:8443/a%2Fb?x=1&y=%20");
    expect(sigilumTargetUri("not a url")).toBeNull();
  });

  it("headerReader: case-insensitive names, repeated field lines joined with ', '", () => {
    const read = headerReader({ "X-A": ["1", "2"], "x-a": "3", "x-b": "v", "x-c": undefined });
    expect(read("x-a")).toBe("1, 2, 3");
    expect(read("X-B")).toBe("v");
    expect(read("x-c")).toBeUndefined();
    const fromHeaders = headerReader(new Headers([["x-a", "1"], ["x-a", "2"]]));
    expect(fromHeaders("X-A")).toBe("1, 2");
    expect(fromHeaders("nope")).toBeUndefined();
  });
});

describe("Signature-Input (reference §2)", () => {
  const parts = { components: SIGILUM_COMPONENTS_NO_BODY, created: 1700000000, keyid: "did:sigilum:a#ed25519-00", nonce: "n-1" };
  const value = formatSigilumSignatureInput(parts);

  it("formats and parses back, params rebuilt with the literal alg", () => {
    expect(value).toBe(
      'sig1=("@method" "@target-uri" "sigilum-namespace" "sigilum-subject" "sigilum-agent-key" "sigilum-agent-cert");created=1700000000;keyid="did:sigilum:a#ed25519-00";alg="ed25519";nonce="n-1"',
    );
    expect(parseSigilumSignatureInput(value)).toEqual({ ...parts, components: [...SIGILUM_COMPONENTS_NO_BODY], alg: "ed25519", params: value.slice(5) });
    const upper = parseSigilumSignatureInput(value.replace('alg="ed25519"', 'alg="ED25519"'))!;
    expect(upper.alg).toBe("ED25519");
    expect(upper.params).toBe(value.slice(5));
    expect(SIGILUM_COMPONENTS_WITH_BODY.indexOf("content-digest")).toBe(2);
  });

  it("does not judge the component set (that is step 6), but needs quoted tokens", () => {
    expect(parseSigilumSignatureInput(value.replace('"@method" ', ""))!.components).toHaveLength(5);
    expect(parseSigilumSignatureInput(value.replace('"@method" ', "  "))!.components).toHaveLength(5);
    expect(parseSigilumSignatureInput(value.replace('"@method"', "@method"))).toBeNull();
  });

  it.each([
    ["another label", value.replace("sig1=", "sig2=")],
    ["the docs' parameter order", 'sig1=("@method");created=1;nonce="n";alg="ed25519";keyid="k"'],
    ["a missing nonce", value.replace(';nonce="n-1"', "")],
    ["an extra parameter", `${value};expires=1`],
    ["leading space", ` ${value}`],
    ["an empty keyid", value.replace('keyid="did:sigilum:a#ed25519-00"', 'keyid=""')],
    ["created zero", value.replace("created=1700000000", "created=0")],
    ["created beyond safe integers", value.replace("created=1700000000", "created=99999999999999999999")],
    ["a negative created", value.replace("created=1700000000", "created=-1")],
  ])("refuses %s", (_what, bad) => {
    expect(parseSigilumSignatureInput(bad)).toBeNull();
  });

  it("refuses non-strings without throwing", () => {
    for (const bad of [undefined, null, 1, {}, []]) expect(parseSigilumSignatureInput(bad)).toBeNull();
  });
});

describe("content digest", () => {
  it("is sha-256=:<std base64>: and matches only the exact bytes", () => {
    const body = utf8('{"action":"approve"}');
    expect(contentDigest(body)).toBe("sha-256=:5toCTO6LRikiTvJ0Ha+F6ucUxaTs3wMsnaImDBR0NZg=:");
    expect(contentDigestMatches(" sha-256=:5toCTO6LRikiTvJ0Ha+F6ucUxaTs3wMsnaImDBR0NZg=: ", body)).toBe(true);
    expect(contentDigestMatches("sha-256=:5toCTO6LRikiTvJ0Ha+F6ucUxaTs3wMsnaImDBR0NZg=:", utf8('{"action":"reject"}'))).toBe(false);
    expect(contentDigestMatches("sha-512=:5toCTO6LRikiTvJ0Ha+F6ucUxaTs3wMsnaImDBR0NZg=:", body)).toBe(false);
    expect(contentDigestMatches(undefined, body)).toBe(false);
  });
});
