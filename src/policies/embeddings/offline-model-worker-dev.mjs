// The offline model worker's entry when the vault runs from TypeScript sources (vitest, tsx): a worker
// thread does not inherit the parent's TypeScript loader, so this registers tsx in the thread, then
// loads the worker. The built vault (dist/) loads offline-model-worker.js directly; tsc does not copy this.
import { register } from "tsx/esm/api";

register();
await import("./offline-model-worker.ts");
