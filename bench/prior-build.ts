import { execFileSync } from "node:child_process";
import { mkdirSync, symlinkSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { buildVault } from "./vault.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));

/**
 * The last commit before the ledger existed, so "the vault's decision throughput with the ledger vs
 * without it" is measured in the same run on the same machine. BENCH_BASELINE_REV picks another one.
 */
export const PRE_LEDGER_REV = "49593ae";

export interface PriorBuild {
  rev: string;
  root: string;
  remove(): Promise<void>;
}

/** The pre-ledger vault (or BENCH_BASELINE_REV), exported and compiled apart, as exportBuild does. */
export function preparePriorBuild(rev = process.env.BENCH_BASELINE_REV ?? PRE_LEDGER_REV): Promise<PriorBuild> {
  return exportBuild(rev);
}

/**
 * `rev` exported with `git archive` into a temporary directory, sharing this checkout's node_modules,
 * compiled to its own dist/. Unlike a worktree it leaves the repository's git state alone, so it can
 * measure a commit while others edit (and leave uncompilable) the working tree. BENCH_VAULT_REV.
 */
export async function exportBuild(rev: string): Promise<PriorBuild> {
  const root = path.join(await mkdtemp(path.join(tmpdir(), "cs-rev-")), "tree");
  mkdirSync(root);
  const archive = execFileSync("git", ["archive", "--format=tar", rev], { cwd: repoRoot, maxBuffer: 1 << 30 });
  execFileSync("tar", ["-x", "-C", root], { input: archive });
  symlinkSync(path.join(repoRoot, "node_modules"), path.join(root, "node_modules"), "dir");
  buildVault(root);
  const short = execFileSync("git", ["rev-parse", "--short", rev], { cwd: repoRoot }).toString().trim();
  return {
    rev: short,
    root,
    remove: () => rm(path.dirname(root), { recursive: true, force: true }),
  };
}
