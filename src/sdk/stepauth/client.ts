import { utf8 } from "../../protocols/encoding.js";
import { verifyDecisionEnvelope, type Decision } from "../../protocols/stepauth/decision.js";
import { encodeEnvelope, signEnvelope } from "../../protocols/stepauth/envelope.js";
import type { PrivateKeyset } from "../../protocols/stepauth/keyset.js";
import { formatRfc3339, isHttpsOrLoopbackUrl, isValidId } from "../../protocols/stepauth/wire-rules.js";
import { sleep } from "../http.js";
import { StepAuthError } from "./errors.js";
import { exchange, jsonObject, protocolError, type HubTransport } from "./transport.js";
import { buildRequestBytes, pathSegment, readMetadata, type HubIdentity, type SubmitInput } from "./wire.js";

export interface StepAuthClientOptions {
  /** The hub's transport origin, with its path prefix (Countersign: `https://vault/stepauth/<tenant>`). Never derived from the entity. */
  host: string;
  /** This SP's entity, sent as senderId. */
  senderId: string;
  keyset: PrivateKeyset;
  /** The hub's entity and keysets. Pin them; without, they are read once from the hub's metadata. */
  hub?: HubIdentity;
  fetch?: typeof fetch;
  timeoutMs?: number;
  /** Submit and cancel attempts (transport errors and 5xx only). */
  maxAttempts?: number;
  backoffMs?: number;
  now?: () => Date;
}

export interface SubmitResult {
  requestId: string;
  /** The exact bytes signed: persist them until the request is final, the decision is verified against them. */
  requestBytes: Uint8Array;
  hubEntity: string;
  response: { requestId: string; status: string; createdAt?: string; reviewDescription?: string; alreadySubmitted?: boolean };
}

export type PollResult = { status: "pending" } | { status: "decided"; decision: Decision; envelope: string };
export interface PollOptions {
  /** The request bytes from submit; default the ones this client sent (kept in memory). */
  requestBytes?: Uint8Array;
  signal?: AbortSignal;
}

/** A page of approvers; ids are NameIDs. */
export interface DirectoryPage {
  items: { id: string; label?: string; provenance?: string; namespace?: string; count?: number }[];
  nextCursor?: string;
}

const MAX_REMEMBERED = 10_000;

/** An SP's client of one StepAuth hub: submit, poll, wait, cancel. Every body is a signed envelope. */
export class StepAuthClient {
  private readonly host: string;
  private readonly transport: HubTransport;
  private readonly maxAttempts: number;
  private readonly backoffMs: number;
  private readonly now: () => Date;
  private hub: HubIdentity | undefined;
  // Request bytes by id, so poll works without the caller passing them back (bounded; persist your own).
  private readonly sent = new Map<string, Uint8Array>();

  constructor(private readonly options: StepAuthClientOptions) {
    if (!isHttpsOrLoopbackUrl(options.host)) throw new StepAuthError("invalid_options", "host must be https, or http to localhost/127.0.0.1");
    if (!isValidId(options.senderId)) throw new StepAuthError("invalid_options", "senderId must be 1-256 printable ASCII characters without '#'");
    if (!options.keyset?.keys?.length) throw new StepAuthError("invalid_options", "keyset is required");
    this.host = options.host.replace(/\/+$/, "");
    this.transport = { fetch: options.fetch ?? globalThis.fetch.bind(globalThis), timeoutMs: options.timeoutMs ?? 30_000, maxResponseBytes: 1024 * 1024 };
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 3);
    this.backoffMs = options.backoffMs ?? 250;
    this.now = options.now ?? (() => new Date());
    this.hub = options.hub;
  }

  /** `GET {host}/v1/metadata`: the hub's entity, keysets and host. */
  async metadata(options: { signal?: AbortSignal } = {}): Promise<{ entity: string; keysets: HubIdentity["keysets"]; host?: string }> {
    const answer = await exchange(this.transport, "GET", `${this.host}/v1/metadata`, undefined, options.signal);
    if (answer.status !== 200) throw protocolError(answer, "GET /v1/metadata");
    return readMetadata(answer.text);
  }

  private async hubIdentity(signal?: AbortSignal): Promise<HubIdentity> {
    this.hub ??= await this.metadata({ signal });
    return this.hub;
  }

  /**
   * Builds, checks, signs once and sends an AuthorizationRequest. Transport errors and 5xx are
   * retried with the same frozen bytes; a 409 duplicate_request on a retry means an earlier attempt
   * landed (`alreadySubmitted`). Every other non-202 answer is a StepAuthError.
   */
  async submit(input: SubmitInput, options: { signal?: AbortSignal } = {}): Promise<SubmitResult> {
    const hub = await this.hubIdentity(options.signal);
    const { request, bytes } = buildRequestBytes(input, this.options.senderId, hub, this.now());
    const body = encodeEnvelope(signEnvelope(bytes, this.options.keyset));
    const requestId = request.requestId;
    this.remember(requestId, bytes);
    const done = (response: SubmitResult["response"]): SubmitResult => ({ requestId, requestBytes: bytes, hubEntity: hub.entity, response });
    const answer = await this.sendWithRetries("POST /v1/authorization-requests", `${this.host}/v1/authorization-requests`, body, options.signal, requestId, bytes, (a, attempt) => {
      if (a.status === 202) {
        const r = jsonObject(a.text);
        const status = typeof r?.status === "string" ? r.status : "pending";
        // A malformed 202 body must not lose the request: the hub accepted it.
        return done({ requestId, status, ...strings(r, ["createdAt", "reviewDescription"]) });
      }
      const err = protocolError(a, "POST /v1/authorization-requests", requestId);
      if (err.code === "duplicate_request" && attempt > 1) return done({ requestId, status: "pending", alreadySubmitted: true });
      return err;
    });
    return answer;
  }

  /** `POST {host}/v1/authorization-requests/{id}/decision`: pending, or the verified decision. */
  async poll(requestId: string, options: PollOptions = {}): Promise<PollResult> {
    const requestBytes = options.requestBytes ?? this.sent.get(requestId);
    if (!requestBytes) throw new StepAuthError("request_bytes_unknown", `no request bytes for ${requestId}: pass the requestBytes submit returned`, { requestId });
    const hub = await this.hubIdentity(options.signal);
    const url = `${this.host}/v1/authorization-requests/${pathSegment(requestId)}/decision`;
    const target = new URL(url);
    // requestUri is the path as sent, the hub's prefix included: it binds the signature to this resource.
    const query = { senderId: this.options.senderId, recipientId: hub.entity, requestUri: target.pathname + target.search, timestamp: formatRfc3339(this.now()) };
    const body = encodeEnvelope(signEnvelope(utf8(JSON.stringify(query)), this.options.keyset));
    const answer = await exchange(this.transport, "POST", url, body, options.signal);
    if (answer.status === 202) return { status: "pending" };
    if (answer.status !== 200) throw protocolError(answer, "POST /v1/authorization-requests/{id}/decision", requestId);
    const verified = verifyDecisionEnvelope(answer.text, { hubKeysets: hub.keysets, hubEntity: hub.entity, spEntity: this.options.senderId, requestBytes });
    if (!verified.ok) throw new StepAuthError("invalid_decision", `the decision for ${requestId} failed verification (${verified.reason}); do not act on it`, { requestId, retryable: false });
    if (verified.decision.requestId !== requestId) throw new StepAuthError("invalid_decision", `the decision names request ${verified.decision.requestId}, not ${requestId}`, { requestId, retryable: false });
    return { status: "decided", decision: verified.decision, envelope: answer.text };
  }

  /**
   * Polls every `intervalMs` (default 2000) until decided; transport errors and 5xx are waited out,
   * anything else is thrown. `decision_timeout` after `timeoutMs` (default 5 min).
   */
  async waitForDecision(requestId: string, options: PollOptions & { timeoutMs?: number; intervalMs?: number } = {}): Promise<Extract<PollResult, { status: "decided" }>> {
    const deadline = Date.now() + (options.timeoutMs ?? 5 * 60_000);
    const interval = Math.max(10, options.intervalMs ?? 2000);
    for (;;) {
      try {
        const result = await this.poll(requestId, options);
        if (result.status === "decided") return result;
      } catch (err) {
        if (!(err instanceof StepAuthError) || !err.retryable) throw err;
      }
      const left = deadline - Date.now();
      if (left <= 0) throw new StepAuthError("decision_timeout", `no decision for ${requestId} yet`, { requestId, retryable: false });
      await sleep(Math.min(interval, left), options.signal);
    }
  }

  /**
   * `POST {host}/v1/authorization-requests/cancel` with `{requestId, senderId, spId, timestamp}`
   * (`spId` is the seed's name for the sender). 200 `cancelled`; 409 `already_decided`: fetch the
   * decision. Retried like submit; a cancel whose first answer was lost then reads as
   * `already_decided`, and the decision it finds is a denial.
   */
  async cancel(requestId: string, options: { signal?: AbortSignal } = {}): Promise<"cancelled" | "already_decided"> {
    const query = { requestId, senderId: this.options.senderId, spId: this.options.senderId, timestamp: formatRfc3339(this.now()) };
    const body = encodeEnvelope(signEnvelope(utf8(JSON.stringify(query)), this.options.keyset));
    const what = "POST /v1/authorization-requests/cancel";
    return this.sendWithRetries(what, `${this.host}/v1/authorization-requests/cancel`, body, options.signal, requestId, undefined, (a) => {
      if (a.status >= 200 && a.status < 300) return "cancelled" as const;
      if (a.status === 409) return "already_decided" as const;
      return protocolError(a, what, requestId);
    });
  }

  /**
   * One page of the hub's routable approvers (reference §8): `POST {host}/v1/users|groups|policies`
   * with a signed query bound to that path. Item ids are NameIDs (`email:...`, `group:...`, `policy:...`).
   */
  async listDirectory(kind: "users" | "groups" | "policies", options: { limit?: number; cursor?: string; signal?: AbortSignal } = {}): Promise<DirectoryPage> {
    const hub = await this.hubIdentity(options.signal);
    const url = `${this.host}/v1/${kind}`;
    const target = new URL(url);
    const query = {
      senderId: this.options.senderId,
      recipientId: hub.entity,
      requestUri: target.pathname + target.search,
      timestamp: formatRfc3339(this.now()),
      ...(options.limit ? { limit: options.limit } : {}),
      ...(options.cursor ? { cursor: options.cursor } : {}),
    };
    const answer = await exchange(this.transport, "POST", url, encodeEnvelope(signEnvelope(utf8(JSON.stringify(query)), this.options.keyset)), options.signal);
    if (answer.status !== 200) throw protocolError(answer, `POST /v1/${kind}`);
    const body = jsonObject(answer.text);
    if (!body || !Array.isArray(body.items) || !body.items.every((i) => typeof (i as { id?: unknown })?.id === "string")) {
      throw new StepAuthError("invalid_response", `POST /v1/${kind} answered without {items: [{id}]}`, { status: answer.status });
    }
    return { items: body.items as DirectoryPage["items"], ...(typeof body.nextCursor === "string" && body.nextCursor ? { nextCursor: body.nextCursor } : {}) };
  }

  /** Sends `body` up to maxAttempts times; `settle` turns an answer into the result or an error. */
  private async sendWithRetries<T>(what: string, url: string, body: string, signal: AbortSignal | undefined, requestId: string, requestBytes: Uint8Array | undefined, settle: (a: { status: number; text: string }, attempt: number) => T | StepAuthError): Promise<T> {
    let last: StepAuthError | undefined;
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      if (attempt > 1) await sleep(this.backoffMs * 2 ** (attempt - 2), signal);
      try {
        const outcome = settle(await exchange(this.transport, "POST", url, body, signal), attempt);
        if (!(outcome instanceof StepAuthError)) return outcome;
        last = outcome;
      } catch (err) {
        if (!(err instanceof StepAuthError)) throw err;
        last = err;
      }
      if (!last.retryable) break;
    }
    const err = last ?? new StepAuthError("transport_error", `${what}: no attempt made`, { retryable: true });
    throw requestBytes ? new StepAuthError(err.code, err.message, { status: err.status, requestId, retryable: err.retryable, requestBytes, cause: err }) : err;
  }

  private remember(requestId: string, bytes: Uint8Array): void {
    if (this.sent.size >= MAX_REMEMBERED) this.sent.delete(this.sent.keys().next().value!);
    this.sent.set(requestId, bytes);
  }
}

function strings(o: Record<string, unknown> | null, keys: string[]): Record<string, string> {
  return Object.fromEntries(keys.filter((k) => typeof o?.[k] === "string").map((k) => [k, o![k] as string]));
}
