// Cove in one process: the API server (embedded Postgres unless DATABASE_URL is set), a runner
// on the local Docker engine, and the proxy (toolbox, previews, SSH). Run by `npm start`
// (scripts/start.mjs), which first installs and builds what is missing.
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createLogger, listenTimeoutsFromEnv } from "@cove/common";
import { startProxy } from "../proxy/src/app.js";
import { sshTimeoutsFromEnv } from "../proxy/src/config.js";
import { createEdgeRouteResolver } from "../proxy/src/domain/edge-route-resolver.js";
import { startSshGateway } from "../proxy/src/ssh/ssh-gateway.js";
import { startRunner } from "../runner/src/app.js";
import { loadRunnerConfig } from "../runner/src/config.js";
import { bootServer } from "../server/src/boot.js";
import { loadServerConfig } from "../server/src/config.js";

const root = path.resolve(import.meta.dirname, "..");
const logger = createLogger({ level: (process.env.COVE_LOG_LEVEL as "info") ?? "info" });

/** Secrets the three parts share, made on first start and kept in the data folder (0600). */
function sharedSecrets(dataDir: string): {
  runnerToken: string;
  proxyToken: string;
  gatewayToken: string;
} {
  const file = path.join(dataDir, "secrets.json");
  // Traversable (not readable) by others: the embedded Postgres runs as its own user.
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o711 });
  if (!fs.existsSync(file)) {
    const make = (prefix: string) => `${prefix}${randomBytes(24).toString("base64url")}`;
    const secrets = {
      runnerToken: make("cove_rt_"),
      proxyToken: make("cove_pt_"),
      gatewayToken: make("cove_gt_"),
    };
    fs.writeFileSync(file, JSON.stringify(secrets, null, 2), { mode: 0o600 });
  }
  return JSON.parse(fs.readFileSync(file, "utf8"));
}

const apiPort = Number(process.env.COVE_API_PORT ?? 3000);
const proxyPort = Number(process.env.COVE_PROXY_PORT ?? 4000);
const sshPort = Number(process.env.COVE_SSH_PORT ?? 2222);
const host = process.env.COVE_HOST ?? "127.0.0.1";
const publicHost = process.env.COVE_PUBLIC_HOST ?? "localhost";
const serverConfig = loadServerConfig({
  COVE_API_HOST: host,
  COVE_PROXY_URL: `http://${publicHost}:${proxyPort}`,
  COVE_SSH_HOST: publicHost,
  ...process.env,
});
const secrets = sharedSecrets(serverConfig.dataDir);
serverConfig.runnerRegistrationToken = secrets.runnerToken;
serverConfig.proxyToken = secrets.proxyToken;
serverConfig.listen = { host, port: apiPort };

const server = await bootServer(serverConfig, logger.child({ component: "server" }));
const runnerConfig = loadRunnerConfig(
  {
    COVE_RUNNER_ID: "local",
    COVE_RUNNER_SERVER_URL: server.url,
    COVE_RUNNER_TOKEN: secrets.runnerToken,
    COVE_RUNNER_GATEWAY_TOKEN: secrets.gatewayToken,
    COVE_RUNNER_DATA_DIR: path.join(serverConfig.dataDir, "runner"),
    ...process.env,
  },
  root,
);
const runner = await startRunner(runnerConfig, logger.child({ component: "runner" }));
const edge = createEdgeRouteResolver({
  transport: createGrpcTransport({ baseUrl: server.url }),
  proxyToken: secrets.proxyToken,
  proxyId: "local",
  logger: logger.child({ component: "proxy" }),
});
const proxy = await startProxy({
  listen: { host, port: proxyPort },
  edge,
  gatewayToken: secrets.gatewayToken,
  previewDomain: process.env.COVE_PREVIEW_DOMAIN ?? `preview.${publicHost}`,
  listenTimeouts: listenTimeoutsFromEnv(process.env),
  logger: logger.child({ component: "proxy" }),
});
const ssh = await startSshGateway({
  listen: { host, port: sshPort },
  hostKeyPath: path.join(serverConfig.dataDir, "ssh_host_key"),
  resolver: edge,
  gatewayToken: secrets.gatewayToken,
  logger: logger.child({ component: "ssh" }),
  limits: sshTimeoutsFromEnv(process.env),
});
await runner.connected();

const keyFile = path.join(serverConfig.dataDir, "admin-api-key");
process.stdout.write(
  [
    "",
    "Cove is running.",
    `  API      ${server.url}   (Connect, gRPC and gRPC-Web)`,
    `  Proxy    ${proxy.url}   (toolbox calls and previews)`,
    `  SSH      ssh <token>@${publicHost} -p ${ssh.port}`,
    server.adminCreated
      ? `  Admin API key (shown once; stored in ${keyFile}):\n    ${server.adminApiKey}`
      : `  Admin API key: in ${keyFile}`,
    "",
    `  Try:  COVE_API_KEY=$(cat ${keyFile}) npx buf curl --protocol grpc --http2-prior-knowledge \\`,
    `          -H "authorization: Bearer $COVE_API_KEY" -d '{}' ${server.url}/cove.sandbox.v1.SandboxService/ListSandboxes`,
    "",
    "Press Ctrl-C to stop (sandboxes keep their state; the next start reconciles them).",
    "",
  ].join("\n"),
);

let stopping = false;
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info("stopping", { signal });
  await ssh.close();
  await proxy.close();
  await edge.close();
  await runner.stop();
  await server.stop();
  process.exit(0);
}
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));
