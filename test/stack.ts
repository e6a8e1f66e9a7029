// A whole Cove stack for integration tests: the API server (on a fresh test database on the
// run's shared Postgres), a real runner against the real Docker engine, and — once asked —
// the proxy. Everything listens on loopback ports chosen by the OS.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createLogger, type Logger } from "@cove/common";
import { buildKit } from "../daemon/scripts/build-kit.mjs";
import { docker } from "../daemon/test/docker-images.js";
import { type Proxy as CoveProxy, startProxy } from "../proxy/src/app.js";
import {
  createEdgeRouteResolver,
  type EdgeRouteResolver,
} from "../proxy/src/domain/edge-route-resolver.js";
import { type SshGateway, startSshGateway } from "../proxy/src/ssh/ssh-gateway.js";
import { type Runner, startRunner } from "../runner/src/app.js";
import type { RunnerConfig } from "../runner/src/config.js";
import { ensureBaseImage } from "../scripts/build-base-image.mjs";
import { type BootedServer, bootServer } from "../server/src/boot.js";
import type { ServerConfig } from "../server/src/config.js";
import { createTestDatabase, type TestDatabase } from "../server/test/database.js";

/** A running stack. */
export interface Stack {
  /** The API server's URL. */
  apiUrl: string;
  /** The admin API key (scopes "*" and "operator") of the default organization. */
  adminKey: string;
  /** The sandbox base image tag. */
  image: string;
  /** The booted server (its app, database). */
  server: BootedServer;
  /** The runner. */
  runner: Runner;
  /** The proxy's URL (toolbox calls and previews). */
  proxyUrl: string;
  /** The SSH gateway's port. */
  sshPort: number;
  /** The test database. */
  database: TestDatabase;
  /** The registration token runners use. */
  runnerToken: string;
  /** The token the runner's toolbox gateway expects (cove-gateway-token). */
  gatewayToken: string;
  /** The proxy's service token for EdgeService. */
  proxyToken: string;
  /** The data folder. */
  dataDir: string;
  /** stop stops everything and removes the stack's containers. */
  stop(): Promise<void>;
}

/** Label on every container a stack creates, so teardown finds them all. */
export const STACK_LABEL = "dev.cove.test";

/** startStack boots server + runner (+ Redis when the run has one) for one test file. */
export async function startStack(
  options: {
    name: string;
    logger?: Logger;
    heartbeatMs?: number;
    /** Runner settings to add (e.g. egress, diskLimits). */
    runner?: Partial<RunnerConfig>;
  } = { name: "stack" },
): Promise<Stack> {
  const logger =
    options.logger ??
    createLogger({ level: process.env.COVE_TEST_LOG === "1" ? "debug" : "silent" });
  const kit = await buildKit({ log: () => {} });
  const { image } = await ensureBaseImage({ log: () => {} });
  const database = await createTestDatabase();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `cove-${options.name}-`));
  const runnerToken = `cove_rt_test_${Math.random().toString(36).slice(2)}`;
  const gatewayToken = `gw_${Math.random().toString(36).slice(2)}`;
  const proxyToken = `cove_pt_test_${Math.random().toString(36).slice(2)}`;
  const config: ServerConfig = {
    listen: { host: "127.0.0.1", port: 0 },
    databaseUrl: database.url,
    embeddedPostgresPort: 0,
    redisUrl: process.env.COVE_TEST_REDIS_URL,
    dataDir: path.join(dataDir, "server"),
    runnerRegistrationToken: runnerToken,
    proxyToken,
    defaultImage: image,
    // A public image no runner holds: the SDK suites' "a create that fails after the server made
    // the sandbox" cases (the runner answers IMAGE_NOT_FOUND after the row exists).
    publicImages: ["cove/no-such-image:never"],
    corsOrigins: "*",
    rateLimits: {},
    urls: {
      toolboxUrl: "http://localhost:4000",
      previewUrlTemplate: "http://{port}-{sandboxId}.preview.localhost:4000",
      sshHost: "localhost",
      sshPort: 2222,
    },
  };
  const heartbeatMs = options.heartbeatMs ?? 1_000;
  const server = await bootServer(config, logger.child({ component: "server" }), {
    heartbeatIntervalMs: heartbeatMs,
    orphanGracePeriodMs: 5_000,
    sweepIntervalMs: 1_000,
  });
  const label = `${options.name}-${process.pid}`;
  const runner = await startRunner(
    {
      runnerId: `runner-${label}`,
      name: label,
      region: "local",
      serverUrl: server.url,
      token: runnerToken,
      gatewayListen: { host: "127.0.0.1", port: 0 },
      gatewayUrl: undefined,
      gatewayToken,
      dataDir: path.join(dataDir, "runner"),
      kitDir: kit.dir,
      defaultRuntime: "",
      capacity: { cpuMillicores: 64_000, memoryMib: 64_000, diskMib: 0, maxSandboxes: 200 },
      ...options.runner,
    },
    logger.child({ component: "runner" }),
    { extraLabels: { [STACK_LABEL]: label } },
  );
  await runner.connected();
  const edge: EdgeRouteResolver = createEdgeRouteResolver({
    transport: createGrpcTransport({ baseUrl: server.url }),
    proxyToken,
    proxyId: label,
    logger: logger.child({ component: "edge" }),
  });
  const proxy: CoveProxy = await startProxy({
    listen: { host: "127.0.0.1", port: 0 },
    edge,
    gatewayToken,
    previewDomain: "preview.localhost",
    logger: logger.child({ component: "proxy" }),
  });
  const ssh: SshGateway = await startSshGateway({
    listen: { host: "127.0.0.1", port: 0 },
    hostKeyPath: path.join(dataDir, "ssh_host_key"),
    resolver: edge,
    gatewayToken,
    logger: logger.child({ component: "ssh" }),
  });
  return {
    apiUrl: server.url,
    adminKey: server.adminApiKey,
    image,
    server,
    runner,
    proxyUrl: proxy.url,
    sshPort: ssh.port,
    database,
    runnerToken,
    gatewayToken,
    proxyToken,
    dataDir,
    async stop() {
      await ssh.close();
      await proxy.close();
      await edge.close();
      await runner.stop();
      await server.stop();
      for (const id of docker(["ps", "-aq", "--filter", `label=${STACK_LABEL}=${label}`])
        .trim()
        .split("\n")
        .filter(Boolean)) {
        docker(["rm", "-f", "-v", id]);
      }
      await database.drop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
