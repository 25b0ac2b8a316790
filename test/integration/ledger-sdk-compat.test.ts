import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { trustedKeysFromBundle, trustedKeysFromJwks, verifyProofBundle } from "../../src/ledger/verify/bundle-verifier.js";
import { consistencyValid, eventHashOf, inclusionValid, type SdkEventFields } from "../helpers/ledgix-ledger-primitives.js";
import {
  fetchConsistencyProof,
  fetchInclusionProof,
  fetchJwks,
  fetchLedger,
  fetchLedgerCheckpoints,
  fetchLedgerProofBundle,
  toCamelCaseKeys,
  TokenVerificationError,
  verifyLedgerProof,
  verifyLedgerProofBundle,
  type Checkpoint,
  type Jwks,
} from "../helpers/ledgix-ledger-verifier.js";

/** What a request_id alone proves: its newest clearance or review event, else its newest event. */
function decisionEvent(raw: Record<string, any>[], requestId: string): Record<string, any> {
  const own = raw.filter((r) => r.request_id === requestId);
  return own.filter((r) => !r.event_type.startsWith("token.")).at(-1) ?? own.at(-1)!;
}
import { call, newDatabase, newKey, refundPolicy, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

/**
 * The vault's ledger endpoints against an SDK-faithful re-implementation of ledgix-ts 0.4's ledger
 * verification (test/helpers/ledgix-ledger-*.ts, written from the wire protocol document only).
 */
const TOKEN_KID = "test-key-1";
const LEDGER_KID = "test-key-1.ledger";
const EVENT_TYPES = ["clearance.approved", "clearance.denied", "clearance.pending_review", "review.approved", "review.denied", "review.cancelled_by_agent", "token.minted", "token.consumed"];
// §2.7: the only fields that may be null. Bodies (tool_args, citations, evidence_chunks) are JSON and may hold nulls.
const NULLABLE = new Set(["confidence_bucket", "decision_status", "leaf_index", "checkpoint_id", "rule_set_hash", "matched_rule_ids", "eval_inputs_hash", "eval_trace_hash", "classifier_label", "classifier_confidence_bucket"]);
const BODIES = new Set(["tool_args", "citations", "evidence_chunks"]);
type Raw = Record<string, any>;

/** True when the SDK's response key conversion changes a body, i.e. verifyLedgerProof would hash other keys. */
const renamed = (v: unknown) => JSON.stringify(toCamelCaseKeys(v)) !== JSON.stringify(v);
const snakeBody = (raw: Raw) => renamed(raw.tool_args) || renamed(raw.citations) || renamed(raw.evidence_chunks);

/** JSON paths holding null where §2.7–2.11 forbid it, and hash-like strings that are not lowercase hex. */
function wireProblems(value: unknown, path = "$"): string[] {
  if (Array.isArray(value)) return value.flatMap((v, i) => wireProblems(v, `${path}[${i}]`));
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([k, v]) => {
    const at = `${path}.${k}`;
    if (BODIES.has(k)) return [];
    if (v === null) return NULLABLE.has(k) ? [] : [`${at} is null`];
    if ((k === "confidence_bucket" || k === "decision_status" || k === "classifier_confidence_bucket") && v === "") return [`${at} is ""`];
    const hexes = k === "path" ? (v as string[]) : /hash/.test(k) && typeof v === "string" ? [v] : [];
    const emptyOk = k === "intent_hash" || k === "prev_checkpoint_hash";
    const bad = hexes.filter((h) => !(/^[0-9a-f]{64}$/.test(h) || (emptyOk && h === "")));
    return [...bad.map((h) => `${at} is not lowercase hex: ${h}`), ...wireProblems(v, at)];
  });
}

/** The body as served, hashed by the helper without the SDK's key conversion inside the bodies. */
function servedHash(raw: Raw): string {
  const top = toCamelCaseKeys({ ...raw, tool_args: {}, citations: [], evidence_chunks: [] }) as SdkEventFields;
  const intentHash = raw.intent_hash === "" ? raw.intent_hash_committed : raw.intent_hash;
  return eventHashOf({ ...top, intentHash, toolArgs: raw.tool_args, citations: raw.citations, evidenceChunks: raw.evidence_chunks });
}

function expectSdkFailure(run: () => unknown, message: string) {
  let caught: unknown;
  try {
    run();
  } catch (err) {
    caught = err;
  }
  expect(caught, message).toBeInstanceOf(TokenVerificationError);
  expect((caught as Error).message).toBe(message);
}

for (const engine of ["pglite", "postgres"] as Engine[]) {
  describe(`ledger SDK compatibility on ${engine}`, () => {
    let db: TestDatabase;
    let v: TestVault;
    let agent: string;
    let jwks: Jwks;
    const ids: Record<string, string> = {};
    let original: Raw = {};
    const clear = (tool_args: object, extra: object = {}) => call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args, ...extra } });
    const decide = (id: string, key: string, approved: boolean, review_reason: string) => call(v.url, "POST", `/reviews/${id}/decision`, { key, body: { approved, review_reason } });
    const rawLedger = async (redact = "auto"): Promise<Raw[]> => (await call(v.url, "GET", `/ledger?limit=1000&redact=${redact}`, { key: agent })).body.entries;
    const rawBundle = async (query: string) => {
      const res = await call(v.url, "GET", `/ledger/proof/bundle?${query}`, { key: agent });
      expect(res.status, JSON.stringify(res.body)).toBe(200);
      return res.body as Raw;
    };

    beforeAll(async () => {
      db = newDatabase(engine);
      v = await startTestVault(db, { env: { VAULT_LEDGER_ANCHOR_BACKFILL_INTERVAL_SECONDS: "3600" } });
      agent = await newKey(v, "agent");
      expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy })).status).toBe(200);
      jwks = await fetchJwks(v.url, agent);
    });
    afterAll(async () => {
      await v?.close();
      await db?.drop();
    });

    /** The SDK's full-ledger check after a drain: intact, every entry, the chain from genesis. */
    async function verifyWholeLedger(events: number, checkpoints: number) {
      await v.vault.ctx.ledgerLoop.drain();
      const [entries, cps, raw] = [await fetchLedger(v.url, agent), await fetchLedgerCheckpoints(v.url, agent), await rawLedger()];
      expect(cps.map((c) => c.checkpointId)).toEqual(Array.from({ length: checkpoints }, (_, i) => i + 1));
      const result = verifyLedgerProof(entries, cps, jwks);
      const redacted = raw.filter((r) => r.intent_hash === "").map((r) => r.seq);
      const snake = raw.filter(snakeBody).map((r) => r.seq);
      expect(redacted).toEqual(snake);
      expect(snake.length).toBeGreaterThan(0);
      expect(raw.length - snake.length).toBeGreaterThan(0);
      expect(result).toEqual({
        intact: true,
        verifiedEntries: events,
        verifiedCheckpoints: checkpoints,
        verifiedManifests: checkpoints,
        latestLeafHash: raw.at(-1)!.leaf_hash,
        latestCheckpointHash: cps.at(-1)!.checkpointHash,
        latestManifestHash: cps.at(-1)!.checkpointHash,
        coverageNote: `Event-body hash recomputation was skipped for ${snake.length} redacted public ledger ${snake.length === 1 ? "entry" : "entries"}; receipt and checkpoint proofs still verified.`,
      });
      expect(cps.at(-1)!.treeSize).toBe(events);
      // Every body, redacted or not, hashes (without the SDK's conversion) to the served event_hash.
      for (const r of raw) expect(servedHash(r), `seq ${r.seq}`).toBe(r.event_hash);
      // A one-character change in an unredacted row is caught: those rows really are re-hashed.
      const plain = entries.find((x) => x.intentHash !== "")!;
      expectSdkFailure(() => verifyLedgerProof(entries.map((x) => (x === plain ? { ...x, reason: `${x.reason}.` } : x)), cps, jwks), `Ledger event hash mismatch at seq ${plain.seq}`);
    }

    it("batch 1 (approved with snake_case args, denied with camelCase-safe args, pending) verifies from genesis", async () => {
      const approved = await clear({ amount: 45, currency: "usd", order_id: "o_1" }, { agent_id: "agent-7", session_id: "s-1" });
      expect(approved.body).toMatchObject({ status: "approved", decision_status: "approved" });
      const denied = await clear({ amount: 5000, currency: "usd" });
      expect(denied.body).toMatchObject({ status: "denied", decision_status: "denied" });
      const pending = await clear({ amount: 500, order_id: "o_3" });
      expect(pending.body).toMatchObject({ status: "pending_review" });
      // The smallest SDK body: no policy applies, so confidence 0 (a CBOR integer, rule b) and canonical_version 2.
      const noPolicy = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "unknown_tool" } });
      expect(noPolicy.body).toMatchObject({ status: "pending_review", confidence_bucket: "none" });
      Object.assign(ids, { approved: approved.body.request_id, denied: denied.body.request_id, reviewApproved: pending.body.request_id, noPolicy: noPolicy.body.request_id });
      original = approved.body;
      await verifyWholeLedger(4, 1);
    });

    it("batch 2 (admin approves, admin denies, agent cancels with the SDK's body) verifies", async () => {
      expect((await decide(ids.reviewApproved!, v.adminKey, true, "ok")).status).toBe(200);
      const toDeny = await clear({ amount: 600 });
      expect((await decide(toDeny.body.request_id, v.adminKey, false, "not this one")).status).toBe(200);
      const toCancel = await clear({ amount: 700, currency: "eur" });
      expect((await decide(toCancel.body.request_id, agent, false, "cancelled by agent")).status).toBe(200);
      Object.assign(ids, { reviewDenied: toDeny.body.request_id, cancelled: toCancel.body.request_id });
      await verifyWholeLedger(9, 2);
    });

    it("batch 3 (/mint-token re-issue, /consume-token) verifies", async () => {
      const mint = await call(v.url, "POST", "/mint-token", {
        key: agent,
        body: {
          tool_name: "stripe_refund",
          tool_args: { amount: 45, currency: "usd", orderId: "o_1" }, // the SDK sends the caller's original keys here
          agent_id: "agent-7",
          session_id: "s-1",
          policy_id: "",
          policy_version_id: original.policy_version_id,
          policy_content_hash: original.policy_content_hash,
          original_request_id: original.request_id,
          confidence_bucket: original.confidence_bucket,
          reason: original.reason,
        },
      });
      expect(mint.status, JSON.stringify(mint.body)).toBe(200);
      ids.minted = mint.body.request_id;
      const consume = await call(v.url, "POST", "/consume-token", { key: agent, body: { token: original.token, tool_name: "stripe_refund", tool_args: { amount: 45, currency: "usd", order_id: "o_1" } } });
      expect(consume.status, JSON.stringify(consume.body)).toBe(200);
      await verifyWholeLedger(11, 3);
    });

    it("records exactly the expected event types, in order per request", async () => {
      const raw = await rawLedger();
      const byRequest: Record<string, string[]> = {};
      for (const r of raw) (byRequest[r.request_id] ??= []).push(r.event_type);
      expect(byRequest).toEqual({
        [ids.approved!]: ["clearance.approved", "token.consumed"],
        [ids.denied!]: ["clearance.denied"],
        [ids.reviewApproved!]: ["clearance.pending_review", "review.approved"],
        [ids.reviewDenied!]: ["clearance.pending_review", "review.denied"],
        [ids.cancelled!]: ["clearance.pending_review", "review.cancelled_by_agent"],
        [ids.minted!]: ["token.minted"],
        [ids.noPolicy!]: ["clearance.pending_review"],
      });
      // Both hash schemas in use, and an unredacted confidence-0 row that the SDK path re-hashed.
      expect(new Set(raw.map((r) => r.canonical_version))).toEqual(new Set([2, 3]));
      expect(raw.some((r) => r.confidence === 0 && r.intent_hash !== "")).toBe(true);
      expect(new Set(raw.map((r) => r.event_type))).toEqual(new Set(EVENT_TYPES));
      expect(raw.map((r) => r.seq)).toEqual([...raw.map((r) => r.seq)].sort((a, b) => a - b));
    });

    it("every bundle verifies the SDK's way, with its own keys and with the JWKS, against the newest checkpoint", async () => {
      const cps = await fetchLedgerCheckpoints(v.url, agent);
      const newest = cps.at(-1)!;
      const raw = await rawLedger();
      let withConsistency = 0;
      const queries = [...Object.values(ids).map((id) => ({ request_id: id })), ...raw.map((r) => ({ request_id: r.request_id, event_uuid: r.event_uuid }))];
      for (const q of queries) {
        const bundle = await fetchLedgerProofBundle(v.url, agent, q.request_id, "event_uuid" in q ? { event_uuid: q.event_uuid } : {});
        expect(bundle.event.eventUuid).toBe("event_uuid" in q ? q.event_uuid : decisionEvent(raw, q.request_id).event_uuid);
        expect(bundle.keys.length).toBeGreaterThan(0);
        const own = verifyLedgerProofBundle(bundle, undefined);
        const viaJwks = verifyLedgerProofBundle({ ...bundle, keys: [] }, jwks);
        expect(viaJwks).toEqual(own);
        expect(own).toMatchObject({ intact: true, verifiedEntries: 1, latestLeafHash: bundle.event.leafHash, latestCheckpointHash: newest.checkpointHash });
        expect(bundle.inclusion.checkpoint.checkpointId).toBe(newest.checkpointId);
        expect([bundle.event.receiptKeyId, bundle.inclusion.checkpoint.signerKeyId]).toEqual([LEDGER_KID, LEDGER_KID]);
        if (bundle.consistency) {
          withConsistency += 1;
          expect(own.verifiedCheckpoints).toBe(2);
          expect(bundle.consistency.fromCheckpoint.checkpointId).toBeLessThan(bundle.consistency.toCheckpoint.checkpointId);
          expect(bundle.consistency.toCheckpoint.checkpointId).toBe(newest.checkpointId);
        } else {
          expect(own.verifiedCheckpoints).toBe(1);
        }
        const wire = await rawBundle(new URLSearchParams(q).toString());
        expect(wireProblems(wire)).toEqual([]);
        expect("consistency" in wire).toBe(bundle.consistency !== undefined);
      }
      expect(withConsistency).toBeGreaterThan(0);
      expect(withConsistency).toBeLessThan(queries.length);
    });

    it("?redact=none: snake_case rows fail the SDK's verifyLedgerProof; the vault's own verifier accepts every bundle", async () => {
      const cps = await fetchLedgerCheckpoints(v.url, agent);
      const entries = await fetchLedger(v.url, agent, 100, { redact: "none" });
      const raw = await rawLedger("none");
      expect(raw.every((r) => r.intent_hash !== "" && r.intent_hash_committed === undefined)).toBe(true);
      const firstSnake = raw.find(snakeBody)!;
      expectSdkFailure(() => verifyLedgerProof(entries, cps, jwks), `Ledger event hash mismatch at seq ${firstSnake.seq}`);
      const safe = entries.filter((e) => !snakeBody(raw.find((r) => r.seq === e.seq)!));
      expect(verifyLedgerProof(safe, cps, jwks).coverageNote).toBe(`Provided ${safe.length} sequenced entries for tree size ${raw.length}; full root verification requires the complete covered set.`);
      const rawJwks = (await call(v.url, "GET", "/.well-known/jwks.json")).body;
      for (const r of raw) {
        for (const redact of ["none", "auto"]) {
          const wire = await rawBundle(new URLSearchParams({ request_id: r.request_id, event_uuid: r.event_uuid, redact }).toString());
          for (const keys of [trustedKeysFromJwks(rawJwks), trustedKeysFromBundle(wire)]) {
            const report = verifyProofBundle(wire, keys, { requireBody: true });
            expect(report.ok, JSON.stringify(report.checks.filter((c) => !c.ok))).toBe(true);
          }
          expect(verifyLedgerProofBundle(await fetchLedgerProofBundle(v.url, agent, r.request_id, { event_uuid: r.event_uuid, redact }), jwks).intact).toBe(true);
        }
      }
    });

    it("inclusion and consistency responses parse with the SDK schemas and verify (§4.9, §4.10)", async () => {
      const cps: Checkpoint[] = await fetchLedgerCheckpoints(v.url, agent);
      const newest = cps.at(-1)!;
      const raw = await rawLedger();
      for (const id of Object.values(ids)) {
        const p = await fetchInclusionProof(v.url, agent, id);
        const event = decisionEvent(raw, id);
        expect([p.eventUuid, p.leafHash, p.leafIndex, p.treeSize]).toEqual([event.event_uuid, event.leaf_hash, event.leaf_index, newest.treeSize]);
        expect(p.checkpoint).toEqual(newest);
        expect(inclusionValid(p.leafHash, p.leafIndex, p.treeSize, p.path, p.checkpoint.rootHash), id).toBe(true);
        expect(inclusionValid(p.leafHash, p.leafIndex, p.treeSize, p.path, cps[0]!.rootHash)).toBe(false);
      }
      for (let from = 1; from <= cps.length; from++) {
        for (let to = from; to <= cps.length; to++) {
          const c = await fetchConsistencyProof(v.url, agent, from, to);
          expect([c.fromCheckpoint, c.toCheckpoint]).toEqual([cps[from - 1], cps[to - 1]]);
          expect(consistencyValid(c.fromCheckpoint.treeSize, c.toCheckpoint.treeSize, c.fromCheckpoint.rootHash, c.toCheckpoint.rootHash, c.path), `${from}→${to}`).toBe(true);
          const wire = (await call(v.url, "GET", `/ledger/proof/consistency?from=${from}&to=${to}`, { key: agent })).body;
          expect(wireProblems(wire)).toEqual([]);
        }
      }
      const whole = await fetchConsistencyProof(v.url, agent, 1, cps.length);
      expect(whole.path.length).toBeGreaterThan(0);
      expect(consistencyValid(whole.fromCheckpoint.treeSize, whole.toCheckpoint.treeSize, whole.fromCheckpoint.rootHash, newest.rootHash, whole.path.slice(1))).toBe(false);
    });

    it("publishes the token key and the ledger key in the JWKS, and bundles name the ledger kid", async () => {
      const byKid = new Map(jwks.keys.map((k) => [k.kid, k]));
      for (const kid of [TOKEN_KID, LEDGER_KID]) expect(byKid.get(kid), kid).toMatchObject({ kty: "OKP", crv: "Ed25519" });
      expect(byKid.get(TOKEN_KID)!.x).not.toBe(byKid.get(LEDGER_KID)!.x);
      expect(jwks.keys.some((k) => "d" in k)).toBe(false);
      const bundle = await fetchLedgerProofBundle(v.url, agent, ids.minted!);
      expect(bundle.keys.map((k) => k.keyId)).toEqual([LEDGER_KID]);
      const embedded = JSON.parse(Buffer.from(bundle.keys[0]!.publicJwk, "base64url").toString("utf8"));
      expect(embedded).toMatchObject({ kty: "OKP", crv: "Ed25519", kid: LEDGER_KID, x: byKid.get(LEDGER_KID)!.x });
      const checkpoints = (await call(v.url, "GET", "/ledger/checkpoints", { key: agent })).body.checkpoints as Raw[];
      expect(checkpoints.every((c) => c.signer_key_id === LEDGER_KID)).toBe(true);
      expect(wireProblems(checkpoints)).toEqual([]);
    });

    it("edge bodies (number forms, non-ASCII keys, unconverted keys, a key collision) still verify; only the collision is redacted", async () => {
      const bodies = [
        '{"amount":45,"z":-0,"big":12345678901234567890,"f":0.1,"e":1.5e300}',
        '{"amount":45,"\\u00e9":1,"ab":2,"\\ud83d\\ude00":3,"s":"caf\\u00e9"}',
        '{"amount":45,"m":[[{"a_b":1}]],"A_B":1,"_1":2,"x_":3}',
        '{"amount":45,"orderId":1,"order_id":2}',
      ];
      for (const args of bodies) {
        const res = await call(v.url, "POST", "/request-clearance", { key: agent, rawBody: `{"tool_name":"stripe_refund","tool_args":${args}}` });
        expect(res.body.status, args).toBe("approved");
      }
      await verifyWholeLedger(11 + bodies.length, 4);
      expect((await rawLedger()).slice(-bodies.length).map((r) => r.intent_hash === "")).toEqual([false, false, false, true]);
    });
  });
}
