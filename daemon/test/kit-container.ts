// A Docker container running the daemon from the daemon kit, the way the runner starts one:
// kit mounted read-only at /cove, a host directory at /run/cove for the socket, no network,
// and the kit's fixed argv as the command. Shared by the kit test and bench/daemon-exec.ts.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createClient, type Transport } from "@connectrpc/connect";
import {
  Health,
  HealthCheckResponse_ServingStatus,
} from "@cove/gen-ts/grpc/health/v1/health_pb.js";
import { docker } from "./docker-images.js";
import { createUnixTransport } from "./harness.js";

/** What startKitContainer needs. */
export interface KitContainerOptions {
  /** The built kit directory (daemon/dist/kit). */
  kitDir: string;
  /** The kit's container argv (kit.json `entrypoint`). */
  entrypoint: string[];
  /** The image to run (it needs no Node). */
  image: string;
  /** Extra environment variables for the daemon. */
  env?: Record<string, string>;
  /** The image's own command, supervised by the daemon. */
  command?: string[];
  /** How long to wait for the daemon's health check, in ms. Default 30 s. */
  readyTimeoutMs?: number;
  /** More `docker run` options (e.g. the runner's capability set). */
  dockerArgs?: string[];
}

/** A running kit container and a transport to its daemon. */
export interface KitContainer {
  /** The container's name (unique). */
  name: string;
  /** The daemon's socket on the host. */
  socketPath: string;
  /** A gRPC transport to the daemon over the socket. */
  transport: Transport;
  /** Milliseconds from `docker run` to the first SERVING health check. */
  startToHealthyMs: number;
  /** remove force-removes the container and deletes the socket directory; safe to repeat. */
  remove(): void;
}

/** The container names started by this process, for cleanup after a failure. */
const started = new Set<string>();

/**
 * startKitContainer runs the image with the kit mounted and waits until the daemon answers a
 * grpc.health.v1 Check over its unix socket. Removes the container if it never gets there.
 */
export async function startKitContainer(options: KitContainerOptions): Promise<KitContainer> {
  const [init, ...initArgs] = options.entrypoint;
  if (init === undefined) throw new Error("the kit's entrypoint is empty");
  const name = `cove-kit-${process.pid}-${randomBytes(4).toString("hex")}`;
  const socketDir = fs.mkdtempSync(path.join(os.tmpdir(), "cove-kit-sock-"));
  const socketPath = path.join(socketDir, "daemon.sock");
  const env = Object.entries(options.env ?? {}).flatMap(([k, v]) => ["--env", `${k}=${v}`]);
  const remove = () => {
    try {
      docker(["rm", "-f", "-v", name]);
    } catch {
      // already gone
    }
    started.delete(name);
    fs.rmSync(socketDir, { recursive: true, force: true });
  };

  const begin = performance.now();
  started.add(name);
  try {
    docker([
      "run",
      "--detach",
      "--name",
      name,
      // `docker rm -f $(docker ps -aq --filter label=dev.cove.test=kit)` cleans up after a crash.
      "--label",
      "dev.cove.test=kit",
      "--network",
      "none",
      "--volume",
      `${path.resolve(options.kitDir)}:/cove:ro`,
      "--volume",
      `${socketDir}:/run/cove`,
      ...env,
      ...(options.dockerArgs ?? []),
      "--entrypoint",
      init,
      options.image,
      ...initArgs,
      ...(options.command ?? []),
    ]);
    const transport = createUnixTransport(socketPath);
    await waitHealthy(name, socketPath, transport, options.readyTimeoutMs ?? 30_000);
    return {
      name,
      socketPath,
      transport,
      startToHealthyMs: performance.now() - begin,
      remove,
    };
  } catch (err) {
    const logs = containerLogs(name);
    remove();
    throw new Error(`${err instanceof Error ? err.message : err}\ncontainer logs:\n${logs}`);
  }
}

/** removeStartedContainers force-removes every kit container this process started. */
export function removeStartedContainers(): void {
  for (const name of started) {
    try {
      docker(["rm", "-f", "-v", name]);
    } catch {
      // already gone
    }
  }
  started.clear();
}

/** containerLogs returns the container's last log lines (stdout and stderr interleaved). */
export function containerLogs(name: string): string {
  const result = spawnSync("docker", ["logs", "--tail", "50", name], { encoding: "utf8" });
  return `${result.stdout ?? ""}${result.stderr ?? ""}`;
}

async function waitHealthy(name: string, socketPath: string, transport: Transport, ms: number) {
  const health = createClient(Health, transport);
  const deadline = performance.now() + ms;
  let lastError: unknown = "socket not created";
  let polls = 0;
  while (performance.now() < deadline) {
    if (fs.existsSync(socketPath)) {
      try {
        const res = await health.check({ service: "" }, { timeoutMs: 1_000 });
        if (res.status === HealthCheckResponse_ServingStatus.SERVING) return;
        lastError = `health status ${res.status}`;
      } catch (err) {
        lastError = err;
      }
    }
    // Every ~0.5 s, make sure the container has not exited while we wait.
    if (++polls % 50 === 0) {
      const state = docker(["inspect", "--format", "{{.State.Status}}", name]).trim();
      if (state !== "running") throw new Error(`the kit container is ${state}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  throw new Error(`the daemon did not become healthy within ${ms} ms: ${String(lastError)}`);
}
