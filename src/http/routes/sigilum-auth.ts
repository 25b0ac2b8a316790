import { Transform, type Readable } from "node:stream";
import type { FastifyReply, FastifyRequest } from "fastify";
import { signerPrincipalId, type SignedInput, type SignedOptions, type SignerStanding, type VerifiedSigner } from "../../agents/signed-requests.js";
import { AppError, isAppError } from "../../errors.js";
import { headerReader } from "../../protocols/http-signatures/signature-base.js";
import { hasSigilumHeaders } from "../../protocols/http-signatures/sigilum-verify.js";
import type { Principal } from "../../tenancy/api-keys.js";
import type { AppContext } from "../app-context.js";
import { authenticate } from "../auth.js";

declare module "fastify" {
  interface FastifyRequest {
    /** The exact body bytes of a signed request (captureSignedBody), for its content digest. */
    signedBodyBytes?: Uint8Array;
    /** A verified agent's standing, when the request was signed by one (signedOrKey). */
    signedAgent?: SignerStanding;
  }
}

/**
 * preParsing hook of the routes that accept signed requests: when the request carries Sigilum
 * headers, the bytes the JSON parser reads are also kept as they arrived, because the content digest
 * covers the exact bytes (the parser sees a decoded string, in which invalid UTF-8 would already be
 * replaced). Unsigned requests pass untouched. The body limit still applies: Fastify counts the bytes
 * of the stream returned here.
 */
export async function captureSignedBody(request: FastifyRequest, _reply: FastifyReply, payload: Readable): Promise<Readable> {
  if (!hasSigilumHeaders(headerReader(request.headers))) return payload;
  const chunks: Buffer[] = [];
  const tee = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      chunks.push(chunk);
      done(null, chunk);
    },
    flush(done) {
      request.signedBodyBytes = Buffer.concat(chunks);
      done();
    },
  });
  payload.on("error", (err) => tee.destroy(err));
  return payload.pipe(tee);
}

/**
 * The URI the agent signed: the vault's public URL (VAULT_PUBLIC_URL, or its derived default), then
 * the raw path and query exactly as received. Never the request's Host header: the sender chooses
 * it, so a signature made for another vault (https://a/...) would verify here (https://b/) with
 * `Host: a`, and the vault's own nonce store has never seen it.
 */
export function targetUriOf(ctx: AppContext, request: FastifyRequest): string {
  return ctx.config.http.publicUrl + (request.raw.url ?? request.url);
}

/** Verifies the request's signature (expect: the route's binding), spending its nonce. */
export function verifySigned(
  ctx: AppContext,
  request: FastifyRequest,
  opts: SignedOptions & { expect?: SignedInput["expect"] } = {},
): Promise<VerifiedSigner> {
  return ctx.agents.signed.verify(signedInput(ctx, request, opts.expect), { apiKeyTenant: opts.apiKeyTenant, onVerified: opts.onVerified });
}

/** The request as the verifier sees it: the target URI the agent must have signed, the raw body bytes. */
function signedInput(ctx: AppContext, request: FastifyRequest, expect?: SignedInput["expect"]): SignedInput {
  return { method: request.method, targetUri: targetUriOf(ctx, request), header: headerReader(request.headers), body: request.signedBodyBytes ?? null, expect };
}

export const isSigned = (request: FastifyRequest): boolean => hasSigilumHeaders(headerReader(request.headers));

/** The raw key of X-Vault-API-Key, or else of `Authorization: Bearer` (how Sigilum clients send a service key). */
export function presentedKey(request: FastifyRequest): string | undefined {
  const header = request.headers["x-vault-api-key"];
  const key = Array.isArray(header) ? header[0] : header;
  if (key !== undefined) return key;
  const auth = request.headers.authorization;
  return auth?.startsWith("Bearer ") ? auth.slice(7).trim() : undefined;
}

/**
 * preHandler of /request-clearance and /clearance-status: an API key, a Sigilum signature, or both.
 * - Unsigned: the API key (or console session) as before.
 * - Signed with a key: the key authenticates; the signer's namespace must be the key's tenant's (403
 *   SIGNATURE_NAMESPACE_MISMATCH), and its key must hold an approved claim (403 AGENT_CLAIM_REQUIRED).
 * - Signed alone: the namespace names the tenant, and the approved claim makes the signer an agent
 *   principal, keyed by its namespace and full public key (so it alone reads its own requests' tokens).
 * Signed requests carry the verified identity on a copy of the principal (`agent`).
 */
export function signedOrKey(ctx: AppContext) {
  const byKey = authenticate(ctx);
  return async (request: FastifyRequest) => {
    if (!isSigned(request)) return byKey(request);
    const keyed = request.headers["x-vault-api-key"] !== undefined;
    if (keyed) await byKey(request);
    const { signer, standing } = await ctx.agents.signed.verifyAgent(signedInput(ctx, request), {
      apiKeyTenant: keyed ? request.principal!.tenantId : undefined,
      onVerified: keyed ? undefined : (ns, publicKey) => ctx.rateLimiter.check(signerPrincipalId(ns, publicKey)),
    });
    const base: Principal = keyed ? request.principal! : { tenantId: signer.tenantId, keyId: signerPrincipalId(signer.namespace, signer.publicKey), scope: "agent" };
    request.principal = { ...base, agent: standing.identity };
    request.signedAgent = standing;
    if (!keyed) request.tenantSql = signer.sql;
  };
}

/**
 * A protected service's key on the Sigilum routes (X-Vault-API-Key or Bearer): 401 UNAUTHORIZED when
 * absent or unknown, 403 FORBIDDEN for a key of another scope. Rate limited like every key.
 */
export async function serviceKey(ctx: AppContext, request: FastifyRequest): Promise<Principal> {
  const raw = presentedKey(request);
  if (raw === undefined) throw new AppError("UNAUTHORIZED", "Missing service API key: send X-Vault-API-Key or Authorization: Bearer <service_api_key>");
  const principal = await ctx.auth.authenticate(raw).catch((err: unknown) => {
    throw isAppError(err) && err.code === "unauthorized" ? new AppError("UNAUTHORIZED", "Invalid or revoked API key") : err;
  });
  if (principal.scope !== "service") throw new AppError("FORBIDDEN", `This ${principal.scope} key is not a protected service's key`);
  ctx.rateLimiter.check(principal.keyId);
  request.principal = principal;
  return principal;
}
