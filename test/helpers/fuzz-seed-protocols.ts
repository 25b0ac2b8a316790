/**
 * Seeding of the fuzz vault for issue 16's protocols: registered StepAuth senders and requests in each
 * state, and agent identity (a namespace, a protected service and its key, agents whose claims are
 * approved or pending, a spent nonce). Every lazily created row (the hub's entity and first keyset) is
 * made here, so no fuzz case is the first to write it.
 */
import { expect } from "vitest";
import { toBase64 } from "../../src/protocols/encoding.js";
import { createAgentIdentity, type AgentIdentity } from "../../src/sdk/agent-signer.js";
import { refundPolicy, type TestVault } from "./vault.js";
import { signedHeaders, type SigilumFixture } from "./fuzz-sigilum.js";
import { CALLBACK_PATTERN, legacyKeyset, type StepAuthFixture } from "./fuzz-stepauth.js";
import { cancel, hubOf, newSp, publicKeysets, submit, type TestSp } from "./stepauth-sp.js";

/** The origin agents sign for (the fuzz vault's VAULT_PUBLIC_URL). */
export const FUZZ_PUBLIC_URL = "https://vault.fuzz.example";

async function inject(tv: TestVault, method: string, url: string, opts: { key?: string; body?: unknown; headers?: Record<string, string> } = {}) {
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.key) headers["x-vault-api-key"] = opts.key;
  const payload = opts.body === undefined ? undefined : typeof opts.body === "string" ? opts.body : JSON.stringify(opts.body);
  if (payload !== undefined) headers["content-type"] = "application/json";
  const res = await tv.vault.app.inject({ method: method as "GET", url, headers, payload });
  return { status: res.statusCode, body: res.body ? (JSON.parse(res.body) as any) : undefined };
}

async function ok(tv: TestVault, status: number, method: string, url: string, opts: Parameters<typeof inject>[3] = {}) {
  const res = await inject(tv, method, url, opts);
  expect(res.status, `seeding ${method} ${url}: ${JSON.stringify(res.body)}`).toBe(status);
  return res.body;
}

export async function seedStepAuth(tv: TestVault, adminKey: string): Promise<StepAuthFixture & { spareSenderId: string }> {
  const app = tv.vault.app;
  // Creates the hub's entity and first keyset.
  const hub = await hubOf(app, tv.tenantId);
  await ok(tv, 201, "POST", "/reviewers", { key: adminKey, body: { name: "Approver", email: "approver@example.com", groups: ["finance"] } });

  const sp = newSp("sp.fuzz.example");
  await ok(tv, 201, "POST", "/stepauth/senders", { key: adminKey, body: { entity: sp.entity, keysets: publicKeysets(sp), callback_pattern: CALLBACK_PATTERN } });
  const legacySp: TestSp = { entity: "legacy-sp.fuzz.example", keyset: legacyKeyset("legacy-key-1") };
  const legacyPub = { keyId: "legacy-key-1", publicKey: toBase64(legacySp.keyset.keys[0]!.publicKey) };
  await ok(tv, 201, "POST", "/stepauth/senders", { key: adminKey, body: { entity: legacySp.entity, keysets: [legacyPub] } });
  const spare = await ok(tv, 201, "POST", "/stepauth/senders", { key: adminKey, body: { entity: "spare-sp.fuzz.example", keysets: publicKeysets(newSp()) } });

  const pendingRequestIds: string[] = [];
  for (let i = 0; i < 4; i++) {
    const { requestId, res } = await submit(app, hub, sp);
    expect(res.statusCode, res.body).toBe(202);
    pendingRequestIds.push(requestId);
  }
  const decided = await submit(app, hub, sp);
  expect(decided.res.statusCode, decided.res.body).toBe(202);
  const cancelled = await cancel(app, hub, sp, decided.requestId);
  expect(cancelled.statusCode, cancelled.body).toBe(200);

  return {
    tenantId: tv.tenantId,
    hub: { entity: hub.entity },
    sp,
    legacySp,
    stranger: newSp("stranger.fuzz.example"),
    pendingRequestIds,
    decidedRequestId: decided.requestId,
    knownApprovers: ["email:approver@example.com", "group:finance", `policy:${refundPolicy.policy_id}`],
    spareSenderId: spare.id,
  };
}

export async function seedAgents(tv: TestVault, keys: { admin: string; agent: string }): Promise<SigilumFixture & { pendingClaimId: string; spareApprovedClaimId: string }> {
  const namespace = "fuzz-agents";
  const service = "fuzz-svc";
  await ok(tv, 201, "POST", "/agent-namespaces", { key: keys.admin, body: { namespace } });
  await ok(tv, 201, "POST", "/protected-services", { key: keys.admin, body: { slug: service, name: "Fuzz service" } });
  const serviceKey = (await ok(tv, 201, "POST", `/protected-services/${service}/keys`, { key: keys.admin, body: { label: "fuzz" } })).api_key as string;

  let n = 0;
  const claim = async (agent: AgentIdentity) => {
    const body = JSON.stringify({ namespace, public_key: agent.publicKey, service, agent_ip: "203.0.113.7", nonce: `fuzz-seed-claim-${++n}` });
    const headers = { ...signedHeaders(agent, FUZZ_PUBLIC_URL, "POST", "/v1/claims", body, `fuzz-seed-${n}`), authorization: `Bearer ${serviceKey}` };
    return (await ok(tv, 201, "POST", "/v1/claims", { body, headers })).claim_id as string;
  };
  const approved = async (agent: AgentIdentity) => {
    const id = await claim(agent);
    const vote = await ok(tv, 200, "POST", `/v1/claims/${id}/approve`, { key: keys.admin });
    expect(vote.status).toBe("approved");
    return id;
  };
  const bot = createAgentIdentity({ namespace });
  const spareBot = createAgentIdentity({ namespace });
  const pendingBot = createAgentIdentity({ namespace });
  await approved(bot);
  const spareApprovedClaimId = await approved(spareBot);
  const pendingClaimId = await claim(pendingBot);

  const verify = `/v1/verify?namespace=${namespace}&public_key=${encodeURIComponent(bot.publicKey)}&service=${service}`;
  const spend = async (nonce: string) => {
    const spent = await ok(tv, 200, "GET", verify, { headers: signedHeaders(bot, FUZZ_PUBLIC_URL, "GET", verify, null, nonce) });
    expect(spent.authorized).toBe(true);
  };
  await spend("fuzz-seed-spent-nonce");
  const spendClaimNonce = async (nonce: string) => {
    const body = JSON.stringify({ namespace, public_key: bot.publicKey, service, agent_ip: "203.0.113.7", nonce });
    const headers = { ...signedHeaders(bot, FUZZ_PUBLIC_URL, "POST", "/v1/claims", body, `sig-${nonce}`), authorization: `Bearer ${serviceKey}` };
    expect((await ok(tv, 200, "POST", "/v1/claims", { body, headers })).status).toBe("approved");
  };

  return {
    publicUrl: FUZZ_PUBLIC_URL,
    namespace,
    service,
    serviceKey,
    agentKey: keys.agent,
    bot,
    pendingBot,
    stranger: createAgentIdentity({ namespace: "fuzz-strangers" }),
    spend,
    spendClaimNonce,
    pendingClaimId,
    spareApprovedClaimId,
  };
}
