import { ed25519 } from "@noble/curves/ed25519.js";
import { buildAgentCertificate, formatAgentPublicKey, type AgentCertificate } from "../protocols/http-signatures/agent-certificate.js";
import { signSigilumRequest } from "../protocols/http-signatures/sigilum-sign.js";
import { BadRequestError, CountersignError } from "./errors.js";

/**
 * The agent side of Sigilum-style agent identity: an Ed25519 key with its self-signed certificate, and
 * a signer that adds the RFC 9421 (Sigilum profile) headers to a request. The vault (or any Sigilum
 * verifier) then knows which key sent it; an approved claim on that key makes the agent "verified".
 */
export interface AgentIdentity {
  /** The 32-byte Ed25519 private key. Keep it secret: whoever holds it is the agent. */
  seed: Uint8Array;
  /** "ed25519:" + standard base64 of the public key: what a claim and `agent.key` name. */
  publicKey: string;
  certificate: AgentCertificate;
}

// The Sigilum SDK's namespace rule (reference §1): what every verifier can carry in a header and a did.
const NAMESPACE = /^[a-z0-9][a-z0-9-]{1,62}[a-z0-9]$/;

/**
 * A new identity (random key unless `seed` is given) for `namespace`, trimmed and lowercased as the
 * Sigilum SDK does. Persist `seed` (e.g. base64) and call again with it to get the same key back.
 */
export function createAgentIdentity(input: { namespace: string; seed?: Uint8Array; issuedAt?: Date | string; expiresAt?: Date | string | null }): AgentIdentity {
  const namespace = typeof input.namespace === "string" ? input.namespace.trim().toLowerCase() : "";
  if (!NAMESPACE.test(namespace)) throw new CountersignError("invalid_options", "createAgentIdentity: namespace must be 3-64 of a-z, 0-9 and inner '-'");
  if (input.seed !== undefined && !(input.seed instanceof Uint8Array && input.seed.length === 32)) {
    throw new CountersignError("invalid_options", "createAgentIdentity: seed must be 32 bytes");
  }
  const seed = input.seed ? new Uint8Array(input.seed) : ed25519.utils.randomSecretKey();
  const certificate = buildAgentCertificate({ namespace, seed32: seed, issuedAt: input.issuedAt ?? new Date(), expiresAt: input.expiresAt ?? null });
  return { seed, publicKey: certificate.publicKey, certificate };
}

export interface AgentSignerOptions {
  /** The sigilum-subject header: a stable principal id; defaults to the namespace. */
  subject?: string;
  /** The fetch used by `signer.fetch`; the platform's by default. */
  fetch?: typeof fetch;
  /** Clock in ms since the epoch, for `created` (default Date.now). */
  now?: () => number;
}

type SignableBody = string | Uint8Array | ArrayBuffer | ArrayBufferView | null | undefined;

/** Signs requests as one agent identity. `signer.fetch` has the shape of fetch, so it can be handed to `new Countersign({ fetch })`. */
export class AgentSigner {
  private readonly identity: AgentIdentity;
  private readonly subject: string;
  private readonly fetchImpl: typeof fetch;
  private readonly now: () => number;

  constructor(identity: AgentIdentity, options: AgentSignerOptions = {}) {
    // Checked here rather than at the first request: a seed that is not the certificate's key can never verify.
    if (!(identity?.seed instanceof Uint8Array) || identity.seed.length !== 32 || formatAgentPublicKey(ed25519.getPublicKey(identity.seed)) !== identity.certificate?.publicKey) {
      throw new CountersignError("invalid_options", "AgentSigner: the identity's seed is not its certificate's key");
    }
    if (options.subject !== undefined && (typeof options.subject !== "string" || options.subject.trim() === "" || /[\r\n]/.test(options.subject))) {
      throw new CountersignError("invalid_options", "AgentSigner: subject must be a non-empty single-line string");
    }
    this.identity = identity;
    this.subject = options.subject ?? identity.certificate.namespace;
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.now = options.now ?? Date.now;
  }

  /** The headers to add to `method url` with exactly `body` (a string is sent and signed as UTF-8). */
  sign(method: string, url: string | URL, body?: string | Uint8Array | null): Record<string, string> {
    try {
      return signSigilumRequest({
        method,
        url: String(url),
        body: body ?? null,
        namespace: this.identity.certificate.namespace,
        subject: this.subject,
        seed: this.identity.seed,
        certificate: this.identity.certificate,
        created: Math.floor(this.now() / 1000),
      });
    } catch (err) {
      throw new BadRequestError("invalid_input", err instanceof Error ? err.message : String(err), { cause: err });
    }
  }

  /**
   * fetch with the signature headers added. The body must be a string or bytes (what is signed must be
   * what is sent). Redirects are not followed unless `init.redirect` says so: the signature is bound to
   * this URL, and following would hand a fresh, replayable signed request to whichever host redirected.
   */
  readonly fetch = async (input: string | URL | Request, init: RequestInit = {}): Promise<Response> => {
    if (typeof input !== "string" && !(input instanceof URL)) throw new BadRequestError("invalid_input", "AgentSigner.fetch: pass the URL as a string or URL, not a Request");
    const body = bytesOf(init.body as SignableBody);
    const method = init.method ?? "GET";
    const headers = new Headers(init.headers);
    for (const [name, value] of Object.entries(this.sign(method, input, body))) headers.set(name, value);
    return this.fetchImpl(input, { redirect: "manual", ...init, method, headers, body: body ?? null });
  };
}

function bytesOf(body: SignableBody): string | Uint8Array | null {
  if (body === undefined || body === null || typeof body === "string" || body instanceof Uint8Array) return body ?? null;
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  throw new BadRequestError("invalid_input", "AgentSigner.fetch: the body must be a string or bytes to be signed");
}
