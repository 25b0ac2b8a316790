import { describe, expect, it } from "vitest";
import { utf8 } from "../../src/protocols/encoding.js";
import { peekSenderId, validateAuthorizationRequest } from "../../src/protocols/stepauth/authorization-request.js";
import { STEPAUTH_CATEGORIES } from "../../src/protocols/stepauth/categories.js";
import { requestDigest } from "../../src/protocols/stepauth/decision.js";
import { MAX_ENTRIES, MAX_ENTRY_DEPTH } from "../../src/protocols/stepauth/labeled-entries.js";

/** The hub's checks of an AuthorizationRequest (reference §3), each with its code, in order. */
const HUB = "hub.example.com";
const NOW = new Date("2026-01-01T00:01:00Z");

// The reference's worked example (§5): 294 bytes of compact JSON.
const WORKED =
  '{"requestId":"req_1","senderId":"sp.example.com","recipientId":"hub.example.com","timestamp":"2026-01-01T00:00:00Z","expiresAt":"2026-01-01T00:30:00Z","principal":{"subject":"email:a@b.com"},"action":{"type":"sp.example.deploy","category":"code.deploy","summary":"Deploy the payments service"}}';

type Json = Record<string, any>;
const base = (): Json => JSON.parse(WORKED);
const validate = (r: Json | string, now = NOW) => validateAuthorizationRequest(utf8(typeof r === "string" ? r : JSON.stringify(r)), { hubEntity: HUB, now });
const codeOf = (r: Json | string, now = NOW) => {
  const v = validate(r, now);
  return v.ok ? "ok" : v.code;
};
const mutate = (change: (r: Json) => void) => {
  const r = base();
  change(r);
  return r;
};
const entry = (key: string, value: unknown, label = key) => ({ key, label, value });
const chain = (operators: number) => {
  const principal: Json = { subject: "email:a@b.com" };
  let at = principal;
  for (let i = 0; i < operators; i++) at = at.operator = { subject: `persistent:op${i}` };
  return principal;
};

describe("the worked requestDigest vector (reference §5)", () => {
  it("is GINWmDZPJBEmPJGkzAABL81UE0jKEVbBSCbOzTZsxzk= over the exact 294 bytes, and the request is valid", () => {
    const bytes = utf8(WORKED);
    expect(bytes.length).toBe(294);
    expect(requestDigest(bytes)).toBe("GINWmDZPJBEmPJGkzAABL81UE0jKEVbBSCbOzTZsxzk=");
    expect(validate(WORKED)).toEqual({ ok: true, request: base() });
  });

  it("changes with any byte (the digest is over bytes, not over a re-serialisation)", () => {
    expect(requestDigest(utf8(WORKED.replace('"req_1",', '"req_1" ,')))).not.toBe("GINWmDZPJBEmPJGkzAABL81UE0jKEVbBSCbOzTZsxzk=");
  });
});

describe("validateAuthorizationRequest", () => {
  it("reads every field of §3, drops unknown members, and fills empty labels", () => {
    const full = mutate((r) => {
      r.callbackUrl = "https://sp.example.com/cb";
      r.principal = { subject: "persistent:u:1", attributes: [entry("team", "payments", "Team")], operator: { subject: "email:op@b.com", attributes: [{ key: "k", value: "v" }] }, type: "human" };
      r.action = { ...r.action, name: "Deploy", details: [entry("device", [entry("serial", "X1")])], target: { id: "svc-1", kind: "service" }, approver: "group:release", extra: 1 };
      r.policyVersion = "v3";
      r.unknownTopLevel = { anything: [1, 2] };
    });
    const v = validate(full);
    expect(v.ok).toBe(true);
    const request = (v as { request: Json }).request;
    expect(request.unknownTopLevel).toBeUndefined();
    expect(request.action.extra).toBeUndefined();
    expect(request.principal).toEqual({ subject: "persistent:u:1", attributes: [entry("team", "payments", "Team")], operator: { subject: "email:op@b.com", attributes: [{ key: "k", label: "", value: "v" }] } });
    expect(Object.keys(request)).toEqual(["requestId", "senderId", "recipientId", "timestamp", "expiresAt", "callbackUrl", "principal", "action", "policyVersion"]);
    expect(request.action).toEqual({ type: "sp.example.deploy", category: "code.deploy", name: "Deploy", summary: "Deploy the payments service", details: [entry("device", [entry("serial", "X1")])], target: { id: "svc-1", kind: "service" }, approver: "group:release" });
  });

  it("malformed_request: not UTF-8, not JSON, not an object, a member named twice, a lone surrogate, wrong types", () => {
    expect(validateAuthorizationRequest(new Uint8Array([0x7b, 0xc3, 0x28, 0x7d]), { hubEntity: HUB, now: NOW })).toMatchObject({ ok: false, code: "malformed_request" });
    for (const text of ["", "[]", "null", '"x"', "{", WORKED.replace('"req_1"', '"req_1","requestId":"req_2"'), WORKED.replace("Deploy the", "Deploy \\ud800 the")]) {
      expect(codeOf(text), text.slice(0, 60)).toBe("malformed_request");
    }
    for (const change of [(r: Json) => (r.requestId = 5), (r: Json) => (r.principal = "email:a@b.com"), (r: Json) => (r.action = []), (r: Json) => (r.action.details = {}), (r: Json) => (r.principal.operator = 3), (r: Json) => (r.action.target = "t"), (r: Json) => (r.policyVersion = 1)]) {
      expect(codeOf(mutate(change))).toBe("malformed_request");
    }
  });

  it("wrong_recipient comes right after JSON, before the field rules", () => {
    expect(codeOf(mutate((r) => (r.recipientId = "other.example.com")))).toBe("wrong_recipient");
    expect(codeOf(mutate((r) => ((r.recipientId = "other.example.com"), (r.requestId = ""), (r.action.category = "nope"))))).toBe("wrong_recipient");
    expect(codeOf(mutate((r) => delete r.recipientId))).toBe("malformed_request");
  });

  it("malformed_request for each missing required field (absent, null or empty)", () => {
    const paths = [["requestId"], ["senderId"], ["timestamp"], ["expiresAt"], ["action", "type"], ["action", "category"], ["action", "summary"], ["principal", "subject"]];
    for (const path of paths) {
      for (const empty of [undefined, null, ""]) {
        const r = mutate((x) => {
          const parent = path.length === 2 ? x[path[0]!] : x;
          if (empty === undefined) delete parent[path.at(-1)!];
          else parent[path.at(-1)!] = empty;
        });
        const v = validate(r);
        expect(v, path.join(".")).toMatchObject({ ok: false, code: "malformed_request", message: `missing ${path.join(".")}` });
      }
    }
    expect(codeOf(mutate((r) => delete r.action))).toBe("malformed_request");
    expect(codeOf(mutate((r) => delete r.principal))).toBe("malformed_request");
  });

  it("requestId and senderId: 1-256 bytes of 0x20-0x7E without '#'", () => {
    for (const id of ["r#1", "r\u001f", "r\u007f", "réq", "req😀", "x".repeat(257), "\t"]) {
      expect(codeOf(mutate((r) => (r.requestId = id))), JSON.stringify(id)).toBe("malformed_request");
      expect(codeOf(mutate((r) => (r.senderId = id))), JSON.stringify(id)).toBe("malformed_request");
    }
    for (const id of [" ", "~", "x".repeat(256), "req 1/2?a=b&c=%20"]) expect(codeOf(mutate((r) => (r.requestId = id)))).toBe("ok");
  });

  it("action.name is at most 120 code points (not UTF-16 units, not bytes)", () => {
    expect(codeOf(mutate((r) => (r.action.name = "😀".repeat(120))))).toBe("ok");
    expect(codeOf(mutate((r) => (r.action.name = "é".repeat(121))))).toBe("malformed_request");
  });

  it("action.target needs an id and a kind", () => {
    expect(codeOf(mutate((r) => (r.action.target = { id: "x" })))).toBe("malformed_request");
    expect(codeOf(mutate((r) => (r.action.target = { id: "x", kind: "db" })))).toBe("ok");
  });

  it("unknown_category outside the closed registry, after the field checks", () => {
    expect(STEPAUTH_CATEGORIES).toHaveLength(17);
    for (const category of STEPAUTH_CATEGORIES) expect(codeOf(mutate((r) => (r.action.category = category)))).toBe("ok");
    for (const category of ["code", "Code.Deploy", "code.deploy ", "custom.thing"]) expect(codeOf(mutate((r) => (r.action.category = category)))).toBe("unknown_category");
    expect(codeOf(mutate((r) => ((r.action.category = "x"), (r.requestId = "a#b"))))).toBe("malformed_request");
  });

  it("timestamp_out_of_range: unparseable or more than 5 minutes from the hub's clock", () => {
    const at = (timestamp: string, expiresAt = "2026-01-01T00:30:00Z") => codeOf(mutate((r) => ((r.timestamp = timestamp), (r.expiresAt = expiresAt))));
    expect(at("2025-12-31T23:56:00Z")).toBe("ok"); // exactly 5 minutes before
    expect(at("2026-01-01T00:06:00Z")).toBe("ok"); // exactly 5 minutes after
    expect(at("2025-12-31T23:55:59Z")).toBe("timestamp_out_of_range");
    expect(at("2026-01-01T00:06:01Z")).toBe("timestamp_out_of_range");
    expect(at("2026-01-01T01:01:00+01:00")).toBe("ok");
    expect(at("2026-01-01T00:00:00.123456789Z")).toBe("ok");
    for (const bad of ["2026-01-01 00:00:00Z", "2026-01-01T00:00:00", "2026-01-01t00:00:00z", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-01-01T24:00:00Z", "2026-01-01T00:00:60Z", "2026-01-01T00:00:00+24:00", "1767225600", "٢٠٢٦-01-01T00:00:00Z"]) {
      expect(at(bad), bad).toBe("timestamp_out_of_range");
    }
    expect(codeOf(WORKED, new Date("2026-01-01T00:10:00Z"))).toBe("timestamp_out_of_range");
  });

  it("malformed_request for expiresAt unparseable, not after timestamp, past, or more than 7 days after timestamp", () => {
    const exp = (expiresAt: string, now = NOW) => codeOf(mutate((r) => (r.expiresAt = expiresAt)), now);
    expect(exp("soon")).toBe("malformed_request");
    expect(exp("2026-01-01T00:00:00Z")).toBe("malformed_request");
    expect(exp("2025-12-31T23:59:00Z")).toBe("malformed_request");
    expect(exp("2026-01-01T00:00:30Z")).toBe("malformed_request"); // after timestamp, before now
    expect(exp("2026-01-08T00:00:00Z")).toBe("ok"); // exactly 7 days
    expect(exp("2026-01-08T00:00:01Z")).toBe("malformed_request");
    expect(codeOf(mutate((r) => ((r.expiresAt = "soon"), (r.timestamp = "bad"))))).toBe("timestamp_out_of_range");
  });

  it("operator_depth_exceeded beyond 5 operators, however deep the chain, after the timing checks", () => {
    expect(codeOf(mutate((r) => (r.principal = chain(5))))).toBe("ok");
    expect(codeOf(mutate((r) => (r.principal = chain(6))))).toBe("operator_depth_exceeded");
    // Built as text: JSON.stringify itself recurses and would overflow first.
    const deep = `{"subject":"email:a@b.com",${'"operator":{"subject":"email:o@b.com",'.repeat(5000)}"x":1${"}".repeat(5000)}}`;
    expect(codeOf(WORKED.replace('{"subject":"email:a@b.com"}', deep))).toBe("operator_depth_exceeded");
    expect(codeOf(mutate((r) => ((r.principal = chain(6)), (r.timestamp = "x"))))).toBe("timestamp_out_of_range");
    expect(codeOf(mutate((r) => ((r.principal = chain(6)), (r.principal.subject = "group:g"))))).toBe("operator_depth_exceeded");
  });

  it("principal.subject must be an individual NameID; action.approver any NameID", () => {
    for (const subject of ["email:a@b.com", "persistent:idp:123", "email:x"]) expect(codeOf(mutate((r) => (r.principal.subject = subject)))).toBe("ok");
    for (const subject of ["group:admins", "policy:p", "a@b.com", "email:", "Email:a@b.com", ":x", "mailto:a@b.com"]) expect(codeOf(mutate((r) => (r.principal.subject = subject))), subject).toBe("malformed_request");
    for (const approver of ["group:g_1", "policy:auto", "email:a@b.com", "persistent:p"]) expect(codeOf(mutate((r) => (r.action.approver = approver)))).toBe("ok");
    for (const approver of ["g_1", "team:x", "group:"]) expect(codeOf(mutate((r) => (r.action.approver = approver))), approver).toBe("malformed_request");
  });

  it("invalid_callback_url unless https, or http to localhost / 127.0.0.1; empty means the registered one", () => {
    for (const url of ["https://sp.example.com/cb", "https://sp.example.com:8443/cb?x=1", "http://localhost:3000/cb", "http://127.0.0.1/cb", "http://localhost", "HTTPS://sp.example.com/cb", ""]) {
      expect(codeOf(mutate((r) => (r.callbackUrl = url))), url).toBe("ok");
    }
    for (const url of ["http://sp.example.com/cb", "http://localhost.evil.com/cb", "http://127.0.0.1.nip.io/", "http://localhost@evil.com/", "http://127.1/", "ftp://sp.example.com/", "https://", "https:/x", "https://sp.example.com/a b", "javascript:alert(1)", "//sp.example.com/cb", "https://ex😀.com/", "http://LOCALHOST/"]) {
      expect(codeOf(mutate((r) => (r.callbackUrl = url))), url).toBe("invalid_callback_url");
    }
    expect(codeOf(mutate((r) => ((r.callbackUrl = "ftp://x"), (r.principal.subject = "group:g"))))).toBe("malformed_request");
  });

  it("labeled entries: unique keys per array, string or group values, bounded depth and count", () => {
    const details = (d: unknown) => codeOf(mutate((r) => (r.action.details = d)));
    const attributes = (a: unknown) => codeOf(mutate((r) => (r.principal.attributes = a)));
    expect(details([entry("a", "1"), entry("b", [entry("a", "2")])])).toBe("ok"); // same key in different arrays
    expect(details([entry("a", "1"), entry("a", "2")])).toBe("malformed_request");
    expect(details([entry("g", [entry("x", "1"), entry("x", "2")])])).toBe("malformed_request");
    expect(attributes([entry("a", "1"), entry("a", "1")])).toBe("malformed_request");
    expect(codeOf(mutate((r) => (r.principal = { ...chain(2), operator: { subject: "email:o@b.com", attributes: [entry("k", "1"), entry("k", "2")] } })))).toBe("malformed_request");
    for (const bad of [[entry("a", 5)], [entry("a", null)], [entry("a", { x: 1 })], [{ label: "no key", value: "v" }], [entry("", "v")], [{ key: "a", label: 3, value: "v" }], ["a"], [null]]) {
      expect(details(bad), JSON.stringify(bad)).toBe("malformed_request");
    }
    let nested: unknown = "leaf";
    for (let i = 0; i < MAX_ENTRY_DEPTH; i++) nested = [entry(`k${i}`, nested)];
    expect(details(nested)).toBe("ok");
    expect(details([entry("deeper", nested)])).toBe("malformed_request");
    expect(details(Array.from({ length: MAX_ENTRIES }, (_, i) => entry(`k${i}`, "v")))).toBe("ok");
    expect(details(Array.from({ length: MAX_ENTRIES + 1 }, (_, i) => entry(`k${i}`, "v")))).toBe("malformed_request");
    expect(details([entry("__proto__", "x"), entry("constructor", [entry("prototype", "y")])])).toBe("ok");
  });

  it("accepts unicode in free text and refuses a payload over 256 KiB", () => {
    expect(codeOf(mutate((r) => ((r.action.summary = "Überweisung 💸 an 李"), (r.principal.subject = "email:jürgen@exämple.de"))))).toBe("ok");
    expect(codeOf(mutate((r) => (r.action.summary = "x".repeat(300 * 1024))))).toBe("malformed_request");
  });
});

describe("peekSenderId", () => {
  it("reads the senderId string without trusting anything else, and null otherwise", () => {
    expect(peekSenderId(utf8(WORKED))).toBe("sp.example.com");
    expect(peekSenderId(utf8('{"senderId":"a","senderId":"b"}'))).toBeNull();
    for (const text of ['{"senderId":5}', "[]", "{", '{"senderid":"a"}']) expect(peekSenderId(utf8(text))).toBeNull();
    expect(peekSenderId(new Uint8Array([0xff]))).toBeNull();
    expect(peekSenderId("x" as unknown as Uint8Array)).toBeNull();
  });
});
