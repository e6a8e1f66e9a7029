// The isolation scoreboard: a jest reporter that lists every hardening and policy assertion
// (the Docker driver's hardening tests under runc and runsc, the egress policies, the disk
// limits and the whole-stack isolation tests) with PASS, FAIL or SKIP, at the end of every
// run — `npm test` and CI — and writes it to .gen-cache/reports/isolation-scoreboard.md.
const fs = require("node:fs");
const path = require("node:path");

/** The suites on the scoreboard: file name → the area it proves. */
const SUITES = {
  "docker-driver.test.ts": "hardening (runc)",
  "docker-driver-runsc.test.ts": "hardening (runsc)",
  "egress.test.ts": "egress policies",
  "egress-policy.test.ts": "egress rules (unit)",
  "sandbox-network-policy.test.ts": "policy API",
  "disk-limit.test.ts": "disk limits",
  "isolation-stack.test.ts": "whole stack",
};

const MARK = { passed: "PASS", failed: "FAIL", pending: "SKIP", skipped: "SKIP", todo: "SKIP" };

/** scoreboard builds the rows and totals from jest's aggregated results. */
function scoreboard(results) {
  const rows = [];
  for (const file of results.testResults ?? []) {
    const area = SUITES[path.basename(file.testFilePath ?? "")];
    if (!area) continue;
    // Reporters see `testResults`; jest's --json output calls them `assertionResults`.
    const assertions = file.testResults ?? file.assertionResults ?? [];
    if (assertions.length === 0 && file.failureMessage) {
      rows.push({
        mark: "FAIL",
        area,
        title: `the suite did not run: ${file.failureMessage.split("\n")[0]}`,
      });
    }
    for (const a of assertions) {
      const title = [...(a.ancestorTitles ?? []).slice(1), a.title].join(" › ");
      rows.push({ mark: MARK[a.status] ?? "SKIP", area, title });
    }
  }
  const count = (m) => rows.filter((r) => r.mark === m).length;
  return { rows, passed: count("PASS"), failed: count("FAIL"), skipped: count("SKIP") };
}

/** IsolationScoreboard is the reporter. */
class IsolationScoreboard {
  constructor(globalConfig) {
    this.rootDir = globalConfig.rootDir;
  }

  onRunComplete(_contexts, results) {
    const board = scoreboard(results);
    if (board.rows.length === 0) return;
    const lines = [
      `Isolation scoreboard: ${board.passed} passed, ${board.failed} failed, ${board.skipped} skipped`,
      ...board.rows.map((r) => `  ${r.mark}  ${r.area.padEnd(18)} ${r.title}`),
    ];
    process.stdout.write(`\n${lines.join("\n")}\n`);
    const dir = path.join(this.rootDir, ".gen-cache", "reports");
    fs.mkdirSync(dir, { recursive: true });
    const md = [
      "# Isolation scoreboard",
      "",
      `${board.passed} passed, ${board.failed} failed, ${board.skipped} skipped`,
      "",
      "| result | area | assertion |",
      "|---|---|---|",
      ...board.rows.map((r) => `| ${r.mark} | ${r.area} | ${r.title.replace(/\|/g, "\\|")} |`),
      "",
    ].join("\n");
    fs.writeFileSync(path.join(dir, "isolation-scoreboard.md"), md);
  }
}

module.exports = IsolationScoreboard;
module.exports.scoreboard = scoreboard;
module.exports.SUITES = SUITES;
