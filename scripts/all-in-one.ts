// Cove on one machine, as `npm start` (scripts/start.mjs) runs it: the embedded Postgres
// (unless DATABASE_URL is set), the API server, a runner on the local Docker engine, and the
// proxy (toolbox, previews, SSH), each in a process of its own under a supervisor that stops
// them in reverse order. A fault that ends one part restarts that part; the others keep
// serving. When Cove is already
// running with this data folder, this says so (and where) instead of starting a second one.
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import { createLogger, createSupervisor, installLastResort } from "@cove/common";
import { loadServerConfig } from "../server/src/config.js";
import { readRunningStack, removeRunningStack, writeRunningStack } from "./lib/running-stack.js";

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

/** portInUse says whether host:port is taken (tried by binding it for a moment). */
function portInUse(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once("error", () => resolve(true));
    probe.listen(port, host, () => probe.close(() => resolve(false)));
  });
}

/** fail prints a message a person can act on and exits. */
function fail(message: string): never {
  process.stderr.write(`\ncove: ${message}\n`);
  process.exit(1);
}

const apiPort = Number(process.env.COVE_API_PORT ?? 3000);
const proxyPort = Number(process.env.COVE_PROXY_PORT ?? 4000);
const sshPort = Number(process.env.COVE_SSH_PORT ?? 2222);
const gatewayPort = Number(process.env.COVE_RUNNER_GATEWAY_PORT ?? 3003);
const host = process.env.COVE_HOST ?? "127.0.0.1";
const publicHost = process.env.COVE_PUBLIC_HOST ?? "localhost";
let serverConfig: ReturnType<typeof loadServerConfig>;
try {
  serverConfig = loadServerConfig({ ...process.env });
} catch (err) {
  fail(`the configuration is not valid: ${err instanceof Error ? err.message : String(err)}`);
}
const dataDir = serverConfig.dataDir;

const running = readRunningStack(dataDir);
if (running) {
  fail(
    [
      `Cove is already running with the data folder ${dataDir} (process ${running.pid}, since ${running.startTime}):`,
      `  API      ${running.apiUrl}`,
      `  Proxy    ${running.proxyUrl}`,
      `  SSH      port ${running.sshPort}`,
      `Stop it with Ctrl-C in its terminal (or \`kill ${running.pid}\`), or start another one with its own COVE_DATA_DIR and ports.`,
    ].join("\n"),
  );
}
const ports: [string, number, string][] = [
  ["the API", apiPort, "COVE_API_PORT"],
  ["the proxy", proxyPort, "COVE_PROXY_PORT"],
  ["SSH", sshPort, "COVE_SSH_PORT"],
  ["the runner's toolbox gateway", gatewayPort, "COVE_RUNNER_GATEWAY_PORT"],
];
if (!serverConfig.databaseUrl) {
  ports.push([
    "the embedded Postgres",
    serverConfig.embeddedPostgresPort,
    "COVE_EMBEDDED_POSTGRES_PORT",
  ]);
}
for (const [i, [what, port, variable]] of ports.entries()) {
  const twin = ports.findIndex(([, other]) => other === port);
  if (twin !== i) {
    const [otherWhat, , otherVariable] = ports[twin] ?? [];
    fail(
      `${what} and ${otherWhat} are both set to port ${port} (${variable}, ${otherVariable}); give each its own`,
    );
  }
}
for (const [what, port, variable] of ports) {
  const where = what === "the embedded Postgres" ? "127.0.0.1" : host;
  if (await portInUse(where, port)) {
    fail(
      `port ${port} (${what}) is already in use on ${where}: another Cove with a different data folder, or another program. Stop it, or choose another port with ${variable}.`,
    );
  }
}

const secrets = sharedSecrets(dataDir);
const supervisor = createSupervisor(logger.child({ component: "supervisor" }));
let stopping = false;
async function shutdown(signal: string, code = 0) {
  if (stopping) return;
  stopping = true;
  logger.info("stopping", { signal });
  await supervisor.stop();
  removeRunningStack(dataDir, process.pid);
  process.exit(code);
}
installLastResort(logger, () => shutdown("unhandled error", 70));
process.on("SIGTERM", () => void shutdown("SIGTERM"));
process.on("SIGINT", () => void shutdown("SIGINT"));

let databaseUrl = serverConfig.databaseUrl;
try {
  if (!databaseUrl) {
    logger.info("starting the embedded Postgres", { dataDir: path.join(dataDir, "postgres") });
    const postgres = await supervisor.start({
      name: "postgres",
      script: path.join(root, "server/src/db/embedded-postgres-main.ts"),
      cwd: root,
      env: {
        ...process.env,
        COVE_POSTGRES_DATA_DIR: path.join(dataDir, "postgres"),
        COVE_EMBEDDED_POSTGRES_PORT: String(serverConfig.embeddedPostgresPort),
      },
    });
    databaseUrl = String(postgres.url);
  }
  const keyFile = path.join(dataDir, "admin-api-key");
  const server = await supervisor.start({
    name: "server",
    script: path.join(root, "server/src/main.ts"),
    cwd: root,
    env: {
      COVE_API_HOST: host,
      COVE_PROXY_URL: `http://${publicHost}:${proxyPort}`,
      COVE_SSH_HOST: publicHost,
      ...process.env,
      COVE_API_PORT: String(apiPort),
      COVE_SSH_PORT: String(sshPort),
      COVE_DATA_DIR: dataDir,
      DATABASE_URL: databaseUrl,
      COVE_RUNNER_REGISTRATION_TOKEN: secrets.runnerToken,
      COVE_PROXY_TOKEN: secrets.proxyToken,
    },
  });
  const apiUrl = String(server.url);
  await supervisor.start({
    name: "runner",
    script: path.join(root, "runner/src/main.ts"),
    cwd: root,
    env: {
      COVE_RUNNER_ID: "local",
      COVE_RUNNER_DATA_DIR: path.join(dataDir, "runner"),
      ...process.env,
      COVE_RUNNER_GATEWAY_PORT: String(gatewayPort),
      COVE_RUNNER_SERVER_URL: apiUrl,
      COVE_RUNNER_TOKEN: secrets.runnerToken,
      COVE_RUNNER_GATEWAY_TOKEN: secrets.gatewayToken,
    },
  });
  const proxy = await supervisor.start({
    name: "proxy",
    script: path.join(root, "proxy/src/main.ts"),
    cwd: root,
    env: {
      COVE_PROXY_ID: "local",
      COVE_PROXY_PREVIEW_DOMAIN: process.env.COVE_PREVIEW_DOMAIN ?? `preview.${publicHost}`,
      ...process.env,
      COVE_PROXY_HOST: host,
      COVE_PROXY_PORT: String(proxyPort),
      COVE_PROXY_SSH_PORT: String(sshPort),
      COVE_PROXY_DATA_DIR: dataDir,
      COVE_PROXY_SERVER_URL: apiUrl,
      COVE_PROXY_TOKEN: secrets.proxyToken,
      COVE_PROXY_GATEWAY_TOKEN: secrets.gatewayToken,
    },
  });
  const proxyUrl = String(proxy.url);
  writeRunningStack(dataDir, {
    pid: process.pid,
    startTime: new Date().toISOString(),
    apiUrl,
    proxyUrl,
    sshPort,
  });
  const adminKey = fs.readFileSync(keyFile, "utf8").trim();
  process.stdout.write(
    [
      "",
      "Cove is running.",
      `  API      ${apiUrl}   (Connect, gRPC and gRPC-Web)`,
      `  Proxy    ${proxyUrl}   (toolbox calls and previews)`,
      `  SSH      ssh <token>@${publicHost} -p ${sshPort}`,
      server.adminCreated
        ? `  Admin API key (shown once; stored in ${keyFile}):\n    ${adminKey}`
        : `  Admin API key: in ${keyFile}`,
      "",
      `  Try:  COVE_API_KEY=$(cat ${keyFile}) npx buf curl --protocol grpc --http2-prior-knowledge \\`,
      `          -H "authorization: Bearer $COVE_API_KEY" -d '{}' ${apiUrl}/cove.sandbox.v1.SandboxService/ListSandboxes`,
      "",
      "Each part runs in its own process and is restarted if it fails.",
      "Press Ctrl-C to stop (sandboxes keep their state; the next start reconciles them).",
      "",
    ].join("\n"),
  );
} catch (err) {
  await supervisor.stop().catch(() => {});
  fail(`Cove did not start: ${err instanceof Error ? err.message : String(err)}`);
}
