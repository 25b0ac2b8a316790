/**
 * Two vault processes on one database (PostgreSQL), both sequencing every 50 ms under concurrent load,
 * both witnessing the same tenant's log with one witness (in process, real HTTP and state directory).
 * Each checkpoint is claimed by one process at a time, so the witness never sees the log contradict
 * itself: no refusal, no alert, every witnessed checkpoint's cosignature verifies (test-local C2SP
 * verifier), and the witness ends holding the newest tree head.
 */
import { mkdtempSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import pino from "pino";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateWitnessKey } from "../../src/witness/witness-key.js";
import { startWitness, type RunningWitness } from "../../src/witness/start.js";
import { c2spCosigners } from "../helpers/c2sp-cosignature-verifier.js";
import { metricValue } from "../helpers/outbox-receivers.js";
import { call, freePort, newDatabase, newKey, refundPolicy, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

const dir = mkdtempSync(path.join(os.tmpdir(), "cs-witness-replicas-"));
let db: TestDatabase;
let a: TestVault;
let b: TestVault;
let witness: RunningWitness;

beforeAll(async () => {
  const keyFile = path.join(dir, "witness.key");
  const { vkey } = await generateWitnessKey("witness.test/replicas", keyFile);
  db = newDatabase("postgres");
  // The witness must be listening on the URL the vaults are configured with, and trust the tenant's
  // log key, which exists only once the first vault started: start it on a fixed free port afterwards.
  const port = await freePort();
  const env = {
    VAULT_LEDGER_ANCHOR_BACKFILL_INTERVAL_SECONDS: "0.05",
    VAULT_LEDGER_ORIGIN: "vault.replicas.test",
    VAULT_LEDGER_WITNESSES: JSON.stringify([{ url: `http://127.0.0.1:${port}`, key: vkey }]),
    VAULT_LEDGER_WITNESS_TIMEOUT_MS: "3000",
  };
  a = await startTestVault(db, { env });
  b = await startTestVault(db, { env, adminKey: a.adminKey });
  const logKey = (await call(a.url, "GET", "/ledger/checkpoint-key", { key: a.adminKey })).body as string;
  witness = await startWitness({ host: "127.0.0.1", port, keyFile, stateDir: path.join(dir, "state"), logs: [logKey], log: pino({ level: "silent" }) });
  expect((await call(a.url, "POST", "/register-policy", { key: a.adminKey, body: refundPolicy })).status).toBe(200);
}, 120_000);

afterAll(async () => {
  await b?.close();
  await a?.close();
  await witness?.close();
  await db?.drop();
  rmSync(dir, { recursive: true, force: true });
});

describe("two vault processes witnessing one tenant", () => {
  it("submit each tree head once at a time: no refusal, every witnessed checkpoint verifies, the witness ends at the newest", async () => {
    const agent = await newKey(a, "agent");
    const total = 60;
    for (let start = 0; start < total; start += 12) {
      const batch = Array.from({ length: 12 }, (_, i) => {
        const n = start + i;
        const body = { tool_name: "stripe_refund", tool_args: { amount: 10, order_id: `r-${n}` }, agent_id: "agent-r" };
        return call(n % 2 ? a.url : b.url, "POST", "/request-clearance", { key: agent, body });
      });
      for (const res of await Promise.all(batch)) expect(res.status, JSON.stringify(res.body)).toBe(200);
      await sleep(60);
    }
    const sql = await a.vault.ctx.tenantDbs.get(a.tenantId);
    const deadline = Date.now() + 60_000;
    let newest: { checkpoint_id: string; tree_size: string; witness_status: string } | undefined;
    for (;;) {
      [newest] = await sql.query<{ checkpoint_id: string; tree_size: string; witness_status: string }>(
        "SELECT checkpoint_id, tree_size, witness_status FROM ledger_checkpoints ORDER BY checkpoint_id DESC LIMIT 1",
      );
      const [events] = await sql.query<{ n: string }>("SELECT count(*) AS n FROM ledger_events");
      if (newest && Number(newest.tree_size) === Number(events!.n) && newest.witness_status === "witnessed") break;
      if (Date.now() > deadline) throw new Error(`not witnessed in time: ${JSON.stringify(newest)}`);
      await sleep(100);
    }
    const states = await sql.query<{ refusal: string | null; tree_size: string }>("SELECT refusal, tree_size FROM ledger_witness_state");
    expect(states.map((s) => s.refusal)).toEqual([null]);
    for (const v of [a, b]) {
      for (const reason of ["fork", "inconsistent", "ahead", "bad_request", "bad_cosignature"]) {
        expect(await metricValue(v, "countersign_ledger_witness_refusals_total", `witness="witness.test/replicas",reason="${reason}"`), reason).toBe(0);
      }
    }
    const witnessed = await sql.query<{ cosigned_note: string }>("SELECT cosigned_note FROM ledger_checkpoints WHERE witness_status = 'witnessed'");
    expect(witnessed.length).toBeGreaterThan(0);
    for (const row of witnessed) expect(c2spCosigners(row.cosigned_note, [witness.vkey])).toEqual([witness.name]);
    expect(witness.state.all().map((s) => s.size)).toEqual([Number(newest!.tree_size)]);
    expect(readdirSync(path.join(dir, "state", "evidence"))).toEqual([]); // nothing the log signed was ever refused
  }, 120_000);
});
