import { describe, expect, it } from "vitest";
import { DEFAULT_REVIEW_RULES, tightenedRules } from "../../src/requests/review-rules.js";
import { defaultCallbackUrl, matchesCallbackPattern, parseCallbackPattern } from "../../src/stepauth/callback-pattern.js";

const pattern = (raw: string) => {
  const parsed = parseCallbackPattern(raw);
  if (!parsed.ok) throw new Error(parsed.reason);
  return parsed.pattern;
};

describe("callback URL patterns (src/stepauth/callback-pattern.ts)", () => {
  it("matches an exact URL, compared normalised", () => {
    const p = pattern("https://SP.example.com/stepauth/callback");
    expect(matchesCallbackPattern(p, "https://sp.example.com/stepauth/callback")).toBe(true);
    expect(matchesCallbackPattern(p, "https://sp.example.com/stepauth/callback/x")).toBe(false);
    expect(matchesCallbackPattern(p, "https://sp.example.com/stepauth/./callback")).toBe(true);
    expect(defaultCallbackUrl(p)).toBe("https://sp.example.com/stepauth/callback");
  });

  it("matches a prefix only inside it: no dot segments out, no other host, no credentials", () => {
    const p = pattern("https://sp.example.com/stepauth/*");
    expect(defaultCallbackUrl(p)).toBeNull();
    expect(matchesCallbackPattern(p, "https://sp.example.com/stepauth/cb?id=1")).toBe(true);
    expect(matchesCallbackPattern(p, "https://sp.example.com/stepauth/../admin")).toBe(false);
    expect(matchesCallbackPattern(p, "https://sp.example.com.evil.test/stepauth/cb")).toBe(false);
    expect(matchesCallbackPattern(p, "https://user:pw@sp.example.com/stepauth/cb")).toBe(false);
    expect(matchesCallbackPattern(p, "https://sp.example.com/stepauth/cb#frag")).toBe(false);
    expect(matchesCallbackPattern(p, "http://sp.example.com/stepauth/cb")).toBe(false);
    expect(matchesCallbackPattern(pattern("http://127.0.0.1:8080/cb/*"), "http://127.0.0.1:8080/cb/1")).toBe(true);
  });

  it("refuses patterns that could match more than their author meant", () => {
    for (const raw of ["https://sp.example.com*", "https://sp.example.com/a*/b", "https://*.example.com/cb", "http://sp.example.com/cb", "ftp://sp.example.com/", "", "https://u:p@sp.example.com/cb", "https://sp.example.com/cb#x"]) {
      expect(parseCallbackPattern(raw).ok, raw).toBe(false);
    }
  });
});

describe("tightenedRules (an approver the request names)", () => {
  it("adds a group, restricts to a person, and never loosens", () => {
    expect(tightenedRules(DEFAULT_REVIEW_RULES, "group:finance")).toMatchObject({ groups: [{ name: "finance", approvals_required: 1 }], approvals_required: 1 });
    expect(tightenedRules(DEFAULT_REVIEW_RULES, "email:ana@example.com")).toMatchObject({ reviewers: ["ana@example.com"] });
    expect(tightenedRules({ ...DEFAULT_REVIEW_RULES, reviewers: ["bo@example.com"] }, "email:ana@example.com")).toBe("not_eligible");
    const ten = { ...DEFAULT_REVIEW_RULES, groups: Array.from({ length: 10 }, (_, i) => ({ name: `g${i}`, approvals_required: 2 })) };
    expect(tightenedRules(ten, "group:g3")).toBe(ten);
    expect(tightenedRules(ten, "group:new")).toBe("too_many_groups");
    expect(tightenedRules(DEFAULT_REVIEW_RULES, "policy:refunds")).toBe(DEFAULT_REVIEW_RULES);
    expect(tightenedRules(DEFAULT_REVIEW_RULES, undefined)).toBe(DEFAULT_REVIEW_RULES);
  });
});
