import type { AdminContext } from "./context.js";
import { createAnchorStore } from "../ledger/anchor/create-anchor-store.js";
import { fsckLedger, type FsckReport } from "../ledger/store/fsck.js";

const SHOWN_PROBLEMS = 200;

/** `countersign ledger fsck --tenant ID [--json]`: exit 0 when the ledger re-derives cleanly, 1 otherwise. */
export async function runLedgerFsck(ctx: AdminContext, tenantId: string, json: boolean): Promise<number> {
  const known = await ctx.control.query("SELECT 1 FROM tenants WHERE id = $1", [tenantId]);
  if (known.length === 0) {
    process.stderr.write(`no tenant ${tenantId}\n`);
    return 2;
  }
  const keys = await ctx.control.query<{ kid: string; public_jwk: { x: string } }>("SELECT kid, public_jwk FROM signing_keys");
  const publicKeys = new Map(keys.map((k) => [k.kid, new Uint8Array(Buffer.from(k.public_jwk.x, "base64url"))]));
  const anchoredNote = await readAnchoredNote(ctx, tenantId);
  const started = performance.now();
  const sql = await ctx.tenantDbs.get(tenantId);
  // After get(): opening the database read the tenant's bundle, hence its own ledger keys.
  const report = await fsckLedger(sql, publicKeys, ctx.tenantKeys.sealingKeysFor(tenantId, "ledger").open, anchoredNote);
  const seconds = (performance.now() - started) / 1000;
  process.stdout.write(json ? `${JSON.stringify({ tenant_id: tenantId, seconds, ...report }, null, 2)}\n` : readable(tenantId, report, seconds));
  return report.ok ? 0 : 1;
}

/** The newest checkpoint the anchor store holds for the tenant; unreadable anchors are reported, not fatal. */
async function readAnchoredNote(ctx: AdminContext, tenantId: string): Promise<string | undefined> {
  const store = await createAnchorStore(ctx.config.ledger.anchor, { credentials: ctx.config.aws.clientConfig("s3").credentials });
  try {
    const bytes = await store.get(tenantId, "checkpoint");
    return bytes ? Buffer.from(bytes).toString("utf8") : undefined;
  } catch (err) {
    process.stderr.write(`warning: could not read the anchored checkpoint (${err instanceof Error ? err.message : String(err)}); checking the database alone\n`);
    return undefined;
  } finally {
    await store.close();
  }
}

function readable(tenantId: string, r: FsckReport, seconds: number): string {
  const count = (kind: string) => r.problems.filter((p) => p.kind === kind).length;
  const mark = (n: number) => (n === 0 ? "ok" : `FAIL (${n})`);
  const lines = [
    `Ledger fsck for tenant ${tenantId}`,
    `  events       ${String(r.events).padStart(9)} sequenced, ${r.unsequenced} waiting   ${mark(count("event"))}`,
    `  tree         ${String(r.treeSize).padStart(9)} leaves                ${mark(count("tree"))}`,
    `  tiles        ${String(r.tiles).padStart(9)} re-derived            ${mark(count("tile"))}`,
    `  checkpoints  ${String(r.checkpoints).padStart(9)} checked               ${mark(count("checkpoint"))}`,
    `  anchor       ${r.anchorChecked ? "newest anchored checkpoint compared" : "no anchored checkpoint found"}   ${mark(count("anchor"))}`,
  ];
  if (r.problems.length > 0) {
    lines.push("", "Problems:");
    for (const p of r.problems.slice(0, SHOWN_PROBLEMS)) lines.push(`  ${p.where}: ${p.detail}`);
    if (r.problems.length > SHOWN_PROBLEMS) lines.push(`  ... and ${r.problems.length - SHOWN_PROBLEMS} more (use --json for all)`);
  }
  lines.push("", r.ok ? `Result: OK, every leaf, tile, root and signature re-derived (${seconds.toFixed(1)} s)` : `Result: FAIL, ${r.problems.length} problem(s) (${seconds.toFixed(1)} s)`);
  return `${lines.join("\n")}\n`;
}
