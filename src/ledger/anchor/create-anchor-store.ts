import { promises as fs } from "node:fs";
import os from "node:os";
import path from "node:path";
import type { AnchorConfig } from "../../config/config.js";
import type { AnchorStore } from "./anchor-store.js";
import { LocalAnchorStore } from "./local-anchor-store.js";
import { S3AnchorStore, type S3AnchorStoreOptions } from "./s3-anchor-store.js";

/**
 * Builds the configured anchor store. It does not call checkReady: the composition root does, so a start-up
 * failure is reported in one place. `s3Options` (fixed credentials, short timeouts) is for tests only.
 */
export async function createAnchorStore(config: AnchorConfig, s3Options?: S3AnchorStoreOptions): Promise<AnchorStore> {
  if (config.kind === "s3") return new S3AnchorStore(config, s3Options);
  if (config.dir === "memory://") {
    // An in-memory data dir still exports real files (the exporter and fsck read them back); they go away on close.
    return new LocalAnchorStore(await fs.mkdtemp(path.join(os.tmpdir(), "countersign-anchors-")), true);
  }
  return new LocalAnchorStore(config.dir);
}
