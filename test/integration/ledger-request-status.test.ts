/**
 * LedgerService.requestLedgerStatus: a request is in a checkpoint only when every one of its events
 * is sequenced and covered, and the checkpoint named is the first that covers them all (not the
 * newest). Built through the vault's own paths: HTTP requests, then the ledger loop on demand.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Sql } from "../../src/db/sql.js";
import type { LedgerService } from "../../src/ledger/ledger-service.js";
import { call, newDatabase, newKey, refundPolicy, startTestVault, type Engine, type TestDatabase, type TestVault } from "../helpers/vault.js";

describe.each<Engine>(["postgres", "pglite"])("requestLedgerStatus on %s", (engine) => {
  let db: TestDatabase;
  let v: TestVault;
  let sql: Sql;
  let ledger: LedgerService;
  let agent: string;

  beforeAll(async () => {
    db = newDatabase(engine);
    v = await startTestVault(db);
    sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
    ledger = v.vault.ctx.ledgerService;
    agent = await newKey(v, "agent");
    expect((await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy })).status).toBe(200);
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  const clearance = async (amount: number) => {
    const res = await call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount } } });
    expect(res.status, JSON.stringify(res.body)).toBe(200);
    return res.body as { request_id: string; status: string; token?: string };
  };
  const sequence = async () => {
    const result = await v.vault.ctx.ledgerLoop.sequenceNow(v.tenantId);
    expect(result.checkpointId).toBeDefined();
    return Number(result.checkpointId);
  };

  it("follows a request from its first event to a checkpoint, back out when a new event waits, and in again", async () => {
    expect(await ledger.requestLedgerStatus(sql, "no-such-request")).toEqual({ events: 0, in_checkpoint: false, checkpoint_id: null });

    const approved = await clearance(45);
    expect(approved.status).toBe("approved");
    const other = await clearance(50);
    expect(await ledger.requestLedgerStatus(sql, approved.request_id)).toEqual({ events: 1, in_checkpoint: false, checkpoint_id: null });

    const first = await sequence();
    expect(await ledger.requestLedgerStatus(sql, approved.request_id)).toEqual({ events: 1, in_checkpoint: true, checkpoint_id: first });

    // The burn adds a second event: until it is sequenced the request is not in a checkpoint, although its first event is.
    const consumed = await call(v.url, "POST", "/consume-token", { key: agent, body: { token: approved.token } });
    expect(consumed.status, JSON.stringify(consumed.body)).toBe(200);
    expect(await ledger.requestLedgerStatus(sql, approved.request_id)).toEqual({ events: 2, in_checkpoint: false, checkpoint_id: null });

    const second = await sequence();
    expect(second).toBeGreaterThan(first);
    expect(await ledger.requestLedgerStatus(sql, approved.request_id)).toEqual({ events: 2, in_checkpoint: true, checkpoint_id: second });
    // A request whose events were all in the first checkpoint still names that one, not the newest.
    expect(await ledger.requestLedgerStatus(sql, other.request_id)).toEqual({ events: 1, in_checkpoint: true, checkpoint_id: first });
  });
});
