/**
 * Issue 16's Sigilum cases for the fuzz suite: requests signed with the Sigilum profile of RFC 9421
 * by an agent with an approved claim (or pending, or in an unregistered namespace), then one header,
 * certificate or the body changed. The reference (../shared/reference/sigilum-agent-identity.md §1-§5)
 * fixes each answer, so the suite checks the code. A mutation that has to verify to reach a later step
 * (created skew, a reused nonce, a long subject) signs again with the protocol functions.
 *
 * Nonces are spent only after a good signature (reference §5 step 9): a case refused before that must
 * leave signature_nonces as it was, which is what `guardWhen` tells the suite.
 */
import { randomUUID } from "node:crypto";
import { ed25519 } from "@noble/curves/ed25519.js";
import fc from "fast-check";
import { toBase64, utf8 } from "../../src/protocols/encoding.js";
import { encodeCertificateHeader } from "../../src/protocols/http-signatures/agent-certificate.js";
import { contentDigest } from "../../src/protocols/http-signatures/content-digest.js";
import { sigilumSignatureBase, sigilumTargetUri } from "../../src/protocols/http-signatures/signature-base.js";
import { SIGILUM_COMPONENTS_NO_BODY, SIGILUM_COMPONENTS_WITH_BODY } from "../../src/protocols/http-signatures/signature-input.js";
import type { AgentIdentity } from "../../src/sdk/agent-signer.js";
import { mutationArb, render, repeatedKey, toRaw, type Mutation } from "./fuzz-raw-json.js";
import type { TableName } from "./fuzz-endpoints.js";
import { OK, scenarios, type Draft, type Outcome } from "./fuzz-sigilum-mutations.js";
import type { FuzzRequest } from "./fuzz-vault.js";

export interface SigilumFixture {
  /** VAULT_PUBLIC_URL: the origin every signature's @target-uri names. */
  publicUrl: string;
  namespace: string;
  service: string;
  serviceKey: string;
  agentKey: string;
  /** Holds an approved claim on `service`. */
  bot: AgentIdentity;
  /** Its claim is pending. */
  pendingBot: AgentIdentity;
  /** In a namespace no tenant registered. */
  stranger: AgentIdentity;
  /** Spends `nonce` with a good signed request of `bot`. */
  spend(nonce: string): Promise<void>;
  /** Spends a claim body's `nonce` with a good claim by `bot` (already approved: answered 200). */
  spendClaimNonce(nonce: string): Promise<void>;
}

export type SigilumTarget = "request-clearance" | "request-clearance with key" | "verify" | "namespace-claims" | "claims";
export const sigilumTargets: SigilumTarget[] = ["request-clearance", "request-clearance with key", "verify", "namespace-claims", "claims"];

/** Refusals made before the nonce is written (reference §5 steps 1-8, and what comes before the signature on each route). */
const BEFORE_THE_NONCE = [
  "SIGNATURE_MISSING", "SIGNATURE_INVALID", "SIGNATURE_EXPIRED", "SIGNATURE_COMPONENTS_INVALID", "SIGNATURE_DIGEST_MISMATCH",
  "SIGNATURE_NAMESPACE_MISMATCH", "SIGNATURE_KEY_MISMATCH", "SIGNATURE_NONCE_REPLAY", "AGENT_NAMESPACE_UNKNOWN", "UNAUTHORIZED",
  "unauthorized", "VALIDATION_ERROR", "invalid_json", "duplicate_json_key", "json_too_deep", "payload_too_large", "unsupported_media_type",
  "headers_too_large",
] as const;


/** What each target answers a well-signed request by an approved, a pending or a foreign agent. */
function answerFor(target: SigilumTarget, outcome: Outcome): string[] {
  if (outcome === "ok") return OK;
  if (outcome === "pending") return target.startsWith("request-clearance") ? ["AGENT_CLAIM_REQUIRED"] : OK;
  // Routes that bind the namespace (or an API key's tenant) refuse it as a mismatch; the keyless clearance route cannot find it.
  return target === "request-clearance" ? ["AGENT_NAMESPACE_UNKNOWN"] : ["SIGNATURE_NAMESPACE_MISMATCH"];
}

let claimNonce = 0;
function baseOf(target: SigilumTarget, f: SigilumFixture): Pick<Draft, "method" | "path" | "body" | "apiKey"> {
  const key = encodeURIComponent;
  switch (target) {
    case "request-clearance":
      return { method: "POST", path: "/request-clearance", body: JSON.stringify({ tool_name: "stripe_refund", tool_args: { amount: 5 } }), apiKey: {} };
    case "request-clearance with key":
      return { method: "POST", path: "/request-clearance", body: JSON.stringify({ tool_name: "unlisted_tool", tool_args: { n: 1 } }), apiKey: { "x-vault-api-key": f.agentKey } };
    case "verify":
      return { method: "GET", path: `/v1/verify?namespace=${f.namespace}&public_key=${key(f.bot.publicKey)}&service=${f.service}`, body: null, apiKey: {} };
    case "namespace-claims":
      return { method: "GET", path: "/v1/namespaces/claims?limit=5", body: null, apiKey: { "x-vault-api-key": f.serviceKey } };
    case "claims":
      // Replaced by the signer's own claim once the scenario chose the signer.
      return { method: "POST", path: "/v1/claims", body: "{}", apiKey: { authorization: `Bearer ${f.serviceKey}` } };
  }
}

/** The claim body names the signer's own namespace and key (the route binds both), with a fresh body nonce. */
const claimBodyOf = (signer: AgentIdentity, f: SigilumFixture) =>
  JSON.stringify({ namespace: signer.certificate.namespace, public_key: signer.publicKey, service: f.service, agent_ip: "203.0.113.7", nonce: `fuzz-claim-${process.pid}-${++claimNonce}-${randomUUID()}` });

function sign(d: Draft, f: SigilumFixture): Record<string, string | string[]> {
  const body = d.body ? utf8(d.body) : new Uint8Array(0);
  const certificate = d.certificate ?? d.signer.certificate;
  const headers: Record<string, string> = {};
  if (body.length > 0) headers["content-digest"] = contentDigest(body);
  headers["sigilum-namespace"] = d.signer.certificate.namespace;
  headers["sigilum-subject"] = d.subject;
  headers["sigilum-agent-key"] = d.signer.publicKey;
  headers["sigilum-agent-cert"] = encodeCertificateHeader(certificate);
  const components = d.components ?? (body.length > 0 ? SIGILUM_COMPONENTS_WITH_BODY : SIGILUM_COMPONENTS_NO_BODY);
  const created = Math.floor(Date.now() / 1000) + d.createdOffset;
  const params = `(${components.map((c) => `"${c}"`).join(" ")});created=${created};keyid="${certificate.keyId}";alg="${d.alg ?? "ed25519"}";nonce="${d.nonce}"`;
  const targetUri = sigilumTargetUri(d.signedUrl ?? f.publicUrl + d.path)!;
  // A component the request lacks (an extra one) is signed as empty: the verifier refuses the set before it looks.
  const base = sigilumSignatureBase({ method: d.signedMethod ?? d.method, targetUri, header: (n) => headers[n] }, components, params) ?? params;
  headers["signature-input"] = `sig1=${params}`;
  headers.signature = `sig1=:${toBase64(ed25519.sign(utf8(base), d.signer.seed))}:`;
  return headers;
}

export function sigilumCaseArb(target: SigilumTarget, f: SigilumFixture): fc.Arbitrary<FuzzRequest> {
  const withBody = target === "request-clearance" || target === "request-clearance with key" || target === "claims";
  return fc
    .record({
      scenario: scenarios(target),
      // Some cases sign a mutated body: the signature holds and the route's validation answers (no code expected then).
      generic: withBody ? fc.oneof({ weight: 5, arbitrary: fc.constant<Mutation[]>([]) }, fc.array(mutationArb, { minLength: 1, maxLength: 2 })) : fc.constant<Mutation[]>([]),
    })
    .map(({ scenario, generic }) => {
      const base = baseOf(target, f);
      const d: Draft = { target, ...base, signer: f.bot, subject: "dev@fuzz.example", createdOffset: 0, nonce: randomUUID(), headerEdits: [] };
      scenario.apply(d, f);
      if (target === "claims") d.body = claimBodyOf(d.signer, f);
      if (d.bodyEdit && d.body) {
        const body = JSON.parse(d.body) as Record<string, unknown>;
        d.bodyEdit(body);
        d.body = JSON.stringify(body);
      }
      let repeated: string | undefined;
      if (generic.length > 0 && d.body) {
        const tree = generic.reduce((t, m) => m.apply(t), toRaw(JSON.parse(d.body)));
        d.body = render(tree);
        repeated = repeatedKey(tree);
      }
      const headers: Record<string, string | string[]> = { ...base.apiKey, ...sign(d, f) };
      if (d.body !== null) headers["content-type"] = "application/json";
      for (const edit of d.headerEdits) edit(headers);
      const sent = d.bodyAfterSigning ? d.bodyAfterSigning(d.body ?? "") : d.body;
      let expected = d.expected ?? (d.outcome ? answerFor(target, d.outcome) : undefined);
      // The component-set scenarios depend on whether the route has a body: both codes of step 6/7 are the reference's.
      if (generic.length > 0) expected = undefined;
      const tables: TableName[] = target.startsWith("request-clearance") ? ["clearance_requests"] : target === "claims" ? ["agent_claims"] : [];
      const request: FuzzRequest = {
        endpoint: `${d.method} ${d.path.split("?")[0]} (Sigilum-signed: ${target})`,
        method: d.method,
        url: d.path,
        headers,
        body: sent === null ? undefined : Buffer.from(sent, "utf8"),
        mutations: [scenario.name, ...generic.map((m) => m.name)],
        tables,
        repeatedKey: repeated,
        expected,
        protocol: "sigilum",
        guardWhen: { tables: ["signature_nonces"], codes: BEFORE_THE_NONCE },
        prepare: d.prepare,
      };
      return Object.assign(request, { [fc.toStringMethod]: () => `${request.method} ${request.url} [${request.endpoint}; ${request.mutations.join("; ")}] expected=${JSON.stringify(expected)} body=${(sent ?? "").slice(0, 200)}` });
    });
}

/** For the seeding: sign one request as `f.bot` with a chosen nonce. */
export function signedHeaders(identity: AgentIdentity, publicUrl: string, method: string, path: string, body: string | null, nonce: string): Record<string, string> {
  const d: Draft = { target: "verify", method, path, body, apiKey: {}, signer: identity, subject: "dev@fuzz.example", createdOffset: 0, nonce, headerEdits: [] };
  return sign(d, { publicUrl } as SigilumFixture) as Record<string, string>;
}
