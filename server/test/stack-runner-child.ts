// A runner in a process of its own, for tests that SIGKILL it: like runner/src/main.ts, but it
// labels its containers (so the test finds and removes them) and prints its gateway URL as the
// first line of stdout. Config: COVE_TEST_RUNNER (JSON of RunnerConfig) and COVE_TEST_RUNNER_LABELS
// (JSON object of extra labels).
import { createLogger } from "@cove/common";
import { startRunner } from "../../runner/src/app.js";
import type { RunnerConfig } from "../../runner/src/config.js";

const config = JSON.parse(process.env.COVE_TEST_RUNNER ?? "{}") as RunnerConfig;
const extraLabels = JSON.parse(process.env.COVE_TEST_RUNNER_LABELS ?? "{}") as Record<
  string,
  string
>;
const logger = createLogger({
  level: process.env.COVE_TEST_LOG === "1" ? "debug" : "info",
  fields: { component: "runner" },
});
const runner = await startRunner(config, logger, { extraLabels });
process.stdout.write(`${JSON.stringify({ gatewayUrl: runner.gatewayUrl })}\n`);
let stopping = false;
process.on("SIGTERM", () => {
  if (stopping) return;
  stopping = true;
  void runner.stop().then(() => process.exit(0));
});
