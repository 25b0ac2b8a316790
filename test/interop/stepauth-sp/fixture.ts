/**
 * A vault set up for the StepAuth interop tests, through its public HTTP APIs only: the hub entity, two
 * registered SPs (hybrid keyset and seed-era Ed25519 key), reviewers, review groups and policies.
 *
 * Written from ../shared/reference/stepauth-protocol.md; this folder MUST NOT import server modules
 * (nothing under src/). Starting a vault through test/helpers/vault.ts is allowed; everything after
 * that is HTTP, as an out-of-band registration and a real SP would do it.
 */
import { expect } from "vitest";
import { call, freePort, newDatabase, startTestVault, type Engine, type TestDatabase, type TestVault } from "../../helpers/vault.js";
import { startCallbackReceiver, type CallbackReceiver } from "./callback-receiver.js";
import { fetchMetadata, SpClient, type HubMetadata } from "./sp-client.js";
import { hybridSigner, seedEraSigner, type SpSigner } from "./sp-keys.js";

export const HUB_ENTITY = "hub.countersign.test";
/** Action types the policies below decide: approve, deny, or send to human review. */
export const TYPES = { approve: "sp.example.deploy", deny: "sp.example.delete", review: "sp.example.transfer" } as const;
export const POLICIES = { approve: "auto-approve-deploy", deny: "deny-delete", review: "review-transfer" } as const;

export interface Interop {
  v: TestVault;
  host: string;
  hub: HubMetadata;
  sp: SpClient;
  seed: SpClient;
  spReceiver: CallbackReceiver;
  seedReceiver: CallbackReceiver;
  reviewers: { rita: string; sam: string };
  close(): Promise<void>;
}

async function ok(res: Promise<{ status: number; body: unknown }>, status: number) {
  const r = await res;
  expect(r.status, JSON.stringify(r.body)).toBe(status);
  return r.body as any;
}

/** Registers an SP out of band (design §E admin API): entity, keysets, callback URL pattern. */
export async function registerSender(v: TestVault, entity: string, signer: SpSigner, callbackPattern: string) {
  return ok(call(v.url, "POST", "/stepauth/senders", { key: v.adminKey, body: { entity, keysets: [signer.registration], callback_pattern: callbackPattern } }), 201);
}

export async function startInterop(engine: Engine): Promise<Interop> {
  const db: TestDatabase = newDatabase(engine);
  // Callbacks go to a receiver on 127.0.0.1, which only the development flag lets the SSRF guard reach.
  // A fixed port (not 0): the metadata's `host` is the vault's public URL, which must be where it listens.
  const port = await freePort();
  const env = { VAULT_PORT: String(port), VAULT_WEBHOOK_ALLOW_PRIVATE_TARGETS: "true", VAULT_CEL_TIMEOUT_MS: "2000" };
  const v = await startTestVault(db, { env });
  try {
    await ok(call(v.url, "PUT", "/stepauth/hub", { key: v.adminKey, body: { entity: HUB_ENTITY } }), 200);
    const hubView = await ok(call(v.url, "GET", "/stepauth/hub", { key: v.adminKey }), 200);
    // The transport origin is the vault's URL under the per-tenant prefix (reference §2: /stepauth/{orgID}).
    const host = `${v.url}/stepauth/${v.tenantId}`;
    expect(hubView.host).toBe(host);
    const meta = await fetchMetadata(host);
    expect(meta.status, meta.text).toBe(200);
    const hub = meta.body as HubMetadata;

    const spSigner = hybridSigner();
    const seedSigner = seedEraSigner();
    const sp = new SpClient(host, "sp.example.com", spSigner, hub.entity);
    const seed = new SpClient(host, "legacy-sp.example.org", seedSigner, hub.entity);
    const spReceiver = await startCallbackReceiver((body) => sp.verify(body, hub));
    const seedReceiver = await startCallbackReceiver((body) => seed.verify(body, hub));
    const pattern = (url: string) => `${new URL(url).origin}/stepauth/*`;
    await registerSender(v, sp.senderId, spSigner, pattern(spReceiver.url));
    await registerSender(v, seed.senderId, seedSigner, pattern(seedReceiver.url));

    const rita = await ok(call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name: "Rita Reviewer", email: "rita@example.com", groups: ["payments"] } }), 201);
    const sam = await ok(call(v.url, "POST", "/reviewers", { key: v.adminKey, body: { name: "Sam Second", email: "sam@example.com", groups: ["ops"] } }), 201);
    for (const [kind, decision] of [["approve", "approve"], ["deny", "deny"], ["review", "review"]] as const) {
      const body = { policy_id: POLICIES[kind], description: `StepAuth ${kind}`, tools: [TYPES[kind]], default_decision: decision };
      await ok(call(v.url, "POST", "/register-policy", { key: v.adminKey, body }), 200);
    }
    return {
      v,
      host,
      hub,
      sp,
      seed,
      spReceiver,
      seedReceiver,
      reviewers: { rita: rita.api_key, sam: sam.api_key },
      async close() {
        await spReceiver.close();
        await seedReceiver.close();
        await v.close();
        await db.drop();
      },
    };
  } catch (err) {
    await v.close();
    await db.drop();
    throw err;
  }
}

/** The clearance request behind a StepAuth request: listed under agent_id = senderId, matched by its stepauth member. */
export async function reviewIdOf(x: Interop, senderId: string, requestId: string): Promise<string> {
  const list = await ok(call(x.v.url, "GET", `/reviews?status=all&decided_by=any&limit=200&agent_id=${encodeURIComponent(senderId)}`, { key: x.v.adminKey }), 200);
  for (const r of list.reviews as { request_id: string }[]) {
    const detail = await ok(call(x.v.url, "GET", `/reviews/${r.request_id}`, { key: x.v.adminKey }), 200);
    if (detail.stepauth?.request_id === requestId) return r.request_id;
  }
  throw new Error(`no review carries stepauth.request_id ${requestId}`);
}

/** StepAuth's error body (reference §4): `{error, message}` with the table's HTTP status. */
export function expectError(res: { status: number; body: any; text: string }, code: string, status: number) {
  expect({ status: res.status, error: res.body?.error }, res.text).toEqual({ status, error: code });
  expect(typeof res.body.message, res.text).toBe("string");
}
