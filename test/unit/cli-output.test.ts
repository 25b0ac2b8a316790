import { describe, expect, it } from "vitest";
import { terminalSafe } from "../../src/main/cli/output.js";

describe("terminalSafe", () => {
  it("shows control characters as escapes and leaves other text alone", () => {
    expect(terminalSafe("billing agent – café ✓")).toBe("billing agent – café ✓");
    expect(terminalSafe("bot\u001b[2K\rhidden\u0007")).toBe("bot\\u{1b}[2K\\u{d}hidden\\u{7}");
    expect(terminalSafe("a\u009bb")).toBe("a\\u{9b}b");
  });
});
