// The daemon's entry point: read config, serve the toolbox on the unix socket, supervise the
// image's own command, and shut down cleanly on SIGTERM/SIGINT.
import * as fs from "node:fs";
import * as path from "node:path";
import { createLogger, installLastResort, startGrpcServer } from "@cove/common";
import { createDaemonApp } from "./app.js";
import { loadConfig } from "./config.js";
import { superviseEntrypoint } from "./domain/entrypoint.js";
import { readSandboxEnv } from "./domain/process-manager.js";
import { UserDirectory } from "./domain/users.js";

const config = loadConfig(process.env, process.argv.slice(2));
const logger = createLogger({ fields: { component: "daemon" } });
installLastResort(logger);
const app = createDaemonApp(config, logger);
fs.mkdirSync(path.dirname(config.socketPath), { recursive: true });
// Only the runner's gateway (HTTP/2) talks to the daemon: no protocol sniffing on this hop.
const server = await startGrpcServer(app.server, { path: config.socketPath }, { protocols: "h2c" });
fs.chmodSync(config.socketPath, 0o600);
logger.info("serving the toolbox", { socket: config.socketPath });
const sandboxEnv = Object.fromEntries(
  Object.entries(readSandboxEnv(config.sandboxEnvFile)).filter(([key]) => !key.startsWith("COVE_")),
);
const entrypoint = superviseEntrypoint(config.entrypoint, logger, {
  env: sandboxEnv,
  user: config.defaultUser ? new UserDirectory().lookup(config.defaultUser) : undefined,
});

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info("shutting down", { signal });
  await Promise.allSettled([entrypoint.stop(), app.close(), server.close(100)]);
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
