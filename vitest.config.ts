import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    // Generous: these bound a hang, not speed. Tests that start CLI processes or PGlite vaults take 20-50 s
    // on a busy 2-core machine, and speed is measured by `npm run bench`, not by timeouts.
    testTimeout: 180_000,
    hookTimeout: 240_000,
    // Browser and live-feed polls wait on a round trip plus an SSE message; 1 s (the default) is too tight.
    expect: { poll: { timeout: 15_000 } },
    // Files run in parallel processes; each integration file owns its own databases.
    pool: "forks",
    maxWorkers: 2,
    // The JSON report lets .ci/run print a plain "N passed, N failed" line.
    reporters: ["default", "json"],
    outputFile: { json: "test-results/vitest.json" },
  },
});
