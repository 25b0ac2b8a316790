/**
 * Issue 11 item 11: the sequencer issues independent statements together on its transaction's
 * connection. node-postgres queues such overlapping client.query() calls and warns that pg@9 removes
 * that ("Calling client.query() when the client is already executing a query"). The pool runs its
 * connections in pg's pipeline mode instead, which sends them back to back without waiting and is
 * the supported form. This fails if a sequencing pass emits that DeprecationWarning again.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { call, newKey, newPgDatabase, refundPolicy, startTestVault, type TestDatabase, type TestVault } from "../helpers/vault.js";

// Attached before anything touches pg: util.deprecate warns once per process, at the first overlap.
const warnings: Error[] = [];
process.on("warning", (w) => warnings.push(w));
const overlapping = () => warnings.filter((w) => w.name === "DeprecationWarning" && /already executing a query/.test(w.message));

describe("sequencing on PostgreSQL", () => {
  let db: TestDatabase;
  let v: TestVault;

  beforeAll(async () => {
    db = newPgDatabase();
    v = await startTestVault(db);
    await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy });
  });
  afterAll(async () => {
    await v?.close();
    await db?.drop();
  });

  it("overlaps no queries on one client (no pg DeprecationWarning) and still sequences and checkpoints", async () => {
    const agent = await newKey(v, "agent");
    // Several passes: each appends leaves, writes tiles and signs a checkpoint with statements issued together.
    for (let pass = 0; pass < 3; pass++) {
      const answers = await Promise.all(
        Array.from({ length: 40 }, (_, i) => call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: i + 1 } } })),
      );
      expect(answers.every((a) => a.status === 200)).toBe(true);
      const result = await v.vault.ctx.ledgerLoop.sequenceNow(v.tenantId);
      expect(result.ran).toBe(true);
      expect(result.sequenced).toBeGreaterThan(0);
      expect(result.checkpointId).toBeDefined();
    }
    // Warnings are emitted on the next tick.
    await new Promise((resolve) => setImmediate(resolve));
    expect(overlapping().map((w) => w.message)).toEqual([]);
    const proof = await call(v.url, "GET", "/ledger/checkpoint", { key: v.adminKey });
    expect(proof.status).toBe(200);
  });
});
