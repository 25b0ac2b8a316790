import { describe, expect, it } from "vitest";
import { isPrincipal } from "../../src/requests/review-rules.js";
import { identityKey, sameIdentity } from "../../src/tenancy/identity-key.js";

describe("identityKey", () => {
  it.each([
    ["ｃarol@example.com", "carol@example.com"],
    ["ｃａｒｏｌ＠ｅｘａｍｐｌｅ．ｃｏｍ", "carol@example.com"],
    [" Carol@Example.COM ", "carol@example.com"],
    ["\u00a0\u3000carol@example.com\u2003\n", "carol@example.com"],
    ["car\u200bol@exam\u00adple.com\ufeff", "carol@example.com"],
    ["ﬁona", "fiona"],
    ["Straße", "strasse"],
    ["STRASSE", "strasse"],
    ["ΌΣΟΣ", identityKey("όσοσ")],
    ["Carol   Smith", "carol smith"],
    ["Carol\tSmith", "carol smith"],
    ["car\u0085ol@example.com", "carol@example.com"],
    ["car\u0007ol@exa\u009fmple.com", "carol@example.com"],
    ["Ⅸ", "ix"],
    ["usr_ABC123", "usr_abc123"],
  ])("%j -> %j", (input, expected) => {
    expect(identityKey(input)).toBe(expected);
  });

  it("keeps different people apart", () => {
    expect(sameIdentity("carol@example.com", "carl@example.com")).toBe(false);
    expect(sameIdentity("café", "cafe")).toBe(false);
    expect(sameIdentity("", "")).toBe(false);
    expect(sameIdentity(" \u200b ", "")).toBe(false);
  });

  it("is idempotent", () => {
    for (const s of ["ｃarol@example.com", "Straße", "ǰ", "İstanbul", "ﬀ", "ΌΣΟΣ"]) expect(identityKey(identityKey(s))).toBe(identityKey(s));
  });
});

describe("isPrincipal", () => {
  const carol = { id: "rev_123", name: "Carol", email: "carol@example.com", groups: [] };
  it.each(["carol@example.com", "ｃarol@example.com", " CAROL@EXAMPLE.COM ", "Ｃarol", "carol", "REV_123", "rev\u200b_123"])("%j is Carol", (p) => {
    expect(isPrincipal(p, carol)).toBe(true);
  });
  it.each([null, "", "bob@example.com", "caro1@example.com"])("%j is not Carol", (p) => {
    expect(isPrincipal(p, carol)).toBe(false);
  });
  it("matches the other way round: a fullwidth reviewer email against a plain principal", () => {
    expect(isPrincipal("carol@example.com", { ...carol, email: "ｃarol@example.com" })).toBe(true);
  });
  it("a reviewer without an email is not everyone's principal", () => {
    expect(isPrincipal("x", { id: "k1", name: "admin key k1", email: "", groups: [] })).toBe(false);
  });
});
