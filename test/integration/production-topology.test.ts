/**
 * Issue 13, "Replicas that take over": the production topology as processes on loopback. Two
 * `countersign serve` vaults and a `countersign judge` with two cluster workers, all child processes;
 * fauxqs (SQS FIFO), s3rver (the anchor bucket), the KMS and Secrets Manager stand-ins in this
 * process; PostgreSQL. Every clearance goes through SQS (VAULT_CLEARANCE_MODE=queued); every secret
 * comes from a Secrets Manager bundle. Mixed load goes to both vaults, one is killed with SIGKILL
 * mid-load, and then: every acknowledged request is decided by the survivor within the visibility
 * timeout plus a margin, with exactly one decision in the ledger; no token is burned twice; the
 * ledger re-derives cleanly (`countersign ledger fsck`); the anchored checkpoint and a proof bundle
 * verify against the published ledger key. Any service that does not start fails the test.
 */
import { setTimeout as sleep } from "node:timers/promises";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectedStatus, MixedLoad } from "../helpers/topology-load.js";
import { ledgerFsck, verifyAnchoredNote, verifyRequestBundle, waitForAnchoredNote } from "../helpers/topology-ledger.js";
import { freePort, judgeEnv, operatorEnv, startAwsStandIns, startService, vaultEnv, workersOf, type AwsStandIns, type ServiceProcess } from "../helpers/topology.js";
import { call, newPgDatabase, refundPolicy, type TestDatabase } from "../helpers/vault.js";

const TUNING = { visibilitySeconds: 5, leaseSeconds: 2, waitTimeSeconds: 1 };
// The bound on taking over: a message received by the dead vault is visible again after at most one
// visibility timeout; the margin covers the survivor's long poll, judging and committing on 2 busy cores.
const TAKEOVER_BOUND_MS = TUNING.visibilitySeconds * 1000 + 10_000;
const LOAD = { total: 300, concurrency: 16, perSecond: 30 };
const KILL_AFTER_SENT = 150;
// Commits A sent to PostgreSQL before it was frozen land within this.
const FREEZE_SETTLE_MS = 300;
const LEDGER_KID = "kms-token-1.ledger";

describe("production topology: 2 vaults, a 2-worker judge, SQS FIFO, S3 anchors, KMS, Secrets Manager, PostgreSQL", () => {
  let aws: AwsStandIns;
  let db: TestDatabase;
  const procs: ServiceProcess[] = [];
  let tenantDb: pg.Client | undefined;

  beforeAll(async () => {
    aws = await startAwsStandIns();
    db = newPgDatabase();
  });
  afterAll(async () => {
    await Promise.allSettled(procs.map((p) => p.stop()));
    await tenantDb?.end();
    await db?.drop();
    await aws?.stop();
  });

  it("survives SIGKILL of a vault mid-load: every acknowledged request decided once, no double burn, ledger and anchor verify", async () => {
    const started = Date.now();
    const [portA, portB, judgePort] = [await freePort(), await freePort(), await freePort()];
    const judgeUrl = `http://127.0.0.1:${judgePort}`;
    // A first: it migrates the database and bootstraps tenant `default`; the judge and B then start side by side.
    const a = await startService("vault-a", "serve", portA, vaultEnv(aws, db.url, judgeUrl, portA, TUNING));
    procs.push(a);
    const others = await Promise.allSettled([
      startService("judge", "judge", judgePort, judgeEnv(aws, db.url, judgePort, 2)),
      startService("vault-b", "serve", portB, vaultEnv(aws, db.url, judgeUrl, portB, TUNING)),
    ]);
    for (const p of others) if (p.status === "fulfilled") procs.push(p.value);
    for (const p of others) if (p.status === "rejected") throw p.reason;
    const [judge, b] = [procs[1]!, procs[2]!];
    const logs = () => procs.map((p) => `--- ${p.name}\n${p.output()}`).join("\n");
    expect(workersOf(judge)).toHaveLength(2);
    const key = aws.secrets.adminKey;
    const ready = await call(b.url, "GET", "/readyz");
    expect(ready.body).toMatchObject({ judge: "remote", queue: { kind: "sqs" } });
    const reg = await call(a.url, "POST", "/register-policy", { key, body: refundPolicy });
    expect(reg.status, JSON.stringify(reg.body)).toBe(200);
    const startupMs = Date.now() - started;

    const control = new pg.Client({ connectionString: db.url });
    await control.connect();
    const tenant = (await control.query<{ id: string; db_name: string }>("SELECT id, db_name FROM tenants WHERE name = 'default'")).rows[0]!;
    await control.end();
    const tenantUrl = new URL(db.url);
    tenantUrl.pathname = `/${tenant.db_name}`;
    tenantDb = new pg.Client({ connectionString: tenantUrl.toString() });
    await tenantDb.connect();
    const q = async <T extends pg.QueryResultRow>(text: string, values: unknown[] = []) => (await tenantDb!.query<T>(text, values)).rows;

    // ---- load, and SIGKILL of vault A once half of it is sent ----
    const load = new MixedLoad([{ name: "vault-a", url: a.url }, { name: "vault-b", url: b.url }], key, LOAD);
    const loadStarted = Date.now();
    const running = load.run();
    while (load.sent < KILL_AFTER_SENT) await sleep(20);
    // A must die holding claimed work, or the take-over of leased requests goes untested. It is frozen
    // (SIGSTOP) first, so what it holds can be read without racing it, then killed with SIGKILL; frozen
    // holding nothing, it is thawed and tried again a moment later. It does nothing once frozen, so
    // take-over times count from the freeze.
    const heldByA = async () =>
      (await q<{ id: string }>("SELECT id FROM clearance_requests WHERE status = 'processing' AND lease_owner LIKE $1", [`%:${a.child.pid}:%`])).map((r) => r.id);
    let stoppedAt = 0;
    let claimedByA: string[] = [];
    for (let attempt = 1; ; attempt++) {
      a.freeze();
      stoppedAt = Date.now();
      await sleep(FREEZE_SETTLE_MS);
      claimedByA = await heldByA();
      if (claimedByA.length > 0 || attempt === 20) break;
      a.thaw();
      await sleep(100);
    }
    load.markDead("vault-a");
    await a.crash();
    expect(claimedByA.length, "vault A held no claimed request when it was killed").toBeGreaterThan(0);
    // Everything unfinished at the kill: A's claimed work, published requests not claimed yet (some
    // received by A, invisible in SQS until their visibility lapses), and B's own.
    const orphans = await q<{ id: string }>("SELECT id FROM clearance_requests WHERE status = 'processing'");
    await running;
    const loadEndedAt = Date.now();

    expect(load.refused).toEqual([]);
    // Only requests in flight to A when it died may have gone unanswered.
    expect(load.unacknowledged.every((u) => u.vault === "vault-a"), JSON.stringify(load.unacknowledged)).toBe(true);
    expect(load.acks.length + load.unacknowledged.length).toBe(LOAD.total);
    for (const v of ["vault-a", "vault-b"]) expect(load.acks.filter((x) => x.vault === v).length, v).toBeGreaterThan(20);
    // A 200 is a decision: the right one, at once.
    const wrongAtOnce = load.acks.filter((x) => x.httpStatus === 200 && x.status !== expectedStatus(x.amount));
    expect(wrongAtOnce.map((x) => ({ ...x, token: undefined })), logs()).toEqual([]);
    const ackedIds = load.acks.map((x) => x.requestId);
    expect(new Set(ackedIds).size).toBe(ackedIds.length);

    // ---- every acknowledged request reaches its final state, decided by the survivor ----
    const processing = async () => Number((await q<{ n: string }>("SELECT count(*) AS n FROM clearance_requests WHERE status = 'processing'"))[0]!.n);
    while ((await processing()) > 0 && Date.now() - loadEndedAt < TAKEOVER_BOUND_MS + 30_000) await sleep(100);
    const settledMs = Date.now() - loadEndedAt;
    expect(await processing(), logs()).toBe(0);
    expect(settledMs).toBeLessThan(TAKEOVER_BOUND_MS);
    const orphanIds = orphans.map((r) => r.id);
    const lastDecidedMs = async (ids: string[]) => {
      const t = (await q<{ t: Date | null }>("SELECT max(decided_at) AS t FROM clearance_requests WHERE id = ANY($1)", [ids]))[0]!.t;
      return t ? t.getTime() - stoppedAt : 0;
    };
    const lastOrphanMs = await lastDecidedMs(orphanIds);
    const lastHeldByAMs = await lastDecidedMs(claimedByA);
    expect(lastOrphanMs).toBeLessThan(TAKEOVER_BOUND_MS);

    // Read back through the survivor, as a client polling /clearance-status would see them.
    const statuses = new Map<string, string>();
    const reasons = new Map<string, string>();
    for (const ack of load.acks) {
      const res = await call(b.url, "GET", `/clearance-status/${ack.requestId}`, { key });
      expect(res.status).toBe(200);
      statuses.set(ack.requestId, res.body.status);
      reasons.set(ack.requestId, res.body.reason_code);
    }
    const wrong = load.acks.filter((x) => statuses.get(x.requestId) !== expectedStatus(x.amount));
    expect(wrong.map((x) => ({ ...x, token: undefined, final: statuses.get(x.requestId), finalReason: reasons.get(x.requestId) })), logs()).toEqual([]);

    // ---- exactly one decision event per decided request (acknowledged or not), of the decided status ----
    const decided = await q<{ id: string; status: string; events: string[] }>(
      `SELECT r.id, r.status, coalesce(array_agg(e.event_type) FILTER (WHERE e.event_type IS NOT NULL), '{}') AS events
         FROM clearance_requests r LEFT JOIN ledger_events e ON e.request_id = r.id AND e.event_type LIKE 'clearance.%'
        GROUP BY r.id, r.status`,
    );
    expect(decided.length).toBeGreaterThanOrEqual(ackedIds.length);
    for (const id of ackedIds) expect(decided.some((r) => r.id === id), id).toBe(true);
    for (const r of decided) expect(r.events, r.id).toEqual([`clearance.${r.status}`]);
    // The queue drained: every message was deleted once its decision committed.
    await expect.poll(() => aws.queueCounts(), { timeout: 15_000 }).toEqual({ visible: 0, inFlight: 0 });

    // ---- tokens: the approved ones acknowledged with 202 are burned now, twice at once, on the survivor ----
    const lateApproved = load.acks.filter((x) => x.httpStatus === 202 && statuses.get(x.requestId) === "approved");
    for (const ack of lateApproved) {
      const token = (await call(b.url, "GET", `/clearance-status/${ack.requestId}`, { key })).body.token as string;
      await Promise.all([load.consumeEverywhere(token), load.consumeEverywhere(token)]);
    }
    const byJti = new Map<string, typeof load.consumes>();
    for (const c of load.consumes) byJti.set(c.jti, [...(byJti.get(c.jti) ?? []), c]);
    for (const [jti, answers] of byJti) {
      expect(answers.filter((x) => x.status === 200).length, `${jti}: ${JSON.stringify(answers)}`).toBeLessThanOrEqual(1);
      // When no connection broke, exactly one of the attempts burned it and the others were refused.
      if (answers.every((x) => x.status !== "error")) expect(answers.map((x) => x.status).sort(), jti).toEqual([200, ...answers.slice(1).map(() => 409)]);
    }
    const consumedRows = await q<{ jti: string; request_id: string }>("SELECT jti, request_id FROM issued_tokens WHERE consumed_at IS NOT NULL");
    const burned200 = [...byJti].filter(([, answers]) => answers.some((x) => x.status === 200)).map(([jti]) => jti);
    const unknownOutcome = [...byJti].filter(([, answers]) => !answers.some((x) => x.status === 200) && answers.some((x) => x.status === "error")).length;
    for (const jti of burned200) expect(consumedRows.some((r) => r.jti === jti), jti).toBe(true);
    expect(consumedRows.length).toBeLessThanOrEqual(burned200.length + unknownOutcome);
    const burnEvents = await q<{ request_id: string; n: string }>("SELECT request_id, count(*) AS n FROM ledger_events WHERE event_type = 'token.consumed' GROUP BY request_id");
    expect(burnEvents.every((r) => Number(r.n) === 1)).toBe(true);
    expect(burnEvents.map((r) => r.request_id).sort()).toEqual(consumedRows.map((r) => r.request_id).sort());

    // ---- the ledger: sequenced, anchored in S3, signed with the published ledger key, fsck clean ----
    const eventCount = Number((await q<{ n: string }>("SELECT count(*) AS n FROM ledger_events"))[0]!.n);
    const note = await waitForAnchoredNote(() => aws.anchored(tenant.id, "checkpoint"), eventCount, 30_000);
    expect(note, "no checkpoint anchored in the bucket").toBeDefined();
    const anchored = await verifyAnchoredNote(b.url, key, note!, LEDGER_KID);
    expect(anchored.size).toBe(eventCount);
    const latest = await q<{ root_hash: string }>("SELECT root_hash FROM ledger_checkpoints ORDER BY tree_size DESC LIMIT 1");
    expect(anchored.rootHex).toBe(latest[0]!.root_hash);

    // A request A died holding, decided by B: its proof verifies like any other.
    const bundle = await verifyRequestBundle(b.url, key, claimedByA[0]!);
    expect(bundle.failed).toEqual([]);
    expect(bundle.names).toEqual(expect.arrayContaining(["receipt signature", "inclusion proof", "c2sp checkpoint"]));

    const fsck = await ledgerFsck(tenant.id, operatorEnv(aws, db.url));
    expect(fsck.code, fsck.stdout + fsck.stderr).toBe(0);
    expect(fsck.report).toMatchObject({ ok: true, events: eventCount, unsequenced: 0, anchorChecked: true, problems: [] });

    const tokens = { burned: consumedRows.length, refusedDoubleSpends: load.consumes.filter((c) => c.status === 409).length };
    console.log(
      `topology: ${LOAD.total} requests over ${((loadEndedAt - loadStarted) / 1000).toFixed(1)} s (concurrency ${LOAD.concurrency}), ` +
        `acked ${load.acks.length} (200: ${load.acks.filter((x) => x.httpStatus === 200).length}, 202: ${load.acks.filter((x) => x.httpStatus === 202).length}; ` +
        `A ${load.acks.filter((x) => x.vault === "vault-a").length}, B ${load.acks.filter((x) => x.vault === "vault-b").length}), unanswered by A ${load.unacknowledged.length}; ` +
        `processing when A stopped ${orphans.length} (${claimedByA.length} claimed by A, the last of those decided ${lastHeldByAMs} ms after A stopped); ` +
        `last of all decided ${lastOrphanMs} ms after A stopped (SIGSTOP, SIGKILL ${FREEZE_SETTLE_MS} ms later) ` +
        `(visibility ${TUNING.visibilitySeconds} s, lease ${TUNING.leaseSeconds} s, bound ${TAKEOVER_BOUND_MS} ms); all settled ${settledMs} ms after load end; ` +
        `tokens burned ${tokens.burned}, double spends refused ${tokens.refusedDoubleSpends}; ledger ${eventCount} events anchored; ` +
        `start-up ${startupMs} ms, wall ${Date.now() - started} ms`,
    );
  });
});
