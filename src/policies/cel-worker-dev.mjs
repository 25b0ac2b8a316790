// The CEL worker's entry when the vault runs from TypeScript sources (vitest, tsx, `npm run bench`'s
// in-process phases): a worker thread does not inherit the parent's TypeScript loader, so this
// registers tsx in the thread, then loads the worker. The built vault (dist/) loads cel-worker.js
// directly and never reads this file; tsc does not copy it.
import { register } from "tsx/esm/api";

register();
await import("./cel-worker.ts");
