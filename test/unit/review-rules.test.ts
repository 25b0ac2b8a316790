import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DEFAULT_REVIEW_RULES, isEligible, isPrincipal, quorum, reviewRulesSchema, type ReviewRules, type Vote } from "../../src/requests/review-rules.js";
import type { ReviewerIdentity } from "../../src/tenancy/api-keys.js";

const rules = (over: Record<string, unknown> = {}): ReviewRules => reviewRulesSchema.parse(over);
const approve = (reviewer_id: string, groups: string[] = []): Vote => ({ reviewer_id, approved: true, groups });
const deny = (reviewer_id: string, groups: string[] = []): Vote => ({ reviewer_id, approved: false, groups });
const reviewer = (over: Partial<ReviewerIdentity> = {}): ReviewerIdentity => ({ id: "rv_1", name: "Carol Jones", email: "carol@example.com", groups: [], ...over });

describe("review rules: schema and defaults (docs/concepts.md, Human review)", () => {
  it("defaults to one approval from any reviewer, no groups, a 24 h expiry, no reminders and no passkey", () => {
    expect(DEFAULT_REVIEW_RULES).toEqual({
      approvals_required: 1,
      groups: [],
      reviewers: null,
      expiry_seconds: 86_400,
      reminder_after_seconds: null,
      escalate_after_seconds: null,
      require_passkey: false,
    });
    // Rules stored before passkeys existed read back without one.
    expect(rules({ approvals_required: 2 }).require_passkey).toBe(false);
    expect(rules({ require_passkey: true }).require_passkey).toBe(true);
    expect(rules({ groups: [{ name: "finance" }] }).groups).toEqual([{ name: "finance", approvals_required: 1 }]);
  });

  it("trims group names and reviewer entries, and refuses duplicate group names after trimming", () => {
    const r = rules({ groups: [{ name: " finance ", approvals_required: 2 }], reviewers: ["  carol@example.com "] });
    expect(r.groups).toEqual([{ name: "finance", approvals_required: 2 }]);
    expect(r.reviewers).toEqual(["carol@example.com"]);
    expect(reviewRulesSchema.safeParse({ groups: [{ name: "finance" }, { name: "finance " }] }).success).toBe(false);
  });

  it("refuses unknown fields and out-of-range values", () => {
    for (const bad of [
      { approvals_requried: 2 },
      { approvals_required: 0 },
      { approvals_required: 21 },
      { approvals_required: 1.5 },
      { groups: [{ name: "   " }] },
      { groups: [{ name: "a", approvals_required: 0 }] },
      { groups: [{ name: "a", extra: 1 }] },
      { groups: Array.from({ length: 11 }, (_, i) => ({ name: `g${i}` })) },
      { reviewers: [] },
      { reviewers: ["  "] },
      { expiry_seconds: 0 },
      { expiry_seconds: 90 * 86_400 + 1 },
      { reminder_after_seconds: 0 },
      { escalate_after_seconds: -1 },
    ]) {
      expect(reviewRulesSchema.safeParse(bad).success, JSON.stringify(bad)).toBe(false);
    }
    expect(rules({ expiry_seconds: 90 * 86_400, approvals_required: 20 })).toMatchObject({ expiry_seconds: 90 * 86_400, approvals_required: 20 });
  });
});

describe("quorum: distinct approving reviewers, overall and per group", () => {
  it("is met by the required number of distinct approvers", () => {
    const two = rules({ approvals_required: 2 });
    expect(quorum(two, [])).toEqual({ received: 0, required: 2, groups: [], met: false });
    expect(quorum(two, [approve("a")])).toMatchObject({ received: 1, met: false });
    expect(quorum(two, [approve("a"), approve("b")])).toMatchObject({ received: 2, met: true });
    expect(quorum(two, [approve("a"), approve("b"), approve("c")])).toMatchObject({ received: 3, met: true });
  });

  it("counts one reviewer once, however many approvals they cast", () => {
    expect(quorum(rules({ approvals_required: 2 }), [approve("a"), approve("a"), approve("a")])).toMatchObject({ received: 1, met: false });
  });

  it("never counts a deny (the caller ends the request on any deny)", () => {
    expect(quorum(rules(), [deny("a")])).toMatchObject({ received: 0, met: false });
    expect(quorum(rules({ approvals_required: 2 }), [approve("a"), deny("b")])).toMatchObject({ received: 1, met: false });
  });

  it("requires every group's own count from its members, as well as the overall count (AND of groups)", () => {
    const r = rules({ approvals_required: 2, groups: [{ name: "finance", approvals_required: 1 }, { name: "security", approvals_required: 2 }] });
    // Three approvals overall, but security has only one of its two.
    const partial = quorum(r, [approve("a", ["finance"]), approve("b", ["security"]), approve("c", [])]);
    expect(partial).toEqual({
      received: 3,
      required: 2,
      groups: [
        { name: "finance", received: 1, required: 1 },
        { name: "security", received: 1, required: 2 },
      ],
      met: false,
    });
    // One reviewer in both groups counts for each group.
    expect(quorum(r, [approve("a", ["finance", "security"]), approve("b", ["security"])]).met).toBe(true);
    // Group counts met but not the overall count.
    const onlyGroups = rules({ approvals_required: 3, groups: [{ name: "finance", approvals_required: 1 }] });
    expect(quorum(onlyGroups, [approve("a", ["finance"]), approve("b")])).toMatchObject({ received: 2, groups: [{ name: "finance", received: 1, required: 1 }], met: false });
  });

  it("matches group names exactly, as stored", () => {
    const r = rules({ groups: [{ name: "finance" }] });
    expect(quorum(r, [approve("a", ["Finance"])]).met).toBe(false);
    expect(quorum(r, [approve("a", ["finance"])]).met).toBe(true);
  });

  const groupNames = ["finance", "security", "legal"];
  const arbRules = fc
    .record({
      approvals_required: fc.integer({ min: 1, max: 5 }),
      groups: fc.subarray(groupNames).chain((names) => fc.tuple(...names.map((name) => fc.record({ name: fc.constant(name), approvals_required: fc.integer({ min: 1, max: 3 }) })))),
    })
    .map((r) => reviewRulesSchema.parse(r));
  const arbVote = fc.record({ reviewer_id: fc.constantFrom("r1", "r2", "r3", "r4", "r5", "r6"), approved: fc.boolean(), groups: fc.subarray(groupNames) });
  // One reviewer votes once (409 already_voted): distinct reviewer ids.
  const arbBallot = fc.uniqueArray(arbVote, { selector: (v) => v.reviewer_id, maxLength: 6 });

  it("property: met is monotone in approvals from further distinct reviewers", () => {
    fc.assert(
      fc.property(arbRules, arbBallot, fc.subarray(groupNames), (r, votes, groups) => {
        const fresh = approve("newcomer", groups);
        const before = quorum(r, votes);
        const after = quorum(r, [...votes, fresh]);
        expect(after.received).toBe(before.received + 1);
        after.groups.forEach((g, i) => expect(g.received).toBeGreaterThanOrEqual(before.groups[i]!.received));
        if (before.met) expect(after.met).toBe(true);
      }),
    );
  });

  it("property: repeating a reviewer's vote never counts twice, and denies change nothing", () => {
    fc.assert(
      fc.property(arbRules, arbBallot, (r, votes) => {
        const once = quorum(r, votes);
        expect(quorum(r, [...votes, ...votes])).toEqual(once);
        expect(quorum(r, votes.filter((v) => v.approved))).toEqual(once);
        expect(once.received).toBe(votes.filter((v) => v.approved).length);
        expect(once.met).toBe(once.received >= r.approvals_required && once.groups.every((g) => g.received >= g.required));
      }),
    );
  });
});

describe("eligibility: the request's reviewers list", () => {
  it("lets anyone review when there is no list", () => {
    expect(isEligible(DEFAULT_REVIEW_RULES, reviewer({ id: "anyone", email: "" }))).toBe(true);
  });

  it("matches the reviewer's id or email, ignoring case", () => {
    const r = rules({ reviewers: ["RV_7", "Carol@Example.com"] });
    expect(isEligible(r, reviewer({ id: "rv_7", email: "other@example.com" }))).toBe(true);
    expect(isEligible(r, reviewer({ id: "rv_1", email: "carol@example.COM" }))).toBe(true);
    expect(isEligible(r, reviewer({ id: "rv_1", email: "dave@example.com" }))).toBe(false);
  });

  it("does not match by name, and an empty email matches nothing", () => {
    expect(isEligible(rules({ reviewers: ["Carol Jones"] }), reviewer())).toBe(false);
    // Not reachable through the schema (entries are non-empty), but a reviewer without an email must never match through it.
    expect(isEligible({ ...DEFAULT_REVIEW_RULES, reviewers: [""] }, reviewer({ email: "" }))).toBe(false);
  });

  it("fails closed on anything but a case difference: look-alikes, fullwidth letters, stray spaces", () => {
    const r = rules({ reviewers: ["carol@example.com"] });
    expect(isEligible(r, reviewer({ id: "x", email: "ｃarol@example.com" }))).toBe(false);
    expect(isEligible(r, reviewer({ id: "x", email: "сarol@example.com" }))).toBe(false); // Cyrillic "с"
    expect(isEligible(r, reviewer({ id: "x", email: " carol@example.com" }))).toBe(false);
  });
});

describe("separation of duties: the request's human principal may not approve it", () => {
  it("never matches a request without a principal", () => {
    expect(isPrincipal(null, reviewer())).toBe(false);
    expect(isPrincipal("", reviewer())).toBe(false);
  });

  it("matches the reviewer's id, email or name", () => {
    expect(isPrincipal("rv_1", reviewer())).toBe(true);
    expect(isPrincipal("carol@example.com", reviewer())).toBe(true);
    expect(isPrincipal("Carol Jones", reviewer())).toBe(true);
    expect(isPrincipal("dave@example.com", reviewer())).toBe(false);
  });

  it("compares identities after NFKC, full case folding, invisible-character removal and white space folding", () => {
    const carol = reviewer({ id: "rv_1", name: "", email: "carol@example.com" });
    for (const same of [
      " Carol@Example.COM ",
      "ｃarol@example.com", // fullwidth c
      "car\u200Bol@example.com", // zero-width space
      "car\u00ADol@example.com", // soft hyphen
      "car\u0085ol@example.com", // C1 control (NEL)
      "car\u0007ol@example.com", // C0 control (BEL)
      "\uFEFFcarol@example.com", // BOM
      "carol@example.com\t\n",
    ]) {
      expect(isPrincipal(same, carol), JSON.stringify(same)).toBe(true);
    }
    expect(isPrincipal("Straße", reviewer({ name: "STRASSE" }))).toBe(true);
    expect(isPrincipal("Carol   Jones", reviewer())).toBe(true);
    expect(isPrincipal("CarolJones", reviewer())).toBe(false);
    // Cross-script look-alikes are documented as not folded.
    expect(isPrincipal("сarol@example.com", carol)).toBe(false);
  });

  it("an identity field that folds to nothing never matches", () => {
    const blank = reviewer({ id: "rv_9", name: "", email: "" });
    for (const principal of [" ", "\u200B", " \u200B\u0007 ", "\t"]) expect(isPrincipal(principal, blank), JSON.stringify(principal)).toBe(false);
    expect(isPrincipal("\u200B", reviewer({ id: "rv_9", name: "\u200B", email: " " }))).toBe(false);
  });

  it("property: case, surrounding white space and inserted zero-width characters never hide the principal", () => {
    const word = fc.stringMatching(/^[a-z][a-z0-9.]{0,15}@[a-z]{1,10}\.com$/);
    fc.assert(
      fc.property(word, fc.nat(), fc.constantFrom(" ", "\t", "\u3000", "\u00A0"), (email, at, pad) => {
        const i = at % (email.length + 1);
        const disguised = `${pad}${(email.slice(0, i) + "\u200B" + email.slice(i)).toUpperCase()}${pad}`;
        expect(isPrincipal(disguised, reviewer({ id: "rv_x", name: "", email }))).toBe(true);
      }),
    );
  });
});
