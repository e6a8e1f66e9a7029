// The proxy's entry point: read COVE_PROXY_* config, watch the server's routes, serve toolbox
// calls, previews and SSH (COVE_PROXY_SSH_PORT, default 2222; host key under
// COVE_PROXY_DATA_DIR), stop on SIGTERM/SIGINT (flushing activity to the server).
import * as os from "node:os";
import * as path from "node:path";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createLogger, installLastResort } from "@cove/common";
import { startProxy } from "./app.js";
import { loadProxyConfig } from "./config.js";
import { createEdgeRouteResolver } from "./domain/edge-route-resolver.js";
import { startSshGateway } from "./ssh/ssh-gateway.js";

const logger = createLogger({ fields: { component: "proxy" } });
installLastResort(logger);
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
  listenTimeouts: config.listenTimeouts,
  logger,
});
const ssh = await startSshGateway({
  listen: { host: config.listen.host, port: Number(process.env.COVE_PROXY_SSH_PORT ?? 2222) },
  hostKeyPath: path.join(
    process.env.COVE_PROXY_DATA_DIR ?? path.join(os.homedir(), ".cove"),
    "ssh_host_key",
  ),
  resolver: edge,
  gatewayToken: config.gatewayToken,
  logger: logger.child({ part: "ssh" }),
  limits: config.sshTimeouts,
});
logger.info("proxy started", { url: proxy.url, sshPort: ssh.port, server: config.serverUrl });
process.send?.({ cove: "ready", url: proxy.url, sshPort: ssh.port });

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info("stopping", { signal });
  await ssh.close();
  await proxy.close();
  await edge.close();
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
// Under a supervisor: its going away (even SIGKILLed) ends this part too.
process.on("disconnect", () => void shutdown("the supervisor went away"));
