// The API server on its own (multi-host deployments): read config, boot, stop on signals.
import { createLogger } from "@cove/common";
import { bootServer } from "./boot.js";
import { loadServerConfig } from "./config.js";

const logger = createLogger({ fields: { component: "server" } });
const server = await bootServer(loadServerConfig(process.env), logger);
logger.info("API server listening", { url: server.url });
if (server.adminCreated) {
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
