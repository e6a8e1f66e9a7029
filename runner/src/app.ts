import * as fs from "node:fs";
import * as path from "node:path";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { Logger } from "@cove/common";
import type Dockerode from "dockerode";
import { ArchiveManager } from "./archive/archive-manager.js";
import type { RunnerConfig } from "./config.js";
import { CommandExecutor } from "./control/command-executor.js";
import { ControlStream } from "./control/control-stream.js";
import { SandboxDisks } from "./disk/sandbox-disks.js";
import { watchContainerEvents } from "./domain/container-events.js";
import { createDockerClient, refuseRedirects } from "./domain/docker-client.js";
import { DockerDriver } from "./domain/docker-driver.js";
import { SandboxDirectory, withDirectory } from "./domain/sandbox-directory.js";
import type { SandboxDriver } from "./domain/sandbox-driver.js";
import { startToolboxGateway, type ToolboxGateway } from "./gateway/toolbox-gateway.js";
import { ImageManager } from "./images/image-manager.js";
import { SandboxNetwork } from "./network/sandbox-network.js";
import { VolumeManager } from "./volumes/volume-manager.js";

/** The runner's software version, sent in hello. */
export const RUNNER_VERSION = "0.1.0";

/** A started runner. */
export interface Runner {
  /** The toolbox gateway's URL. */
  readonly gatewayUrl: string;
  /** The driver (with the directory kept up to date), for tests and tools. */
  readonly driver: SandboxDriver;
  /** connected resolves after the first hello_ack from the server. */
  connected(): Promise<void>;
  /** stop closes the stream and the gateway; sandboxes keep running. */
  stop(): Promise<void>;
}

/** What the kit's manifest tells the runner. */
interface KitManifest {
  entrypoint: string[];
}

/**
 * startRunner starts a runner: the Docker driver over the daemon kit, the toolbox gateway,
 * and the command stream to the server (which reconnects on its own until stop()).
 */
export async function startRunner(
  config: RunnerConfig,
  logger: Logger,
  deps: { docker?: Dockerode; extraLabels?: Record<string, string> } = {},
): Promise<Runner> {
  const manifestPath = path.join(config.kitDir, "kit.json");
  if (!fs.existsSync(manifestPath)) {
    throw new Error(
      `no daemon kit at ${config.kitDir}: build it with \`npm run build:kit -w @cove/daemon\``,
    );
  }
  const manifest = JSON.parse(fs.readFileSync(manifestPath, "utf8")) as KitManifest;
  const docker = refuseRedirects(deps.docker ?? createDockerClient());
  // Every container carries this runner's id, so its inventory and events never include
  // another runner's sandboxes on a shared engine (tests, or a migration between runners).
  const labels = { "dev.cove.runner-id": config.runnerId, ...deps.extraLabels };
  const directory = new SandboxDirectory();
  const volumes = new VolumeManager({ dataDir: config.dataDir, docker, logger });
  // Staging mounts a crashed runner left would otherwise outlive their sandboxes.
  await volumes.releaseAll();
  const images = new ImageManager({
    docker,
    logger,
    buildNetwork: config.buildNetwork,
    extraLabels: deps.extraLabels,
  });
  // Egress policies: rules and DNS must be in place before any sandbox starts.
  let network: SandboxNetwork | undefined;
  if (config.egress) {
    network = new SandboxNetwork({
      docker,
      dataDir: config.dataDir,
      logger,
      networkName: config.egress.networkName,
      bridgeName: config.egress.bridgeName,
      subnet: config.egress.subnet,
      table: config.egress.table,
      upstreamDns: config.egress.upstreamDns,
      labels: deps.extraLabels,
    });
    await network.init();
  }
  const disks = config.diskLimits
    ? new SandboxDisks({ dataDir: config.dataDir, logger })
    : undefined;
  // The disk first: the network hook may connect the container, which needs nothing of it.
  const hooks = [...(disks ? [disks] : []), ...(network ? [network] : [])];
  const driver = withDirectory(
    new DockerDriver({
      docker,
      kitDir: config.kitDir,
      kitEntrypoint: manifest.entrypoint,
      dataDir: config.dataDir,
      defaultRuntime: config.defaultRuntime,
      logger: logger.child({ part: "driver" }),
      extraLabels: labels,
      extraMounts: (spec) => volumes.mountsFor(spec),
      hooks,
    }),
    directory,
  );
  const archives = new ArchiveManager({
    docker,
    driver,
    images,
    dataDir: config.dataDir,
    archiveDir: config.archiveDir,
    s3: config.s3,
    logger,
  });
  await driver.list();
  const gateway: ToolboxGateway = await startToolboxGateway({
    listen: config.gatewayListen,
    token: config.gatewayToken,
    resolve: (id) => directory.resolve(id),
    logger: logger.child({ part: "gateway" }),
    listenTimeouts: config.listenTimeouts,
  });
  const transport = createGrpcTransport({
    baseUrl: config.serverUrl,
    interceptors: [
      (next) => (req) => {
        req.header.set("authorization", `Bearer ${config.token}`);
        return next(req);
      },
    ],
  });
  let stream: ControlStream | undefined;
  const executor = new CommandExecutor(
    driver,
    (out) => stream?.deliver(out),
    logger.child({ part: "executor" }),
    { images, archives, volumes, network },
  );
  stream = new ControlStream(
    transport,
    {
      runnerId: config.runnerId,
      name: config.name,
      version: RUNNER_VERSION,
      region: config.region,
      capacity: config.capacity,
      toolboxGatewayUrl: config.gatewayUrl ?? gateway.url,
    },
    driver,
    executor,
    logger.child({ part: "control" }),
    undefined,
    () => images.list(),
  );
  const control = stream;
  const events = watchContainerEvents(
    docker,
    driver,
    labels,
    (report) => control.deliver({ kind: "report", report }),
    logger,
  );
  const running = control.run();
  return {
    gatewayUrl: gateway.url,
    driver,
    connected: () => control.connected(),
    async stop() {
      control.stop();
      events.stop();
      await running;
      await executor.idle();
      await gateway.close(500);
      await network?.close();
    },
  };
}
