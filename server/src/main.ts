// The API server on its own (multi-host deployments): read config, boot, stop on signals.
import { createLogger, installLastResort } from "@cove/common";
import { type BootedServer, bootServer } from "./boot.js";
import { loadServerConfig } from "./config.js";

const logger = createLogger({ fields: { component: "server" } });
let booted: BootedServer | undefined;
installLastResort(logger, () => booted?.stop());
const server = await bootServer(loadServerConfig(process.env), logger);
booted = server;
logger.info("API server listening", { url: server.url });
// Under a supervisor (npm start) say that this part is ready.
process.send?.({ cove: "ready", url: server.url, adminCreated: server.adminCreated });
// A supervisor (npm start) prints the key in its own banner.
if (server.adminCreated && !process.send) {
  process.stdout.write(
    `Admin API key (shown once; also stored in the data folder): ${server.adminApiKey}\n`,
  );
}
let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info("stopping", { signal });
  await server.stop();
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
// Under a supervisor: its going away (even SIGKILLed) ends this part too.
process.on("disconnect", () => void shutdown("the supervisor went away"));
