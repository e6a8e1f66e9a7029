// The proxy's entry point: read COVE_PROXY_* config, watch the server's routes, serve toolbox
// calls and previews, stop on SIGTERM/SIGINT (flushing activity to the server).
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createLogger } from "@cove/common";
import { startProxy } from "./app.js";
import { loadProxyConfig } from "./config.js";
import { createEdgeRouteResolver } from "./domain/edge-route-resolver.js";

const logger = createLogger({ fields: { component: "proxy" } });
const config = loadProxyConfig(process.env);
const edge = createEdgeRouteResolver({
  transport: createGrpcTransport({ baseUrl: config.serverUrl }),
  proxyToken: config.proxyToken,
  proxyId: config.proxyId,
  logger: logger.child({ part: "edge" }),
});
const proxy = await startProxy({
  listen: config.listen,
  edge,
  gatewayToken: config.gatewayToken,
  previewDomain: config.previewDomain,
  pathPreviews: config.pathPreviews,
  secure: config.secure,
  logger,
});
logger.info("proxy started", { url: proxy.url, server: config.serverUrl });

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info("stopping", { signal });
  await proxy.close();
  await edge.close();
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
