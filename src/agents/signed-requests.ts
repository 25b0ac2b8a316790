import type { Clock } from "../clock.js";
import type { Sql } from "../db/sql.js";
import { AppError } from "../errors.js";
import { verifySigilumRequest } from "../protocols/http-signatures/sigilum-verify.js";
import type { AgentIdentity } from "../tenancy/agent-identity.js";
import { approvedClaimsOfKey } from "./claim-store.js";
import type { NamespaceDirectory } from "./namespaces.js";
import type { NonceStore } from "./nonce-store.js";

/** Reference §5 step 3: a signature may be this old (and 5 s in the future, for clock skew). */
export const SIGNATURE_MAX_AGE_SECONDS = 300;
const MAX_NONCE_LENGTH = 256;
const MAX_SUBJECT_LENGTH = 256;

/** A request as the verifier needs it; the HTTP layer builds it (target URI, raw body bytes). */
export interface SignedInput {
  method: string;
  targetUri: string;
  header(name: string): string | undefined;
  body: Uint8Array | null;
  /** Route binding: a mismatch is 403 SIGNATURE_NAMESPACE_MISMATCH / SIGNATURE_KEY_MISMATCH. */
  expect?: { namespace?: string; publicKey?: string };
}

/**
 * `apiKeyTenant`: the tenant of an API key sent with the signature; the signer's namespace must be
 * one of its namespaces. Without one, the namespace decides the tenant. `onVerified` runs between
 * the signature and the nonce (rate limits keyed by the verified signer); in verifyAgent, after the
 * approved claim was found, so only approved keys get a rate-limit bucket.
 */
export interface SignedOptions {
  apiKeyTenant?: string;
  onVerified?: (namespace: string, publicKey: string) => void;
}

/**
 * The principal key id of an agent that signs without an API key: its namespace and its full public
 * key. Not the certificate's keyId, whose fingerprint is 64 bits: another agent of the namespace who
 * ground out a colliding key would share the principal and read this agent's tokens.
 */
export const signerPrincipalId = (namespace: string, publicKey: string): string => `sigilum:${namespace}:${publicKey}`;

/** A verified signature, its tenant (and database) found, its nonce spent. */
export interface VerifiedSigner {
  tenantId: string;
  sql: Sql;
  namespace: string;
  subject: string;
  publicKey: string;
  keyId: string;
}

/** The signer's standing in its namespace: the identity conditions see, and the verified agent_id. */
export interface SignerStanding {
  identity: AgentIdentity;
  /** The approved claim's agent_id when it set one, else the subject. */
  agentId: string;
}

/**
 * Signed requests (the Sigilum profile of RFC 9421): the signature first (src/protocols, steps 1–8
 * of reference §5), then the namespace's tenant, then, for callers that need a verified agent, the
 * approved claims that make the signer one, and last the nonce (step 9: only a signature that got
 * this far may write to the store). Every refusal is an AppError with a Sigilum code.
 */
export class SignedRequests {
  constructor(
    private readonly deps: {
      clock: Clock;
      directory: NamespaceDirectory;
      nonces: NonceStore;
      tenantSql: (tenantId: string) => Promise<Sql>;
    },
  ) {}

  /** The signer, its nonce spent (the signature's one use). */
  async verify(input: SignedInput, opts: SignedOptions = {}): Promise<VerifiedSigner> {
    const signer = await this.check(input, opts);
    await this.deps.nonces.use(signer.sql, signer.namespace, signer.nonce);
    return signer;
  }

  /**
   * verify() for a caller that must be a verified agent: the approved claim is looked up BEFORE the
   * nonce is spent. Certificates are self-signed, so anyone can sign for a registered namespace with
   * a fresh key (and a fresh rate-limit bucket) each time; only a key with an approved claim may
   * write to the tenant's nonce store.
   */
  async verifyAgent(input: SignedInput, opts: SignedOptions = {}): Promise<{ signer: VerifiedSigner; standing: SignerStanding }> {
    const signer = await this.check(input, { ...opts, onVerified: undefined });
    const standing = await this.standing(signer);
    // Here, not before the claim lookup: a fresh self-made key per request would get a fresh bucket.
    opts.onVerified?.(signer.namespace, signer.publicKey);
    await this.deps.nonces.use(signer.sql, signer.namespace, signer.nonce);
    return { signer, standing };
  }

  /** Steps 1-8, the namespace's tenant and the rate limit: everything but the nonce. */
  private async check(input: SignedInput, opts: SignedOptions): Promise<VerifiedSigner & { nonce: string }> {
    const nowSeconds = Math.floor(this.deps.clock.nowMs() / 1000);
    const v = verifySigilumRequest({ ...input, nowSeconds, maxAgeSeconds: SIGNATURE_MAX_AGE_SECONDS });
    if (!v.ok) throw new AppError(v.code, v.message);
    // Stored and compared values stay small (the header limit alone would allow kilobytes).
    if (v.nonce.length > MAX_NONCE_LENGTH) throw new AppError("SIGNATURE_INVALID", `signature nonce longer than ${MAX_NONCE_LENGTH} characters`);
    if (v.subject.length > MAX_SUBJECT_LENGTH) throw new AppError("SIGNATURE_INVALID", `sigilum-subject longer than ${MAX_SUBJECT_LENGTH} characters`);
    const tenantId = await this.deps.directory.tenantOf(v.namespace);
    if (opts.apiKeyTenant !== undefined && tenantId !== opts.apiKeyTenant) {
      throw new AppError("SIGNATURE_NAMESPACE_MISMATCH", `The agent namespace ${v.namespace} does not belong to this API key's tenant`);
    }
    if (tenantId === null) throw new AppError("AGENT_NAMESPACE_UNKNOWN", `The agent namespace ${v.namespace} is not registered with this vault`);
    opts.onVerified?.(v.namespace, v.publicKey);
    const sql = await this.deps.tenantSql(tenantId);
    return { tenantId, sql, namespace: v.namespace, subject: v.subject, publicKey: v.publicKey, keyId: v.keyId, nonce: v.nonce };
  }

  /**
   * The signer as a verified agent: its key must hold an approved claim in its namespace (403
   * AGENT_CLAIM_REQUIRED otherwise). With several, the oldest approval gives the claim and agent_id.
   */
  private async standing(signer: VerifiedSigner): Promise<SignerStanding> {
    const claims = await approvedClaimsOfKey(signer.sql, signer.namespace, signer.publicKey);
    const first = claims[0];
    if (!first) {
      throw new AppError("AGENT_CLAIM_REQUIRED", `The key ${signer.publicKey} holds no approved claim in namespace ${signer.namespace}; submit one (POST /v1/claims) and have it approved`);
    }
    const identity: AgentIdentity = {
      verified: true,
      namespace: signer.namespace,
      subject: signer.subject,
      key: signer.publicKey,
      claim_id: first.claim_id,
      services: [...new Set(claims.map((c) => c.service))].sort(),
    };
    return { identity, agentId: first.agent_id ?? signer.subject };
  }
}
