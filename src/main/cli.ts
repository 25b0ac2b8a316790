#!/usr/bin/env node
// The `countersign` bin (dist/main/cli.js): the commands are in src/main/cli/, docs in docs/cli.md.
import { runCli } from "./cli/run.js";

await runCli(process.argv);
