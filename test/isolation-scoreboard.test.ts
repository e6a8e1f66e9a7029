// The scoreboard reporter: every assertion of the isolation suites appears with its result,
// other suites do not, and a suite that failed to load shows as a failure.
import { createRequire } from "node:module";

const require = createRequire(__filename);
const { scoreboard, SUITES } = require("./isolation-scoreboard.cjs") as {
  scoreboard: (r: unknown) => {
    rows: Array<{ mark: string; area: string; title: string }>;
    passed: number;
    failed: number;
    skipped: number;
  };
  SUITES: Record<string, string>;
};

test("lists each isolation assertion with PASS, FAIL or SKIP, and only those", () => {
  const board = scoreboard({
    testResults: [
      {
        testFilePath: "/repo/runner/test/egress.test.ts",
        assertionResults: [
          { ancestorTitles: ["egress policies"], title: "block-all", status: "passed" },
          { ancestorTitles: ["egress policies"], title: "domains", status: "failed" },
        ],
      },
      {
        testFilePath: "/repo/runner/test/docker-driver-runsc.test.ts",
        assertionResults: [
          { ancestorTitles: ["d", "inner"], title: "fork bomb", status: "pending" },
        ],
      },
      {
        testFilePath: "/repo/runner/test/disk-limit.test.ts",
        assertionResults: [],
        failureMessage: "Cannot find module x\nstack",
      },
      {
        testFilePath: "/repo/server/test/iam.test.ts",
        assertionResults: [{ ancestorTitles: [], title: "x", status: "passed" }],
      },
    ],
  });
  expect(board.rows).toEqual([
    { mark: "PASS", area: "egress policies", title: "block-all" },
    { mark: "FAIL", area: "egress policies", title: "domains" },
    { mark: "SKIP", area: "hardening (runsc)", title: "inner › fork bomb" },
    { mark: "FAIL", area: "disk limits", title: "the suite did not run: Cannot find module x" },
  ]);
  expect([board.passed, board.failed, board.skipped]).toEqual([1, 2, 1]);
  expect(Object.keys(SUITES)).toContain("isolation-stack.test.ts");
});
