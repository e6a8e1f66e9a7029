import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { type ListenOptions, listenTimeoutsFromEnv } from "@cove/common";
import type { S3Settings } from "./archive/s3-object-store.js";

/** Everything a runner needs to know at start-up. */
export interface RunnerConfig {
  /** Stable id of this runner (registered with the server). */
  runnerId: string;
  /** Display name; defaults to the host name. */
  name: string;
  /** Region label used by the scheduler. */
  region: string;
  /** The control plane's URL, e.g. http://127.0.0.1:3000. */
  serverUrl: string;
  /** Runner token, sent as `authorization: Bearer <token>`. */
  token: string;
  /** Where the toolbox gateway listens. */
  gatewayListen: { host: string; port: number };
  /** The gateway URL the proxy should use; defaults to the listen address. */
  gatewayUrl: string | undefined;
  /** Shared secret the proxy presents to the gateway (header cove-gateway-token). */
  gatewayToken: string;
  /** Per-sandbox state on the host (sockets). */
  dataDir: string;
  /** The daemon kit folder (daemon/dist/kit). */
  kitDir: string;
  /** OCI runtime for sandboxes that ask for none ("runc" or "runsc"). */
  defaultRuntime: string;
  /** Where file:// archives live (default <dataDir>/archives). */
  archiveDir?: string;
  /** The S3-API store for s3:// archives; unset refuses them. */
  s3?: S3Settings;
  /** The network of Dockerfile build steps ("none" by default; e.g. "cove-egress" or "bridge"). */
  buildNetwork?: string;
  /**
   * The sandbox network that enforces egress policies (runner/src/network). Unset: only
   * BLOCK_ALL and ALLOW_ALL work, the latter on the legacy cove-egress bridge.
   */
  egress?: EgressConfig;
  /**
   * Whether each sandbox's writable layer gets a filesystem of its disk size (runner/src/disk)
   * and its socket directory a small tmpfs. Unset or false: no disk limit (unless the storage
   * driver enforces `StorageOpt size`).
   */
  diskLimits?: boolean;
  /** What this host offers the scheduler. */
  capacity: { cpuMillicores: number; memoryMib: number; diskMib: number; maxSandboxes: number };
  /** Headers and idle timeouts of the gateway's listener; unset keeps the defaults. */
  listenTimeouts?: Pick<ListenOptions, "headersTimeoutMs" | "idleTimeoutMs">;
}

/** Where and how the runner enforces egress policies. */
export interface EgressConfig {
  /** The Docker network's name. */
  networkName: string;
  /** The bridge interface's name (at most 15 characters). */
  bridgeName: string;
  /** The network's IPv4 subnet; unset lets Docker pick a free one. */
  subnet?: string;
  /** The nft table (inet family). */
  table: string;
  /** The resolver for allowed names, "host" or "host:port". */
  upstreamDns: string;
}

function isRoot(): boolean {
  return process.getuid?.() === 0;
}

/** defaultUpstreamDns is the first nameserver of the host's /etc/resolv.conf (else 127.0.0.1). */
export function defaultUpstreamDns(): string {
  try {
    const text = fs.readFileSync("/etc/resolv.conf", "utf8");
    for (const line of text.split("\n")) {
      const m = /^\s*nameserver\s+(\S+)/.exec(line);
      if (m?.[1]) return m[1].includes(":") ? `[${m[1]}]` : m[1];
    }
  } catch {
    // no resolv.conf: fall through
  }
  return "127.0.0.1";
}

/**
 * loadRunnerConfig reads COVE_RUNNER_* variables: ID, NAME, REGION, SERVER_URL, TOKEN,
 * GATEWAY_HOST/GATEWAY_PORT (default 127.0.0.1:3003), GATEWAY_URL, GATEWAY_TOKEN, DATA_DIR
 * (default ~/.cove/runner), KIT_DIR, RUNTIME (default runc), MAX_SANDBOXES (default 100),
 * ARCHIVE_DIR (default <DATA_DIR>/archives), BUILD_NETWORK (default none), the egress network
 * (EGRESS default on as root; NETWORK default cove-sandboxes, BRIDGE default cove-sb0, SUBNET default
 * picked by Docker, NFT_TABLE default cove, DNS_UPSTREAM default the host's first nameserver),
 * DISK_LIMITS (default on as root),
 * and for s3:// archives
 * S3_ENDPOINT, S3_REGION, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, S3_FORCE_PATH_STYLE (default true
 * with an endpoint);
 * and the gateway listener's COVE_HEADERS_TIMEOUT_MS and COVE_IDLE_TIMEOUT_MS.
 */
export function loadRunnerConfig(env: NodeJS.ProcessEnv, repoRoot: string): RunnerConfig {
  const required = (name: string) => {
    const value = env[name];
    if (!value) throw new Error(`${name} must be set`);
    return value;
  };
  const s3Endpoint = env.COVE_RUNNER_S3_ENDPOINT ?? "";
  const s3 =
    s3Endpoint !== "" || env.COVE_RUNNER_S3_REGION
      ? {
          endpoint: s3Endpoint,
          region: env.COVE_RUNNER_S3_REGION ?? "us-east-1",
          accessKeyId: env.COVE_RUNNER_S3_ACCESS_KEY_ID ?? "",
          secretAccessKey: env.COVE_RUNNER_S3_SECRET_ACCESS_KEY ?? "",
          forcePathStyle:
            (env.COVE_RUNNER_S3_FORCE_PATH_STYLE ?? (s3Endpoint ? "true" : "false")) === "true",
        }
      : undefined;
  return {
    runnerId: env.COVE_RUNNER_ID ?? `runner-${os.hostname()}`,
    name: env.COVE_RUNNER_NAME ?? os.hostname(),
    region: env.COVE_RUNNER_REGION ?? "local",
    serverUrl: required("COVE_RUNNER_SERVER_URL"),
    token: required("COVE_RUNNER_TOKEN"),
    gatewayListen: {
      host: env.COVE_RUNNER_GATEWAY_HOST ?? "127.0.0.1",
      port: Number(env.COVE_RUNNER_GATEWAY_PORT ?? 3003),
    },
    gatewayUrl: env.COVE_RUNNER_GATEWAY_URL,
    gatewayToken: required("COVE_RUNNER_GATEWAY_TOKEN"),
    dataDir: env.COVE_RUNNER_DATA_DIR ?? path.join(os.homedir(), ".cove", "runner"),
    kitDir: env.COVE_RUNNER_KIT_DIR ?? path.join(repoRoot, "daemon", "dist", "kit"),
    defaultRuntime: env.COVE_RUNNER_RUNTIME ?? "runc",
    archiveDir: env.COVE_RUNNER_ARCHIVE_DIR,
    s3,
    buildNetwork: env.COVE_RUNNER_BUILD_NETWORK,
    // Both need root (nft, mounts); a runner without it keeps the legacy behaviour.
    egress:
      (env.COVE_RUNNER_EGRESS ?? (isRoot() ? "on" : "off")) === "off"
        ? undefined
        : {
            networkName: env.COVE_RUNNER_NETWORK ?? "cove-sandboxes",
            bridgeName: env.COVE_RUNNER_BRIDGE ?? "cove-sb0",
            subnet: env.COVE_RUNNER_SUBNET || undefined,
            table: env.COVE_RUNNER_NFT_TABLE ?? "cove",
            upstreamDns: env.COVE_RUNNER_DNS_UPSTREAM ?? defaultUpstreamDns(),
          },
    diskLimits: (env.COVE_RUNNER_DISK_LIMITS ?? (isRoot() ? "on" : "off")) !== "off",
    capacity: {
      cpuMillicores: os.availableParallelism() * 1000,
      memoryMib: Math.floor(os.totalmem() / 1024 / 1024),
      diskMib: 0,
      maxSandboxes: Number(env.COVE_RUNNER_MAX_SANDBOXES ?? 100),
    },
    listenTimeouts: listenTimeoutsFromEnv(env),
  };
}
