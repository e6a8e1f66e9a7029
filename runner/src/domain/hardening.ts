// The container a sandbox runs in, as Docker create options: every isolation and resource
// setting lives here, in one pure function, so a unit test can read it line by line and
// `docker inspect` of a real sandbox can be checked against it.
import { invalidArgument, parseImageReference } from "@cove/common";
import type { ContainerCreateOptions, HostConfig } from "dockerode";
import type { SandboxSpec } from "./sandbox-driver.js";

/** Where the daemon kit is mounted inside every sandbox (read-only). */
export const KIT_MOUNT = "/cove";

/** The directory inside the sandbox that holds the daemon's socket (a per-sandbox host dir). */
export const DAEMON_SOCKET_DIR = "/run/cove";

/** The daemon's socket inside the sandbox. */
export const DAEMON_SOCKET = `${DAEMON_SOCKET_DIR}/daemon.sock`;

/** The runner-owned bridge that sandboxes with network "all" join (no inter-container traffic). */
export const EGRESS_NETWORK = "cove-egress";

/** Container labels the runner sets; user labels go under LABEL_PREFIX. */
export const LABELS = {
  /** "true" on every sandbox container this runner manages (the inventory filter). */
  managed: "dev.cove.managed",
  /** The sandbox id. */
  sandboxId: "dev.cove.sandbox-id",
  /** The owning organization. */
  organizationId: "dev.cove.organization-id",
  /** The network policy the sandbox was created with ("none" or "all"). */
  network: "dev.cove.network",
} as const;

/** The prefix of user labels on the container: dev.cove.label.<key>. */
export const LABEL_PREFIX = "dev.cove.label.";

/**
 * The capabilities a sandbox keeps (everything else is dropped). They are what the daemon,
 * running as root in the container, needs to act for the sandbox's user; user code that runs
 * as a non-root user (the default) has none of them in its effective set. Each one is here
 * for a reason the daemon's own code needs:
 */
export const SANDBOX_CAPABILITIES = [
  // chown(2) of files the daemon writes or creates for the default user (WriteFile, MakeDir,
  // code-run scripts, session state) and SetPermissions owner/group changes.
  "CHOWN",
  // Read and write files whatever their mode bits: the filesystem API and root user code act
  // for the sandbox's owner on every path, e.g. a 0600 file or a 0700 directory of the user.
  "DAC_OVERRIDE",
  // chmod(2)/utimes(2) on files root does not own (SetPermissions mode on the user's files),
  // and unlink/rename of another user's files in sticky directories such as /tmp.
  "FOWNER",
  // Send signals to processes of another uid: the daemon kills a command's whole process tree
  // (timeouts, KillProcess, shutdown) although the command runs as the sandbox user.
  "KILL",
  // setgid(2)/setgroups(2) when starting a command or PTY as another user (libuv, setpriv).
  "SETGID",
  // setuid(2) when starting a command or PTY as another user.
  "SETUID",
] as const;

/**
 * What is deliberately NOT kept from Docker's default set, and why it is not needed:
 * NET_BIND_SERVICE (Docker sets net.ipv4.ip_unprivileged_port_start=0 in every non-host
 * network namespace, so anyone may bind port 80), NET_RAW (no raw sockets; ping sockets stay
 * available through net.ipv4.ping_group_range), MKNOD, SETPCAP, SETFCAP, FSETID, AUDIT_WRITE,
 * SYS_CHROOT. Nothing in SYS_* is ever granted.
 */
export const DROPPED_DEFAULT_CAPABILITIES = [
  "NET_BIND_SERVICE",
  "NET_RAW",
  "MKNOD",
  "SETPCAP",
  "SETFCAP",
  "FSETID",
  "AUDIT_WRITE",
  "SYS_CHROOT",
] as const;

/** Linux capability numbers, for checking CapBnd in /proc/<pid>/status. */
const capabilityNumbers: Record<(typeof SANDBOX_CAPABILITIES)[number], number> = {
  CHOWN: 0,
  DAC_OVERRIDE: 1,
  FOWNER: 3,
  KILL: 5,
  SETGID: 6,
  SETUID: 7,
};

/** capabilityMask is the SANDBOX_CAPABILITIES bit set as /proc/<pid>/status prints it (16 hex digits). */
export function capabilityMask(): string {
  let mask = 0n;
  for (const cap of SANDBOX_CAPABILITIES) mask |= 1n << BigInt(capabilityNumbers[cap]);
  return mask.toString(16).padStart(16, "0");
}

/** Per-runner limits and settings that are not part of a sandbox's spec. */
export interface HardeningPolicy {
  /** Most processes and threads in one sandbox (the pids cgroup). */
  pidsLimit: number;
  /**
   * Open files per process (RLIMIT_NOFILE, soft and hard). It must not exceed the container
   * runtime's own hard limit: runc cannot raise it (here containerd has 20 000, and a higher
   * value fails the start with "error setting rlimit type 7").
   */
  nofile: number;
  /** Whether the storage driver enforces `StorageOpt size` (overlay2 only on xfs with pquota). */
  diskQuotaSupported: boolean;
  /** Largest size of one container log file before it rotates, e.g. "1m"; two files are kept. */
  logMaxSize: string;
}

/** The default policy: 512 processes, 16 384 open files, no disk quota, 1 MiB × 2 of logs. */
export const defaultHardeningPolicy: HardeningPolicy = {
  pidsLimit: 512,
  nofile: 16_384,
  diskQuotaSupported: false,
  logMaxSize: "1m",
};

/** Everything about one sandbox that the create options are built from. */
export interface ContainerPlan {
  /** The sandbox spec (validated by buildCreateOptions). */
  spec: SandboxSpec;
  /** The container's name. */
  name: string;
  /** The image id (sha256:…) the container is created from, so a re-tag cannot race us. */
  imageId: string;
  /** The image's own command (its Entrypoint then Cmd), supervised by the daemon; may be empty. */
  imageCommand: string[];
  /** The image's working directory if it is safe to use, else "/" (see safeWorkingDir). */
  workingDir: string;
  /** Absolute host path of the daemon kit (mounted read-only at KIT_MOUNT). */
  kitDir: string;
  /** The kit's argv (kit.json `entrypoint`): cove-init, the loader, Node, the daemon. */
  kitEntrypoint: string[];
  /** Absolute host path of the sandbox's socket directory (mounted at DAEMON_SOCKET_DIR). */
  runDir: string;
  /** The default user for user code ("" = root, the daemon's own user). */
  daemonUser: string;
  /** That user's home: relative paths resolve here. */
  daemonHome: string;
  /** The OCI runtime, or "" for the engine's default. */
  runtime: string;
  /** Limits that come from the runner rather than the spec. */
  policy: HardeningPolicy;
  /** Labels the runner adds to every container (e.g. dev.cove.test=runner); cannot override ours. */
  extraLabels?: Record<string, string>;
}

/** Docker's HostConfig plus the fields @types/dockerode does not list yet. */
export type SandboxHostConfig = HostConfig & {
  /** "private" gives the container its own cgroup namespace (API ≥ 1.41). */
  CgroupnsMode?: string;
};

/** Docker create options with the extended HostConfig. */
export type SandboxCreateOptions = ContainerCreateOptions & {
  /** The hardened host configuration. */
  HostConfig: SandboxHostConfig;
};

const sandboxIdPattern = /^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$/;

/**
 * validateSandboxId accepts a DNS label (lowercase letters, digits, inner dashes, ≤ 63): it
 * becomes a container name, a hostname and a directory name on the host, so nothing else
 * (no "/", "..", upper case or dots) may get through.
 */
export function validateSandboxId(sandboxId: string): void {
  if (!sandboxIdPattern.test(sandboxId)) {
    throw invalidArgument(
      "sandboxId",
      "must be 1–63 lowercase letters, digits or inner dashes (a DNS label)",
    );
  }
}

const envKeyPattern = /^[A-Za-z_][A-Za-z0-9_.-]*$/;

/**
 * validateSpec rejects what must never reach Docker: bad ids, image names outside the
 * reference grammar, env keys, NUL bytes, limits.
 */
export function validateSpec(spec: SandboxSpec): void {
  validateSandboxId(spec.sandboxId);
  // Checked again here (the server checks first): the image becomes part of an engine URL.
  const image = parseImageReference(spec.image);
  if (!image.ok) throw invalidArgument("image", image.error);
  for (const [field, value] of [
    ["cpuMillicores", spec.cpuMillicores],
    ["memoryMib", spec.memoryMib],
    ["diskMib", spec.diskMib],
  ] as const) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw invalidArgument(field, "must be a whole number ≥ 0");
    }
  }
  if (spec.memoryMib !== 0 && spec.memoryMib < 16) {
    throw invalidArgument("memoryMib", "must be at least 16 (or 0 for no limit)");
  }
  for (const [key, value] of Object.entries(spec.env)) {
    if (!envKeyPattern.test(key)) {
      throw invalidArgument(`env.${key}`, "must be a variable name (letters, digits, _ . -)");
    }
    if (key.startsWith("COVE_DAEMON_")) {
      throw invalidArgument(`env.${key}`, "COVE_DAEMON_* variables are reserved for the daemon");
    }
    if (value.includes("\0")) throw invalidArgument(`env.${key}`, "must not contain NUL");
  }
  for (const [key, value] of Object.entries(spec.labels)) {
    if (key === "" || key.includes("\0") || value.includes("\0")) {
      throw invalidArgument(`labels.${key}`, "keys must be non-empty; no NUL in keys or values");
    }
  }
  if (spec.osUser.includes(":") || spec.osUser.includes("\0")) {
    throw invalidArgument("osUser", "must be a user name or numeric uid");
  }
  if (spec.network !== "none" && spec.network !== "all") {
    throw invalidArgument("network", 'must be "none" or "all"');
  }
}

/**
 * safeWorkingDir returns the image's WORKDIR when it is a plain absolute path outside the
 * kernel's pseudo filesystems, else "/". A WORKDIR such as /proc/self/fd/7 is a known way to
 * escape through a leaked host file descriptor (CVE-2024-21626); we never hand one to runc.
 */
export function safeWorkingDir(workingDir: string | undefined): string {
  if (!workingDir) return "/";
  if (!workingDir.startsWith("/") || workingDir.includes("\0")) return "/";
  const parts = workingDir.split("/").filter((p) => p !== "");
  if (parts.some((p) => p === "." || p === "..")) return "/";
  if (["proc", "sys", "dev"].includes(parts[0] ?? "")) return "/";
  return `/${parts.join("/")}`;
}

/**
 * buildCreateOptions turns a plan into Docker create options with every hardening setting:
 *
 * - Isolation: all capabilities dropped but SANDBOX_CAPABILITIES; no-new-privileges; Docker's
 *   default seccomp profile and masked/read-only /proc paths (left at their defaults, never
 *   "unconfined"); not privileged; private PID, IPC, UTS and cgroup namespaces; no devices;
 *   the image's HEALTHCHECK disabled (it would run as root with the container's capabilities).
 * - Network: "none" (only loopback) unless spec.network is "all", then EGRESS_NETWORK.
 * - Resources: NanoCpus from millicores; Memory = MemorySwap (no swap); the pids cgroup;
 *   RLIMIT_NOFILE; RLIMIT_CORE 0 (no core files on the host's disk); `StorageOpt size` only when
 *   the storage driver enforces it; container logs rotated at policy.logMaxSize × 2.
 * - Mounts: the kit read-only at /cove, the per-sandbox socket directory at /run/cove. No
 *   Docker socket, no other host path. The root filesystem stays writable (it is the
 *   sandbox's disk and survives stop/start); /tmp is not a tmpfs for the same reason.
 * - Process: cove-init is PID 1 (Init false) as root (User 0:0, so an image's USER cannot stop
 *   the daemon from switching users); the image's own command follows the kit's argv; the
 *   daemon's settings are COVE_DAEMON_* variables that user env may not override.
 */
export function buildCreateOptions(plan: ContainerPlan): SandboxCreateOptions {
  const { spec, policy } = plan;
  validateSpec(spec);
  if (plan.kitEntrypoint.length === 0) throw new Error("the kit's entrypoint is empty");
  if (!plan.kitDir.startsWith("/") || !plan.runDir.startsWith("/")) {
    throw new Error("kitDir and runDir must be absolute host paths");
  }

  const labels: Record<string, string> = { ...plan.extraLabels };
  for (const [key, value] of Object.entries(spec.labels)) labels[`${LABEL_PREFIX}${key}`] = value;
  labels[LABELS.managed] = "true";
  labels[LABELS.sandboxId] = spec.sandboxId;
  labels[LABELS.organizationId] = spec.organizationId;
  labels[LABELS.network] = spec.network;

  const env = Object.entries(spec.env).map(([key, value]) => `${key}=${value}`);
  // Set last and always, so neither the image's ENV nor the user can steer the daemon.
  env.push(
    `COVE_DAEMON_SOCKET=${DAEMON_SOCKET}`,
    `COVE_DAEMON_USER=${plan.daemonUser}`,
    `COVE_DAEMON_HOME=${plan.daemonHome}`,
    "COVE_DAEMON_SANDBOX_ENV=parent",
  );

  const memoryBytes = spec.memoryMib * 1024 * 1024;
  const hostConfig: SandboxHostConfig = {
    NetworkMode: spec.network === "all" ? EGRESS_NETWORK : "none",
    CapDrop: ["ALL"],
    CapAdd: [...SANDBOX_CAPABILITIES],
    SecurityOpt: ["no-new-privileges:true"],
    Privileged: false,
    ReadonlyRootfs: false,
    Init: false,
    IpcMode: "private",
    PidMode: "",
    UTSMode: "",
    UsernsMode: "",
    CgroupnsMode: "private",
    Devices: [],
    PublishAllPorts: false,
    RestartPolicy: { Name: "no", MaximumRetryCount: 0 },
    AutoRemove: false,
    NanoCpus: spec.cpuMillicores * 1_000_000,
    Memory: memoryBytes,
    MemorySwap: memoryBytes,
    PidsLimit: policy.pidsLimit,
    Ulimits: [
      { Name: "nofile", Soft: policy.nofile, Hard: policy.nofile },
      { Name: "core", Soft: 0, Hard: 0 },
    ],
    Mounts: [
      {
        Type: "bind",
        Source: plan.kitDir,
        Target: KIT_MOUNT,
        ReadOnly: true,
        BindOptions: { Propagation: "rprivate" },
      },
      {
        Type: "bind",
        Source: plan.runDir,
        Target: DAEMON_SOCKET_DIR,
        ReadOnly: false,
        BindOptions: { Propagation: "rprivate" },
      },
    ],
    LogConfig: { Type: "json-file", Config: { "max-size": policy.logMaxSize, "max-file": "2" } },
  };
  if (policy.diskQuotaSupported && spec.diskMib > 0) {
    hostConfig.StorageOpt = { size: `${spec.diskMib}M` };
  }
  if (plan.runtime !== "") hostConfig.Runtime = plan.runtime;

  return {
    name: plan.name,
    Image: plan.imageId,
    Hostname: spec.sandboxId,
    User: "0:0",
    WorkingDir: plan.workingDir,
    Entrypoint: [...plan.kitEntrypoint],
    Cmd: [...plan.imageCommand],
    Env: env,
    Labels: labels,
    Tty: false,
    OpenStdin: false,
    AttachStdin: false,
    AttachStdout: false,
    AttachStderr: false,
    StopSignal: "SIGTERM",
    Healthcheck: { Test: ["NONE"] },
    HostConfig: hostConfig,
  };
}
