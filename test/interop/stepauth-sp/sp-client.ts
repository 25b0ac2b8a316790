/**
 * A small StepAuth service provider (SP), written from ../shared/reference/stepauth-protocol.md ONLY.
 *
 * It MUST NOT import server modules: nothing under src/ (not src/protocols, not the SDK). It speaks the
 * wire format of the reference (§1 envelope, §3 submit, §5 decision, §7 poll and cancel, §8 directory)
 * so that the interop tests check the vault against the document rather than against itself.
 */
import { createHash, randomBytes } from "node:crypto";
import { envelopeText, verifyEnvelope, type SpSigner, type WireKeyset } from "./sp-keys.js";

export interface Reply { status: number; headers: Headers; text: string; body: any }
export interface HubMetadata { entity: string; keysets: WireKeyset[]; host: string }
export interface Decision {
  requestId: string; senderId: string; recipientId: string; decision: "approved" | "denied";
  decidedAt: string; decidedBy: string[]; requestDigest: { algorithm: string; value: string };
}
export type Verified = { ok: true; decision: Decision } | { ok: false; reason: string };
type Fields = Record<string, unknown>;

/** RFC 3339 in whole seconds with `Z`, as the SDKs emit it (reference §3). */
export const stamp = (d: Date = new Date()): string => d.toISOString().replace(/\.\d{3}Z$/, "Z");
export const utf8 = (s: string): Buffer => Buffer.from(s, "utf8");
/** requestDigest.value: base64std(SHA-256(P)) over the exact bytes sent (reference §5). */
export const digestOf = (p: Uint8Array): string => createHash("sha256").update(p).digest("base64");

async function send(url: string, init: RequestInit): Promise<Reply> {
  // SDK clients never follow redirects (reference §2): a redirect shows up as its own status.
  const res = await fetch(url, { ...init, redirect: "manual", signal: AbortSignal.timeout(30_000) });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    /* left as text: a non-JSON error body is itself a finding */
  }
  return { status: res.status, headers: res.headers, text, body };
}

export function fetchMetadata(host: string): Promise<Reply> {
  return send(`${host}/v1/metadata`, { method: "GET" });
}

/**
 * The SP's checks on a decision envelope, in the order of reference §5: (1) all-of signature against the
 * hub's published keysets, (2) senderId is the hub entity, (3) recipientId is this SP, (4) the digest is
 * SHA-256 of the exact request bytes this SP sent. Also: decision is only approved or denied.
 */
export function verifyDecision(body: string, expect: { hub: HubMetadata; spEntity: string; requestBytes: (requestId: string) => Uint8Array | undefined }): Verified {
  const env = verifyEnvelope(body, expect.hub.keysets);
  if (!env.ok) return { ok: false, reason: `signature: ${env.reason}` };
  let d: Decision;
  try {
    d = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(env.payload));
  } catch {
    return { ok: false, reason: "the decision payload is not UTF-8 JSON" };
  }
  if (d.senderId !== expect.hub.entity) return { ok: false, reason: `senderId ${d.senderId} is not the hub ${expect.hub.entity}` };
  if (d.recipientId !== expect.spEntity) return { ok: false, reason: `recipientId ${d.recipientId} is not ${expect.spEntity}` };
  const sent = typeof d.requestId === "string" ? expect.requestBytes(d.requestId) : undefined;
  if (!sent) return { ok: false, reason: `no request ${d.requestId} was sent` };
  if (d.requestDigest?.algorithm !== "sha256") return { ok: false, reason: "requestDigest.algorithm is not sha256" };
  if (d.requestDigest.value !== digestOf(sent)) return { ok: false, reason: "requestDigest does not match the bytes sent" };
  if (d.decision !== "approved" && d.decision !== "denied") return { ok: false, reason: `decision ${String(d.decision)} is neither approved nor denied` };
  if (!Array.isArray(d.decidedBy) || !d.decidedBy.every((x) => typeof x === "string")) return { ok: false, reason: "decidedBy is not a string array" };
  if (typeof d.decidedAt !== "string" || Number.isNaN(Date.parse(d.decidedAt))) return { ok: false, reason: "decidedAt is not a timestamp" };
  return { ok: true, decision: d };
}

export class SpClient {
  /** requestId → the exact bytes P submitted (what the digest covers). */
  readonly sent = new Map<string, Buffer>();

  constructor(
    readonly host: string,
    readonly senderId: string,
    readonly signer: SpSigner,
    readonly hubEntity: string,
  ) {}

  /** The request's full path and query including the org prefix (the directory's and poll's requestUri). */
  requestUri(path: string): string {
    const u = new URL(this.host + path);
    return u.pathname + u.search;
  }

  postRaw(path: string, body: string): Promise<Reply> {
    return send(this.host + path, { method: "POST", headers: { "content-type": "application/json" }, body });
  }

  postSigned(path: string, payload: Fields | Uint8Array, signer: SpSigner = this.signer): Promise<Reply> {
    const p = payload instanceof Uint8Array ? payload : utf8(JSON.stringify(payload));
    return this.postRaw(path, envelopeText(p, signer));
  }

  /** An AuthorizationRequest in the Go SDK's field order (reference §3); overrides replace or (undefined) drop fields. */
  request(overrides: Fields = {}): Fields {
    const now = new Date();
    return {
      requestId: `req_${randomBytes(16).toString("hex")}`,
      senderId: this.senderId,
      recipientId: this.hubEntity,
      timestamp: stamp(now),
      expiresAt: stamp(new Date(now.getTime() + 30 * 60_000)),
      principal: { subject: "email:alice@sp.example" },
      action: { type: "sp.example.deploy", category: "code.deploy", summary: "Deploy the payments service" },
      ...overrides,
    };
  }

  /** Signs and submits P; remembers the bytes under the requestId they carry (when they carry one). */
  async submitBytes(p: Uint8Array, signer: SpSigner = this.signer): Promise<Reply> {
    const reply = await this.postSigned("/v1/authorization-requests", p, signer);
    try {
      const id = JSON.parse(Buffer.from(p).toString("utf8")).requestId;
      if (typeof id === "string" && reply.status === 202) this.sent.set(id, Buffer.from(p));
    } catch {
      /* deliberately malformed P */
    }
    return reply;
  }

  async submit(overrides: Fields = {}, signer?: SpSigner): Promise<Reply & { requestId: string; requestBytes: Buffer }> {
    const request = this.request(overrides);
    const requestBytes = utf8(JSON.stringify(request));
    const reply = await this.submitBytes(requestBytes, signer);
    return { ...reply, requestId: String(request.requestId), requestBytes };
  }

  /** Poll (reference §7 [CHOICE]): POST …/{requestId}/decision over {senderId, recipientId, requestUri, timestamp}. */
  poll(requestId: string, overrides: Fields = {}): Promise<Reply> {
    const path = `/v1/authorization-requests/${encodeURIComponent(requestId)}/decision`;
    const payload = { senderId: this.senderId, recipientId: this.hubEntity, requestUri: this.requestUri(path), timestamp: stamp(), ...overrides };
    return this.postSigned(path, payload);
  }

  /** Cancel (reference §7): {requestId, spId, timestamp}; the [CHOICE] also accepts senderId. */
  cancel(requestId: string, opts: { as?: "spId" | "senderId"; overrides?: Fields } = {}): Promise<Reply> {
    const payload = { requestId, [opts.as ?? "spId"]: this.senderId, timestamp: stamp(), ...opts.overrides };
    return this.postSigned("/v1/authorization-requests/cancel", payload);
  }

  /** Directory (reference §8): POST /v1/users|groups|policies, bound to its own requestUri. */
  directory(kind: "users" | "groups" | "policies", opts: { query?: string; limit?: number; cursor?: string; overrides?: Fields } = {}): Promise<Reply> {
    const path = `/v1/${kind}${opts.query ?? ""}`;
    const payload: Fields = { senderId: this.senderId, recipientId: this.hubEntity, requestUri: this.requestUri(path), timestamp: stamp() };
    if (opts.limit !== undefined) payload.limit = opts.limit;
    if (opts.cursor !== undefined) payload.cursor = opts.cursor;
    return this.postSigned(path, { ...payload, ...opts.overrides });
  }

  verify(body: string, hub: HubMetadata): Verified {
    return verifyDecision(body, { hub, spEntity: this.senderId, requestBytes: (id) => this.sent.get(id) });
  }
}
