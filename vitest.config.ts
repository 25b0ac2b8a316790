import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // Files run in parallel processes; each integration file owns its own databases.
    pool: "forks",
    maxWorkers: 2,
  },
});
