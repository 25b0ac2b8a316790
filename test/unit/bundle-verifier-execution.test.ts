import { describe, expect, it } from "vitest";
import { eventHash, type LedgerEvent } from "../../src/ledger/core/event-hash.js";
import { eventUuidFor } from "../../src/ledger/core/event-uuid.js";
import type { LedgerEventType, ProofBundleWire } from "../../src/ledger/core/wire.js";
import { trustedKeysFromKeyString, verifyProofBundle } from "../../src/ledger/verify/bundle-verifier.js";
import { buildBundle, PUBLIC_KEY, vectorEvent } from "../helpers/proof-bundle-fixture.js";

/**
 * The rules for a `token.executed` event in a bundle, on correctly signed events: what the vault
 * could sign by mistake (or an old vault signed) must still not verify as "approved, burned, executed".
 */
const keys = trustedKeysFromKeyString(Buffer.from(PUBLIC_KEY).toString("base64"));

function eventOf(type: LedgerEventType, evidence: LedgerEvent["evidence_chunks"] = []): LedgerEvent {
  return { ...vectorEvent(2), event_uuid: eventUuidFor(type), request_id: "req-x", evidence_chunks: evidence };
}

type Link = { uuid: string; hash: string };
const linkTo = (e: LedgerEvent): Link => ({ uuid: e.event_uuid, hash: eventHash(e) });

/** approval, burn and an execution linking `approval`/`burn`, as one bundle about the execution. */
async function executionBundle(link: (approval: LedgerEvent, burn: LedgerEvent) => { approval: unknown; burn: unknown }, approvalType: LedgerEventType = "clearance.approved") {
  const approval = eventOf(approvalType);
  const burn = eventOf("token.consumed");
  const report = { type: "execution_report", jti: "j1", status: 200, outcome: "succeeded", duration: 5, response: null, detail: null, reporter: "k1", closer: null, at: "2026-03-15T12:00:00.000Z" };
  const executed = eventOf("token.executed", [{ ...report, ...link(approval, burn) } as LedgerEvent["evidence_chunks"][number]]);
  const events = [approval, burn, executed];
  const types: LedgerEventType[] = [approvalType, "token.consumed", "token.executed"];
  const bundles = await Promise.all(events.map((_, index) => buildBundle({ events, index, sizes: [3] })));
  bundles.forEach((b, i) => (b.event.event_type = types[i]!));
  const bundle: ProofBundleWire = { ...bundles[2]!, request_events: [0, 1].map((i) => ({ event: bundles[i]!.event, inclusion: bundles[i]!.inclusion })) };
  return bundle;
}

const failed = (b: unknown) => verifyProofBundle(b, keys).checks.filter((c) => !c.ok);

describe("bundle verifier: token.executed", () => {
  it("verifies approval → burn → execution when the links name the right events", async () => {
    const bundle = await executionBundle((a, b) => ({ approval: linkTo(a), burn: linkTo(b) }));
    const report = verifyProofBundle(bundle, keys);
    expect(report.checks.filter((c) => !c.ok)).toEqual([]);
    expect(report.checks.find((c) => c.name === "event: execution links")).toMatchObject({ ok: true });
    expect(report.events?.map((e) => [e.event_type, e.body_verified, e.summary])).toEqual([
      ["clearance.approved", true, "Within limit"],
      ["token.consumed", true, "Within limit"],
      ["token.executed", true, "status 200, outcome succeeded, 5 ms"],
    ]);
  });

  it("accepts review.approved and token.minted as the approval", async () => {
    for (const type of ["review.approved", "token.minted"] as const) {
      expect(failed(await executionBundle((a, b) => ({ approval: linkTo(a), burn: linkTo(b) }), type))).toEqual([]);
    }
  });

  it("fails when the approval it names is not an approval, or the burn not a token.consumed", async () => {
    const burnAsApproval = failed(await executionBundle((_a, b) => ({ approval: linkTo(b), burn: linkTo(b) })));
    expect(burnAsApproval.map((c) => [c.name, c.detail])).toEqual([["event: execution links", expect.stringMatching(/approval it names is token\.consumed, not clearance\.approved/)]]);
    const approvalAsBurn = failed(await executionBundle((a) => ({ approval: linkTo(a), burn: linkTo(a) })));
    expect(approvalAsBurn.map((c) => c.detail)).toEqual([expect.stringMatching(/burn it names is clearance\.approved, not token\.consumed/)]);
  });

  it("fails when a link names a uuid and a hash of different events, or nothing", async () => {
    const mixed = failed(await executionBundle((a, b) => ({ approval: { uuid: a.event_uuid, hash: eventHash(b) }, burn: linkTo(b) })));
    expect(mixed.map((c) => c.detail)).toEqual([expect.stringMatching(/approval it names is not in the bundle/)]);
    const none = failed(await executionBundle(() => ({ approval: null, burn: "x" })));
    expect(none.map((c) => c.detail)).toEqual([expect.stringMatching(/names no approval; it names no burn/)]);
  });

  it("a token.executed without its report chunk fails, even when its body verifies", async () => {
    const event = eventOf("token.executed");
    const bare = await buildBundle({ events: [event], index: 0, sizes: [1] });
    bare.event.event_type = "token.executed";
    expect(failed(bare).map((c) => [c.name, c.detail])).toEqual([["event: execution links", "a token.executed event must carry its execution_report evidence chunk"]]);
    // Stating another type does not escape the rules: the signed uuid commits to token.executed.
    bare.event.event_type = "clearance.approved";
    expect(failed(bare).map((c) => c.name)).toEqual(["event type", "event: execution links"]);
  });
});
