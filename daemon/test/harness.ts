import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { pathToFileURL } from "node:url";
import type { DescService } from "@bufbuild/protobuf";
import { type Client, createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createLogger, type GrpcServer, startGrpcServer } from "@cove/common";
import { defaultKitDir } from "../scripts/build-kit.mjs";
import { createDaemonApp, type DaemonApp } from "../src/app.js";
import { type DaemonConfig, defaultLimits } from "../src/config.js";

/** A daemon running in this process on a unix socket, with a temp directory as its home. */
export interface TestDaemon {
  /** The temp directory used as the default user's home (removed by close). */
  home: string;
  /** The socket the daemon serves on. */
  socketPath: string;
  /** A gRPC (HTTP/2) transport to the daemon over its unix socket. */
  transport: Transport;
  /** client makes a typed client for one toolbox service. */
  client<S extends DescService>(service: S): Client<S>;
  /** The app, to reach domain objects in assertions. */
  app: DaemonApp;
  /** close stops the daemon and removes its temp directory. */
  close(): Promise<void>;
}

/** startTestDaemon starts the real daemon app on a unix socket in a fresh temp directory. */
export async function startTestDaemon(overrides: Partial<DaemonConfig> = {}): Promise<TestDaemon> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cove-daemon-test-"));
  const home = path.join(dir, "home");
  fs.mkdirSync(home);
  const socketPath = path.join(dir, "daemon.sock");
  const config: DaemonConfig = {
    socketPath,
    home,
    defaultUser: undefined,
    sandboxEnvFile: undefined,
    initPath: undefined,
    entrypoint: [],
    limits: { ...defaultLimits },
    filesystemHelper: testHelperCommand(),
    ...overrides,
  };
  const app = createDaemonApp(config, createLogger({ level: "silent" }));
  const server: GrpcServer = await startGrpcServer(
    app.server,
    { path: socketPath },
    { protocols: "h2c" },
  );
  const transport = createUnixTransport(socketPath);
  return {
    home,
    socketPath,
    transport,
    client: (service) => createClient(service, transport),
    app,
    async close() {
      await app.close();
      await server.close(200);
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * testHelperCommand starts the filesystem helper from source, as the daemon's main does from
 * its bundle (used when the test daemon runs as root with a default user).
 */
export function testHelperCommand(): string[] {
  const root = path.resolve(defaultKitDir, "..", "..", "..");
  return [
    process.execPath,
    "--import",
    pathToFileURL(path.join(root, "node_modules", "tsx", "dist", "loader.mjs")).href,
    path.join(root, "daemon", "src", "filesystem-helper", "main.ts"),
  ];
}

/** createUnixTransport speaks gRPC over HTTP/2 to a server on a unix socket. */
export function createUnixTransport(socketPath: string): Transport {
  return createGrpcTransport({
    baseUrl: "http://daemon.local",
    nodeOptions: { createConnection: () => net.connect(socketPath) },
    defaultTimeoutMs: 30_000,
  });
}
