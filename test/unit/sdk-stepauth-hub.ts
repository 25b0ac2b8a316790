import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { peekSenderId, validateAuthorizationRequest } from "../../src/protocols/stepauth/authorization-request.js";
import { encodeDecision, requestDigest, type Decision } from "../../src/protocols/stepauth/decision.js";
import { encodeEnvelope, parseEnvelope, signEnvelope, verifyEnvelope } from "../../src/protocols/stepauth/envelope.js";
import { STEPAUTH_ERROR_STATUS, type StepAuthErrorCode } from "../../src/protocols/stepauth/errors.js";
import { generateHybridKeyset, publicKeysetOf, type PrivateKeyset, type PublicKeyset } from "../../src/protocols/stepauth/keyset.js";
import { peekSender, validateCancel, validateDirectoryQuery, validatePoll } from "../../src/protocols/stepauth/queries.js";

/**
 * A tiny StepAuth hub for the SDK's tests (the vault's real endpoints are tested elsewhere): it
 * serves /stepauth/acme/v1/... with the reference's processing order, built on the same pure wire
 * code, and lets a test inject failures. Not a test file itself (no .test.ts).
 */
export interface StoredRequest {
  bytes: Uint8Array;
  decision?: Decision;
  /** Signs the decision; the hub's own keyset unless a test substitutes another. */
  signer?: PrivateKeyset;
  cancelled?: boolean;
}

export interface FakeHub {
  url: string;
  host: string;
  entity: string;
  keyset: PrivateKeyset;
  /** Raw bodies received, by route ("submit", "poll", "cancel"). */
  bodies: { submit: string[]; poll: string[]; cancel: string[]; [route: string]: string[] | undefined };
  stored: Map<string, StoredRequest>;
  /** Before a route runs: return true when the hook answered (or destroyed the socket) itself. */
  intercept?: (route: string, req: IncomingMessage, res: ServerResponse, body: string) => boolean;
  decide(requestId: string, decision: "approved" | "denied", tamper?: (d: Decision) => Decision, signer?: PrivateKeyset): void;
  close(): Promise<void>;
}

const PREFIX = "/stepauth/acme";

export async function startFakeHub(senders: Record<string, readonly PublicKeyset[]>, entity = "hub.example.com"): Promise<FakeHub> {
  const keyset = generateHybridKeyset("ks_hub_1");
  const bodies: FakeHub["bodies"] = { submit: [], poll: [], cancel: [] };
  const stored: FakeHub["stored"] = new Map();
  const send = (res: ServerResponse, status: number, body: unknown) => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(typeof body === "string" ? body : JSON.stringify(body));
  };
  const refuse = (res: ServerResponse, code: StepAuthErrorCode, message: string) => send(res, STEPAUTH_ERROR_STATUS[code], { error: code, message });
  const signedBy = (text: string, sender: (p: Uint8Array) => string | null): { error: StepAuthErrorCode } | { payload: Uint8Array; senderId: string } => {
    const parsed = parseEnvelope(text);
    if (!parsed) return { error: "malformed_request" };
    const senderId = sender(parsed.payload);
    const keysets = senderId === null ? undefined : senders[senderId];
    if (!keysets) return { error: "unknown_sender" };
    if (!verifyEnvelope(parsed, keysets)) return { error: "invalid_signature" };
    return { payload: parsed.payload, senderId: senderId! };
  };

  const hub: FakeHub = {
    url: "",
    host: "",
    entity,
    keyset,
    bodies,
    stored,
    decide(requestId, decision, tamper = (d) => d, signer = keyset) {
      const entry = stored.get(requestId)!;
      const d: Decision = { requestId, senderId: entity, recipientId: "sp.example.com", decision, decidedAt: new Date().toISOString().replace(/\.\d+Z$/, "Z"), decidedBy: decision === "approved" ? ["email:alice@example.com"] : [], requestDigest: { algorithm: "sha256", value: requestDigest(entry.bytes) } };
      entry.decision = tamper(d);
      entry.signer = signer;
    },
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };

  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const url = req.url ?? "";
      const now = new Date();
      const route = url === `${PREFIX}/v1/metadata` ? "metadata" : url === `${PREFIX}/v1/authorization-requests` ? "submit" : url === `${PREFIX}/v1/authorization-requests/cancel` ? "cancel" : /\/decision$/.test(url) ? "poll" : url;
      bodies[route]?.push(body);
      if (hub.intercept?.(route, req, res, body)) return;
      if (route === "metadata") return send(res, 200, { entity, keysets: [publicKeysetOf(keyset)], host: hub.host });
      if (route === "submit") {
        const s = signedBy(body, peekSenderId);
        if ("error" in s) return refuse(res, s.error, s.error);
        const v = validateAuthorizationRequest(s.payload, { hubEntity: entity, now });
        if (!v.ok) return refuse(res, v.code, v.message);
        if (stored.has(v.request.requestId)) return refuse(res, "duplicate_request", "requestId already used");
        stored.set(v.request.requestId, { bytes: s.payload });
        return send(res, 202, { requestId: v.request.requestId, status: "pending", createdAt: now.toISOString() });
      }
      if (route === "poll") {
        const s = signedBy(body, peekSenderId);
        if ("error" in s) return refuse(res, s.error, s.error);
        // The hub compares requestUri with the raw path it was reached at, prefix included.
        const v = validatePoll(s.payload, { hubEntity: entity, requestUri: url, now });
        if (!v.ok) return refuse(res, v.code, v.message);
        const id = decodeURIComponent(url.slice(`${PREFIX}/v1/authorization-requests/`.length, -"/decision".length));
        const entry = stored.get(id);
        if (!entry) return refuse(res, "request_not_found", "no such request");
        if (!entry.decision) return send(res, 202, { requestId: id, status: "pending" });
        return send(res, 200, encodeEnvelope(signEnvelope(encodeDecision(entry.decision), entry.signer ?? keyset)));
      }
      if (route === "cancel") {
        const s = signedBy(body, peekSender);
        if ("error" in s) return refuse(res, s.error, s.error);
        const v = validateCancel(s.payload, { now });
        if (!v.ok) return refuse(res, v.code, v.message);
        const entry = stored.get(v.value.requestId);
        if (!entry) return refuse(res, "request_not_found", "no such request");
        if (entry.decision) return send(res, 409, { error: "already_decided", message: "already decided" });
        hub.decide(v.value.requestId, "denied");
        entry.cancelled = true;
        return send(res, 200, { requestId: v.value.requestId, status: "cancelled" });
      }
      if (/^\/stepauth\/acme\/v1\/(users|groups|policies)$/.test(url)) {
        const s = signedBy(body, peekSenderId);
        if ("error" in s) return refuse(res, s.error, s.error);
        const v = validateDirectoryQuery(s.payload, { hubEntity: entity, requestUri: url, now });
        if (!v.ok) return refuse(res, v.code, v.message);
        const items = [{ id: "email:alice@example.com", label: "Alice" }, { id: "group:release", count: 3 }];
        const from = Number(v.value.cursor ?? 0);
        const page = items.slice(from, from + (v.value.limit ?? items.length));
        return send(res, 200, { items: page, ...(from + page.length < items.length ? { nextCursor: String(from + page.length) } : {}) });
      }
      send(res, 404, { error: "not_found", message: url });
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  hub.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  hub.host = `${hub.url}${PREFIX}`;
  return hub;
}

