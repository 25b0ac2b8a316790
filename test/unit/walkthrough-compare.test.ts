import { describe, expect, it } from "vitest";
import { jsonMismatch, outputMismatch, parseWalkthrough, textMismatch } from "../helpers/walkthrough.js";

/** The comparison docs/walkthrough.md is checked with: placeholders stand for a kind, never for anything. */
describe("walkthrough answers compared with the documented excerpts", () => {
  const reqA = "req_7e49e5f5-79e4-4faa-84df-ca25e8796586";
  const reqB = "req_02969c33-4660-4061-98f1-6a5c8d8ded12";
  const jwt = "eyJhbGciOiJFZERTQSJ9.eyJpc3MiOiJ4In0.61f2-rkvHdpHhk84DJPuDVu2v_YSC9nWpVn1p_qpKOSonX1Q3IUYIaSZtMVNrRXYKxJGQlGTqBTPBwrGxemMAQ";

  it("accepts an answer that differs only in ids, tokens and times, and has more members", () => {
    const doc = { request_id: reqA, token: jwt, token_expires_at: "2026-11-23T11:49:38.000Z", status: "approved" };
    const got = { request_id: reqB, token: `${jwt}x`, token_expires_at: "2026-12-05T03:28:03.000Z", status: "approved", extra: 1 };
    expect(jsonMismatch(doc, got)).toBeUndefined();
  });

  it("refuses a different fixed value, a missing member, a wrong kind and a wrong id prefix", () => {
    expect(jsonMismatch({ status: "approved" }, { status: "denied" })).toMatch(/\$\.status/);
    expect(jsonMismatch({ token: jwt }, {})).toMatch(/missing/);
    expect(jsonMismatch({ token: null }, { token: jwt })).toMatch(/\$\.token/);
    expect(jsonMismatch({ token: jwt }, { token: null })).toMatch(/\$\.token/);
    expect(jsonMismatch({ token: jwt }, { token: "not a token" })).toMatch(/\$\.token/);
    expect(jsonMismatch({ id: reqA }, { id: "pv_02969c33-4660-4061-98f1-6a5c8d8ded12" })).toMatch(/\$\.id/);
    expect(jsonMismatch({ at: "2026-11-23T11:49:38.000Z" }, { at: 1796440973 })).toMatch(/\$\.at/);
    expect(jsonMismatch({ n: 5 }, { n: 6 })).toMatch(/\$\.n/);
  });

  it("requires arrays to have exactly the documented elements", () => {
    expect(jsonMismatch({ keys: [{ kid: "a" }, { kid: "b" }] }, { keys: [{ kid: "a" }] })).toMatch(/2 elements, got 1/);
    expect(jsonMismatch({ keys: [{ kid: "a" }] }, { keys: [{ kid: "a" }, { kid: "b" }] })).toMatch(/1 elements, got 2/);
    expect(jsonMismatch({ keys: [{ kid: "a" }, { kid: "b" }] }, { keys: [{ kid: "a", x: 1 }, { kid: "b" }] })).toBeUndefined();
  });

  it("compares text line by line, with … standing for left-out lines only", () => {
    expect(textMismatch("HTTP 409", "HTTP 409")).toBeUndefined();
    expect(textMismatch("HTTP 409", "HTTP 200")).toMatch(/line 1/);
    expect(textMismatch("a\n…\nc", "a\nb\nb2\nc")).toBeUndefined();
    expect(textMismatch("a\nc", "a\nb\nc")).toMatch(/line 2/);
    expect(textMismatch("a", "a\nb")).toMatch(/goes on/);
    expect(textMismatch("a\n…\nz", "a\nb")).toMatch(/not in the answer/);
    expect(textMismatch(`detail ${reqA} at 2026-11-23T11:49:38.000Z`, `detail ${reqB} at 2026-12-05T03:28:03.000Z`)).toBeUndefined();
  });

  it("takes a json block that is not JSON as a broken page, not as anything goes", () => {
    expect(outputMismatch({ kind: "json", body: '{"a": 1, …}', line: 1 }, '{"a":1}')).toMatch(/not JSON/);
    expect(outputMismatch({ kind: "json", body: '{"a": 1}', line: 1 }, "oops")).toMatch(/did not print one JSON/);
  });

  it("pairs each sh block with the output block right after it", () => {
    const steps = parseWalkthrough(["```sh", "echo 1", "```", "", "```json", "1", "```", "text", "```sh", "echo 2", "```", "prose", "```text", "2", "```"].join("\n"));
    expect(steps.map((s) => [s.script, s.expected?.body])).toEqual([
      ["echo 1", "1"],
      ["echo 2", undefined],
    ]);
  });
});
