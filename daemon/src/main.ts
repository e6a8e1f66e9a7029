// The daemon's entry point: read config, serve the toolbox on the unix socket, supervise the
// image's own command, and shut down cleanly on SIGTERM/SIGINT.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { fileURLToPath } from "node:url";
import { createLogger, installLastResort, startGrpcServer } from "@cove/common";
import { createDaemonApp } from "./app.js";
import { loadConfig } from "./config.js";
import { superviseEntrypoint } from "./domain/entrypoint.js";
import { readSandboxEnv } from "./domain/process-manager.js";
import { UserDirectory } from "./domain/users.js";

const config = {
  ...loadConfig(process.env, process.argv.slice(2)),
  filesystemHelper: [...nodeCommand(), helperEntry()],
};
const logger = createLogger({ fields: { component: "daemon" } });
// Images built FROM scratch may have no /tmp; sessions, code runs and kernels need one.
if (!fs.existsSync(os.tmpdir())) {
  fs.mkdirSync(os.tmpdir(), { recursive: true });
  fs.chmodSync(os.tmpdir(), 0o1777);
}
installLastResort(logger);
fs.mkdirSync(path.dirname(config.socketPath), { recursive: true });
const app = createDaemonApp(config, logger);
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

/**
 * nodeCommand is how this process's Node was started, up to the script: in the kit that is the
 * kit's loader, its library path and the Node binary (process.execPath is the loader there).
 */
function nodeCommand(): string[] {
  const script = process.argv[1] ?? "";
  try {
    const argv = fs.readFileSync("/proc/self/cmdline", "utf8").split("\0");
    const at = argv.findIndex((arg, i) => i > 0 && arg !== "" && path.resolve(arg) === script);
    if (at > 0) return argv.slice(0, at);
  } catch {
    // No /proc: fall back to what Node reports.
  }
  return [process.execPath, ...process.execArgv];
}

/** helperEntry is the filesystem helper's script next to this one (bundled or source). */
function helperEntry(): string {
  const self = fileURLToPath(import.meta.url);
  return self.endsWith(".ts")
    ? path.join(path.dirname(self), "filesystem-helper", "main.ts")
    : path.join(path.dirname(self), "filesystem-helper.mjs");
}
