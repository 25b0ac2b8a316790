/**
 * Builds proof bundles (wire protocol §2.11) from the pure ledger functions, signed with the §4.13 key
 * (RFC 8032 §7.1 TEST 1), for the bundle-verifier and verify-bundle CLI tests.
 */
import { checkpointHash, checkpointPayload, eventHash, type LedgerEvent, receiptPayload } from "../../src/ledger/core/event-hash.js";
import { consistencyProof, inclusionProof, leafHash, rootFromLeafHashes } from "../../src/ledger/core/merkle.js";
import { signNote, verifierKeyString } from "../../src/ledger/core/signed-note.js";
import { formatCheckpoint } from "../../src/ledger/core/tlog-checkpoint.js";
import type { CheckpointWire, LedgerEntryWire, ProofBundleWire } from "../../src/ledger/core/wire.js";
import { LocalSigner, parseEd25519PrivateKey } from "../../src/tokens/signer.js";

export const SEED_HEX = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60";
export const KID = "ledger-2026-01";
export const signer = new LocalSigner(KID, parseEd25519PrivateKey(Buffer.from(SEED_HEX, "hex").toString("base64"), "test"));
export const PUBLIC_KEY = new Uint8Array(Buffer.from(signer.publicJwk.x, "base64url"));
export const ORIGIN = "vault.example.com/ledger/tenant-1";

const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");
const b64url = (b: Uint8Array) => Buffer.from(b).toString("base64url");

/** §4.13 event i (canonical_version i). */
export function vectorEvent(i: 1 | 2 | 3): LedgerEvent {
  const e: LedgerEvent = {
    event_uuid: `00000000-0000-4000-8000-00000000000${i}`,
    request_id: `req-${i}`,
    agent_id: "agent-1",
    policy_id: "refund-policy",
    intent_hash: "ab".repeat(32),
    tool_name: "stripe_refund",
    tool_args: { amount: 45, currency: "usd" },
    reason: "Within limit",
    citations: [],
    evidence_chunks: [],
    confidence: 0.85,
    approved: true,
    confidence_bucket: "high",
    decision_status: "approved",
    accepted_at: "2026-03-15T12:00:00Z",
    canonical_version: i,
  };
  if (i === 3) {
    Object.assign(e, {
      rule_set_hash: "cd".repeat(32),
      matched_rule_ids: ["r-1"],
      eval_inputs_hash: "ef".repeat(32),
      eval_trace_hash: "01".repeat(32),
      classifier_label: "refund",
      classifier_confidence_bucket: "high",
    });
  }
  return e;
}

/** A signed ledger row as GET /ledger serves it. */
export function entryFor(event: LedgerEvent, seq: number, leafIndex: number, checkpointId: number, sign: LocalSigner = signer): LedgerEntryWire {
  const event_hash = eventHash(event);
  const leaf_hash = hex(leafHash(Buffer.from(event_hash, "hex")));
  const payload = receiptPayload({ ...event, event_hash, leaf_hash, receipt_key_id: sign.kid });
  return {
    seq,
    event_type: "clearance.approved",
    ...event,
    confidence_bucket: event.confidence_bucket ?? null,
    decision_status: event.decision_status ?? null,
    event_hash,
    leaf_hash,
    leaf_index: leafIndex,
    checkpoint_id: checkpointId,
    receipt_algorithm: "Ed25519",
    receipt_key_id: sign.kid,
    receipt_signature: b64url(sign.signSync(payload)),
    receipt_payload: b64url(payload),
    rule_set_hash: event.rule_set_hash ?? null,
    matched_rule_ids: event.matched_rule_ids ?? null,
    eval_inputs_hash: event.eval_inputs_hash ?? null,
    eval_trace_hash: event.eval_trace_hash ?? null,
    classifier_label: event.classifier_label ?? null,
    classifier_confidence_bucket: event.classifier_confidence_bucket ?? null,
  };
}

export interface CheckpointSpec {
  id: number;
  treeSize: number;
  prev: string;
  signedAt: string;
}

/** A signed Ledgix checkpoint (§4.5) over the first `treeSize` leaf hashes. */
export function checkpointFor(leaves: readonly Uint8Array[], spec: CheckpointSpec, sign: LocalSigner = signer): CheckpointWire {
  const fields = {
    signer_key_id: sign.kid,
    tree_size: spec.treeSize,
    root_hash: hex(rootFromLeafHashes(leaves.slice(0, spec.treeSize))),
    signed_at: spec.signedAt,
    mmd_seconds: 30,
    export_target: "",
    prev_checkpoint_hash: spec.prev,
  };
  const payload = checkpointPayload(fields);
  return {
    checkpoint_id: spec.id,
    microblock_id: spec.id,
    ...fields,
    checkpoint_hash: checkpointHash(payload),
    signature_algorithm: "Ed25519",
    checkpoint_signature: b64url(sign.signSync(payload)),
    checkpoint_payload: b64url(payload),
    export_uri: "",
    export_status: "",
  };
}

export const leafBytes = (entry: LedgerEntryWire) => new Uint8Array(Buffer.from(entry.leaf_hash, "hex"));

export interface BundleSpec {
  events: LedgerEvent[];
  /** Leaf of the event the bundle is about. */
  index: number;
  /** Tree sizes of checkpoints 1, 2, ...; the last is the inclusion checkpoint. */
  sizes: number[];
  /** Checkpoint id (1-based) the consistency proof starts from; omitted: no consistency. */
  fromId?: number;
  c2sp?: boolean;
  keys?: boolean;
  sign?: LocalSigner;
}

export async function buildBundle(spec: BundleSpec): Promise<ProofBundleWire> {
  const sign = spec.sign ?? signer;
  const entries = spec.events.map((e, i) => entryFor(e, i + 1, i, spec.sizes.findIndex((s) => i < s) + 1, sign));
  const leaves = entries.map(leafBytes);
  const checkpoints: CheckpointWire[] = [];
  spec.sizes.forEach((treeSize, i) => {
    const signedAt = `2026-03-15T12:${String(5 * (i + 1)).padStart(2, "0")}:00Z`;
    checkpoints.push(checkpointFor(leaves, { id: i + 1, treeSize, prev: checkpoints[i - 1]?.checkpoint_hash ?? "", signedAt }, sign));
  });
  const latest = checkpoints[checkpoints.length - 1]!;
  const event = entries[spec.index]!;
  const bundle: ProofBundleWire = {
    event,
    inclusion: {
      event_uuid: event.event_uuid,
      request_id: event.request_id,
      event_hash: event.event_hash,
      leaf_hash: event.leaf_hash,
      leaf_index: spec.index,
      tree_size: latest.tree_size,
      path: inclusionProof(leaves, spec.index, latest.tree_size).map(hex),
      checkpoint: latest,
    },
    keys: [],
  };
  if (spec.fromId !== undefined) {
    const from = checkpoints[spec.fromId - 1]!;
    // A separate copy, as JSON would carry it: tampering one must not tamper the other.
    bundle.consistency = { from_checkpoint: from, to_checkpoint: structuredClone(latest), path: consistencyProof(leaves, from.tree_size, latest.tree_size).map(hex) };
  }
  if (spec.keys) {
    bundle.keys = [
      {
        key_id: sign.kid,
        algorithm: "EdDSA",
        public_jwk: Buffer.from(JSON.stringify(sign.publicJwk)).toString("base64url"),
        active_from: "2026-01-01T00:00:00Z",
        attestation_payload: "",
        attestation_signature: "",
        attestation_key_id: "",
        attestation_status: "",
      },
    ];
  }
  if (spec.c2sp) {
    const publicKey = new Uint8Array(Buffer.from(sign.publicJwk.x, "base64url"));
    const body = formatCheckpoint({ origin: ORIGIN, size: latest.tree_size, rootHash: Buffer.from(latest.root_hash, "hex") });
    bundle.c2sp_checkpoint = await signNote(body, ORIGIN, (m) => sign.sign(m), publicKey);
    bundle.c2sp_verifier_key = verifierKeyString(ORIGIN, publicKey);
  }
  return bundle;
}

/** Seven events: the three §4.13 ones and four more, the one at leaf 2 with snake_case tool_args keys. */
export function sevenEvents(): LedgerEvent[] {
  return Array.from({ length: 7 }, (_, i) => {
    const e = vectorEvent(((i % 3) + 1) as 1 | 2 | 3);
    // A UUIDv8 with type code 0, as the vault writes them: it commits to clearance.approved (event-uuid.ts).
    e.event_uuid = `00000000-0000-8000-8000-0000000001${String(i).padStart(2, "0")}`;
    e.request_id = `req-fixture-${i}`;
    if (i === 2) {
      // snake_case keys: the served body is hashed as is; the SDK's camelCased view would mis-hash it (§4.12).
      e.tool_args = { order_id: "o-2", amount: 45, nested: { deep_key: [1, { x_y: true }] } };
      e.citations = [{ policy_id: "refund-policy", chunk: 3 }];
    }
    return e;
  });
}

/** Event at leaf 2, first covered by checkpoint 1 (size 3), proven in checkpoint 2 (size 7), with C2SP. */
export function fullBundle(overrides: Partial<BundleSpec> = {}): Promise<ProofBundleWire> {
  return buildBundle({ events: sevenEvents(), index: 2, sizes: [3, 7], fromId: 1, c2sp: true, keys: true, ...overrides });
}
