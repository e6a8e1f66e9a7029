// The runner's entry point: read COVE_RUNNER_* config, start the runner, stop on SIGTERM/SIGINT
// (sandboxes keep running; the server reconciles when the runner comes back).
import * as path from "node:path";
import { createLogger, installLastResort } from "@cove/common";
import { startRunner } from "./app.js";
import { loadRunnerConfig } from "./config.js";

const logger = createLogger({ fields: { component: "runner" } });
installLastResort(logger);
const config = loadRunnerConfig(process.env, path.resolve(import.meta.dirname, "../.."));
const runner = await startRunner(config, logger);
logger.info("runner started", {
  runnerId: config.runnerId,
  gateway: runner.gatewayUrl,
  server: config.serverUrl,
});
if (process.send) {
  // Under a supervisor (npm start): ready once the control plane acknowledged this runner.
  void runner.connected().then(() => process.send?.({ cove: "ready", gateway: runner.gatewayUrl }));
}

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info("stopping", { signal });
  await runner.stop();
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
// Under a supervisor: its going away (even SIGKILLed) ends this part too.
process.on("disconnect", () => void shutdown("the supervisor went away"));
