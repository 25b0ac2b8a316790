import { it } from "vitest";
import { call, newDatabase, newKey, refundPolicy, startTestVault } from "../helpers/vault.js";
for (const engine of ["pglite", "postgres"] as const) it(`speed ${engine}`, async () => {
  const db = newDatabase(engine);
  const v = await startTestVault(db, { env: { VAULT_LEDGER_ANCHOR_BACKFILL_INTERVAL_SECONDS: "3600" } });
  const agent = await newKey(v, "agent");
  await call(v.url, "POST", "/register-policy", { key: v.adminKey, body: refundPolicy });
  const t0 = Date.now();
  for (let b = 0; b < 15; b++) {
    const rs = await Promise.all(Array.from({ length: 20 }, (_, i) => call(v.url, "POST", "/request-clearance", { key: agent, body: { tool_name: "stripe_refund", tool_args: { amount: [45, 500, 5000][i % 3] } } })));
    if (b === 0) console.log(rs.map((r) => r.status + r.body.status).join(","));
  }
  console.log(engine, "300 in", Date.now() - t0);
  const t1 = Date.now();
  await v.vault.ctx.ledgerLoop.drain();
  console.log("drain", Date.now() - t1);
  const sql = await v.vault.ctx.tenantDbs.get(v.tenantId);
  console.log(await sql.query("select count(*) n, max(leaf_index) m from ledger_events"), await sql.query("select event_type, count(*) from ledger_events group by 1"));
  console.log(await sql.query("select body from ledger_events limit 1"));
  console.log(await sql.query("select kid, public_jwk, purpose from signing_keys").catch(e=>e.message));
  console.log(await v.vault.ctx.control.query("select * from signing_keys"));
  console.log((await call(v.url, "GET", "/ledger/checkpoint-key", { key: agent })).body);
  console.log(JSON.stringify((await call(v.url, "GET", "/.well-known/jwks.json")).body));
  await v.close(); await db.drop();
}, 300_000);
