// The Docker SandboxDriver: one hardened container per sandbox (see hardening.ts), the daemon
// kit mounted into it, and its daemon's socket in a per-sandbox host directory. Every method
// is idempotent by sandbox id, which is also the container's name.
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  failedPrecondition,
  invalidArgument,
  type Logger,
  notFound,
  resourceExhausted,
} from "@cove/common";
import type Dockerode from "dockerode";
import type { ContainerHooks } from "./container-hooks.js";
import { waitForDaemon } from "./daemon-health.js";
import { imageUrlName, refuseRedirects } from "./docker-client.js";
import {
  buildCreateOptions,
  defaultHardeningPolicy,
  EGRESS_NETWORK,
  type HardeningPolicy,
  LABELS,
  safeWorkingDir,
  validateSandboxId,
  validateSpec,
} from "./hardening.js";
import type {
  ObservedState,
  SandboxDriver,
  SandboxObservation,
  SandboxSpec,
} from "./sandbox-driver.js";

/** What a DockerDriver is built from. */
export interface DockerDriverOptions {
  /** The Docker engine client (the driver makes it refuse redirects, see docker-client.ts). */
  docker: Dockerode;
  /** The built daemon kit on the host (daemon/dist/kit), mounted read-only at /cove. */
  kitDir: string;
  /** The kit's container argv (kit.json `entrypoint`). */
  kitEntrypoint: string[];
  /** The runner's data directory; sandbox dirs live in <dataDir>/sandboxes/<id>. */
  dataDir: string;
  /** The OCI runtime for sandboxes that name none ("" = the engine's default). */
  defaultRuntime: string;
  /** Where the driver logs. */
  logger: Logger;
  /** Processes and threads per sandbox. Default 512. */
  pidsLimit?: number;
  /** RLIMIT_NOFILE per process, at most the container runtime's own limit. Default 16 384. */
  nofile?: number;
  /** How long start waits for the daemon's first SERVING answer, in ms. Default 30 000. */
  startTimeoutMs?: number;
  /** Container log rotation size, e.g. "1m" (two files are kept). */
  logMaxSize?: string;
  /**
   * Labels added to every container the driver creates (tests use dev.cove.test=runner). list()
   * returns only containers that carry all of them, so runners sharing one Docker engine with
   * different extra labels never report (and so never get told to reap) each other's containers.
   */
  extraLabels?: Record<string, string>;
  /** Extra bind mounts of a sandbox being created (its volumes), after the kit's and the socket's. */
  extraMounts?: (spec: SandboxSpec) => Promise<Dockerode.MountSettings[]>;
  /** Steps run around each container's life (network policy, disk limit), in order. */
  hooks?: ContainerHooks[];
}

/** A user account from an image's /etc/passwd. */
interface PasswdEntry {
  name: string;
  uid: string;
  home: string;
}

/** What the driver needs to know about an image, cached by image id. */
interface ImageProfile {
  /** The image's own command: Entrypoint then Cmd. */
  command: string[];
  /** Config.User (USER in the Dockerfile), or "". */
  user: string;
  /** WORKDIR, sanitized. */
  workingDir: string;
  /** Accounts from /etc/passwd (empty when the image has none). */
  passwd: PasswdEntry[];
}

/** The subset of a container's inspect data the driver reads. */
type ContainerInfo = Dockerode.ContainerInspectInfo;

/** Docker API errors carry the HTTP status. */
function statusCode(err: unknown): number | undefined {
  const code = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === "number" ? code : undefined;
}

/** dockerMessage is the engine's own message of a failed API call. */
function dockerMessage(err: unknown): string {
  const json = (err as { json?: { message?: unknown } } | null)?.json;
  if (json && typeof json.message === "string") return json.message;
  return err instanceof Error ? err.message : String(err);
}

/** The classification of a container's state, before log lines are added. */
export interface ContainerVerdict {
  /** The observed state. */
  state: ObservedState;
  /** An ErrorReason name, or "". */
  errorReason: string;
  /** What happened, for a person ("" when nothing is wrong). */
  errorMessage: string;
  /** Whether the container's last log lines would explain the verdict. */
  wantsLogs: boolean;
}

/**
 * classifyContainer maps Docker's state of a sandbox container to an ObservedState and a
 * reason. stoppedByRunner says the runner asked for the last stop, so an exit then is normal
 * whatever its code; any other exit is unexpected: OOMKilled → OUT_OF_MEMORY (error), another
 * non-zero code → SANDBOX_EXITED (error), code 0 → stopped with SANDBOX_EXITED. A failed start
 * (state "created" with an error) is SANDBOX_START_FAILED; "dead" is an error.
 */
export function classifyContainer(
  state: ContainerInfo["State"],
  memoryBytes: number,
  stoppedByRunner: boolean,
): ContainerVerdict {
  const ok = (s: ObservedState): ContainerVerdict => ({
    state: s,
    errorReason: "",
    errorMessage: "",
    wantsLogs: false,
  });
  switch (state.Status) {
    case "running":
    case "restarting":
    case "paused":
      return ok("started");
    case "created":
      if (state.Error) {
        return {
          state: "error",
          errorReason: "SANDBOX_START_FAILED",
          errorMessage: `the sandbox's container could not start: ${state.Error}`,
          wantsLogs: false,
        };
      }
      return ok("created");
    case "dead":
      return {
        state: "error",
        errorReason: "SANDBOX_EXITED",
        errorMessage: `the sandbox's container is dead (exit code ${state.ExitCode})${state.Error ? `: ${state.Error}` : ""}`,
        wantsLogs: false,
      };
    default: {
      // "exited", and "removing" on its way out.
      if (stoppedByRunner) return ok("stopped");
      if (state.OOMKilled) {
        const limit = memoryBytes > 0 ? ` of ${Math.round(memoryBytes / 1024 / 1024)} MiB` : "";
        return {
          state: "error",
          errorReason: "OUT_OF_MEMORY",
          errorMessage: `the sandbox was stopped by the kernel's OOM killer: it exceeded its memory limit${limit} (exit code ${state.ExitCode})`,
          wantsLogs: false,
        };
      }
      if (state.ExitCode === 0) {
        return {
          state: "stopped",
          errorReason: "SANDBOX_EXITED",
          errorMessage: "the sandbox's daemon exited with code 0 although nobody asked it to stop",
          wantsLogs: true,
        };
      }
      return {
        state: "error",
        errorReason: "SANDBOX_EXITED",
        errorMessage: `the sandbox's daemon exited unexpectedly with code ${state.ExitCode}`,
        wantsLogs: true,
      };
    }
  }
}

/** demuxLogs turns Docker's multiplexed log stream (8-byte frame headers) into text. */
export function demuxLogs(buffer: Buffer): string {
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= buffer.length) {
    const kind = buffer[offset];
    const size = buffer.readUInt32BE(offset + 4);
    if (kind === undefined || kind > 2) return buffer.toString("utf8"); // not multiplexed (TTY)
    parts.push(buffer.subarray(offset + 8, offset + 8 + size));
    offset += 8 + size;
  }
  return Buffer.concat(parts).toString("utf8");
}

/** parsePasswd reads name, uid and home from /etc/passwd text. */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split("\n")) {
    const [name, , uid, , , home] = line.split(":");
    if (!name || uid === undefined || !/^\d+$/.test(uid)) continue;
    out.push({ name, uid, home: home || "/" });
  }
  return out;
}

/** firstTarFile returns the content of the first regular file in a tar archive, or undefined. */
export function firstTarFile(tar: Buffer): Buffer | undefined {
  let offset = 0;
  while (offset + 512 <= tar.length) {
    const header = tar.subarray(offset, offset + 512);
    if (header.every((b) => b === 0)) return undefined;
    const size = Number.parseInt(header.subarray(124, 136).toString("latin1").trim() || "0", 8);
    const type = String.fromCharCode(header[156] ?? 0);
    const start = offset + 512;
    if (!Number.isFinite(size) || size < 0) return undefined;
    if (type === "0" || type === "\0") return tar.subarray(start, start + size);
    offset = start + Math.ceil(size / 512) * 512;
  }
  return undefined;
}

/** The name and home the daemon gets as its default user. */
export interface DaemonUser {
  /** COVE_DAEMON_USER: a name or uid, "" for root (the daemon's own user). */
  user: string;
  /** COVE_DAEMON_HOME. */
  home: string;
}

/**
 * resolveDaemonUser picks the default user for user code: the spec's osUser; else the image's
 * USER; else `cove` when the image has that account; else root. A named user that the image's
 * /etc/passwd lacks is INVALID_ARGUMENT (numeric uids are taken as they are).
 */
export function resolveDaemonUser(
  osUser: string,
  imageUser: string,
  passwd: PasswdEntry[],
): DaemonUser {
  const root = (): DaemonUser => ({
    user: "",
    // An image with no /etc/passwd (FROM scratch) may have no /root either.
    home: passwd.find((e) => e.uid === "0")?.home ?? (passwd.length === 0 ? "/" : "/root"),
  });
  const wanted = osUser || imageUser.split(":")[0] || "";
  if (wanted === "") {
    const cove = passwd.find((e) => e.name === "cove");
    return cove ? { user: cove.name, home: cove.home } : root();
  }
  if (wanted === "root" || wanted === "0") return root();
  const entry = passwd.find((e) => e.name === wanted || e.uid === wanted);
  if (entry) return { user: entry.name, home: entry.home };
  if (/^\d+$/.test(wanted)) return { user: wanted, home: "/" };
  throw invalidArgument("osUser", `the image has no user "${wanted}" in /etc/passwd`);
}

/** The longest error message built from container logs, in characters. */
const maxLogChars = 2_000;

/**
 * DockerDriver runs each sandbox as a hardened Docker container named by its sandbox id and
 * labelled dev.cove.managed=true, dev.cove.sandbox-id, dev.cove.organization-id and
 * dev.cove.label.<key>. A container of that name without the managed label is never touched.
 * The runner's own state per sandbox is <dataDir>/sandboxes/<id>: `run/` (bind-mounted at
 * /run/cove, holds daemon.sock) and `stopped` (present while the last stop was the runner's).
 */
export class DockerDriver implements SandboxDriver {
  private readonly docker: Dockerode;
  private readonly kitDir: string;
  private readonly kitEntrypoint: string[];
  private readonly dataDir: string;
  private readonly defaultRuntime: string;
  private readonly logger: Logger;
  private readonly startTimeoutMs: number;
  private readonly extraLabels: Record<string, string>;
  private readonly extraMounts: DockerDriverOptions["extraMounts"];
  private readonly hooks: ContainerHooks[];
  private policy: HardeningPolicy;
  private readonly locks = new Map<string, Promise<unknown>>();
  private readonly profiles = new Map<string, Promise<ImageProfile>>();
  private runtimeList: Promise<string[]> | undefined;
  private diskQuota: Promise<boolean> | undefined;
  private egress: Promise<void> | undefined;

  constructor(options: DockerDriverOptions) {
    this.docker = refuseRedirects(options.docker);
    this.kitDir = fs.realpathSync(options.kitDir);
    if (options.kitEntrypoint.length === 0) throw new Error("the kit's entrypoint is empty");
    this.kitEntrypoint = [...options.kitEntrypoint];
    this.dataDir = path.resolve(options.dataDir);
    this.defaultRuntime = options.defaultRuntime;
    this.logger = options.logger.child({ component: "docker-driver" });
    this.startTimeoutMs = options.startTimeoutMs ?? 30_000;
    this.extraLabels = { ...options.extraLabels };
    this.extraMounts = options.extraMounts;
    this.hooks = [...(options.hooks ?? [])];
    this.policy = {
      ...defaultHardeningPolicy,
      pidsLimit: options.pidsLimit ?? defaultHardeningPolicy.pidsLimit,
      nofile: options.nofile ?? defaultHardeningPolicy.nofile,
      logMaxSize: options.logMaxSize ?? defaultHardeningPolicy.logMaxSize,
    };
  }

  /** containerName is the sandbox's container name: the sandbox id itself (see runner.proto). */
  containerName(sandboxId: string): string {
    validateSandboxId(sandboxId);
    return sandboxId;
  }

  /** sandboxDir is the runner's directory for one sandbox on the host. */
  sandboxDir(sandboxId: string): string {
    validateSandboxId(sandboxId);
    return path.join(this.dataDir, "sandboxes", sandboxId);
  }

  socketPath(sandboxId: string): string {
    return path.join(this.sandboxDir(sandboxId), "run", "daemon.sock");
  }

  async create(spec: SandboxSpec): Promise<SandboxObservation> {
    validateSpec(spec);
    const id = spec.sandboxId;
    return this.serialize(id, async () => {
      const begin = performance.now();
      const existing = await this.inspectContainer(id);
      if (existing) {
        this.ensureManaged(existing);
        for (const hook of this.hooks) await hook.created?.(spec, existing);
        return this.observe(id, existing);
      }
      const runtime = spec.runtime || this.defaultRuntime;
      if (runtime !== "" && !(await this.runtimes()).includes(runtime)) {
        throw failedPrecondition(
          "RUNTIME_UNAVAILABLE",
          `the OCI runtime "${runtime}" is not available on this runner`,
          { runtimeClass: runtime },
        );
      }
      const image = await this.inspectImage(spec.image);
      const profile = await this.imageProfile(image);
      const daemonUser = resolveDaemonUser(spec.osUser, profile.user, profile.passwd);
      if (spec.network === "all") await this.ensureEgressNetwork();

      const dir = this.sandboxDir(id);
      const runDir = path.join(dir, "run");
      fs.mkdirSync(path.join(this.dataDir, "sandboxes"), { recursive: true, mode: 0o700 });
      fs.mkdirSync(runDir, { recursive: true, mode: 0o700 });
      fs.rmSync(path.join(dir, "stopped"), { force: true });

      const diskQuota = spec.diskMib > 0 && (await this.diskQuotaSupported());
      const plan = {
        spec,
        name: this.containerName(id),
        imageId: image.Id,
        imageCommand: profile.command,
        workingDir: profile.workingDir,
        kitDir: this.kitDir,
        kitEntrypoint: this.kitEntrypoint,
        runDir,
        daemonUser: daemonUser.user,
        daemonHome: daemonUser.home,
        runtime,
        policy: { ...this.policy, diskQuotaSupported: diskQuota },
        extraLabels: this.extraLabels,
      };
      const mounts = this.extraMounts ? await this.extraMounts(spec) : [];
      const withMounts = (options: ReturnType<typeof buildCreateOptions>) => {
        options.HostConfig.Mounts = [...(options.HostConfig.Mounts ?? []), ...mounts];
        for (const hook of this.hooks) hook.createOptions?.(spec, options);
        return options;
      };
      try {
        await this.createContainer(withMounts(buildCreateOptions(plan)));
      } catch (err) {
        if (statusCode(err) === 409) {
          // Someone (a retried command on another connection) created it meanwhile.
          const raced = await this.inspectContainer(id);
          if (raced) {
            this.ensureManaged(raced);
            return this.observe(id, raced);
          }
        }
        if (diskQuota && /storage-?opt/i.test(dockerMessage(err))) {
          this.logger.warn("the storage driver refused a disk quota; creating without one", {
            sandboxId: id,
            err: dockerMessage(err),
          });
          this.diskQuota = Promise.resolve(false);
          const retry = { ...plan, policy: { ...plan.policy, diskQuotaSupported: false } };
          await this.createContainer(withMounts(buildCreateOptions(retry)));
        } else {
          throw err;
        }
      }
      const info = await this.inspectContainer(id);
      if (!info) throw failedPrecondition("SANDBOX_START_FAILED", "the container vanished");
      try {
        for (const hook of this.hooks) await hook.created?.(spec, info);
      } catch (err) {
        await this.docker
          .getContainer(this.containerName(id))
          .remove({ force: true, v: true })
          .catch(() => {});
        for (const hook of this.hooks) await hook.removed?.(id).catch(() => {});
        throw err;
      }
      this.logger.info("sandbox created", {
        sandboxId: id,
        image: spec.image,
        user: daemonUser.user || "root",
        network: spec.network,
        runtime: runtime || "default",
        ms: Math.round(performance.now() - begin),
      });
      return this.observe(id, info);
    });
  }

  async start(sandboxId: string): Promise<SandboxObservation> {
    const name = this.containerName(sandboxId);
    const begin = performance.now();
    const memoryBytes = await this.serialize(sandboxId, async () => {
      const info = await this.inspectContainer(sandboxId);
      if (!info) {
        throw notFound(
          "SANDBOX_NOT_FOUND",
          `sandbox ${sandboxId} has no container on this runner`,
          {
            sandboxId,
          },
        );
      }
      this.ensureManaged(info);
      if (info.State.Running) return info.HostConfig.Memory ?? 0;
      fs.rmSync(path.join(this.sandboxDir(sandboxId), "stopped"), { force: true });
      // A socket left by the last run would answer nothing; the daemon makes a new one.
      const socket = this.socketPath(sandboxId);
      if (fs.existsSync(path.dirname(socket))) fs.rmSync(socket, { force: true });
      else fs.mkdirSync(path.dirname(socket), { recursive: true, mode: 0o700 });
      for (const hook of this.hooks) await hook.starting?.(sandboxId, info);
      try {
        await this.docker.getContainer(name).start();
      } catch (err) {
        if (statusCode(err) !== 304) {
          throw failedPrecondition(
            "SANDBOX_START_FAILED",
            `the sandbox's container could not start: ${dockerMessage(err)}`,
            { sandboxId },
          );
        }
      }
      return info.HostConfig.Memory ?? 0;
    });
    // Outside the lock: a destroy may end a start that hangs.
    const ready = await waitForDaemon({
      sandboxId,
      socketPath: this.socketPath(sandboxId),
      timeoutMs: this.startTimeoutMs,
      checkContainer: () => this.ensureRunning(sandboxId, memoryBytes),
    });
    this.logger.info("sandbox started", {
      sandboxId,
      ms: Math.round(performance.now() - begin),
      healthMs: Math.round(ready.elapsedMs),
      attempts: ready.attempts,
    });
    return this.inspect(sandboxId);
  }

  async stop(sandboxId: string, graceMs: number): Promise<SandboxObservation> {
    const name = this.containerName(sandboxId);
    return this.serialize(sandboxId, async () => {
      const info = await this.inspectContainer(sandboxId);
      if (!info) return this.missing(sandboxId);
      this.ensureManaged(info);
      // Written first: an exit from here on is the runner's doing, not the sandbox's failure.
      const dir = this.sandboxDir(sandboxId);
      fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
      fs.writeFileSync(path.join(dir, "stopped"), `${new Date().toISOString()}\n`);
      if (info.State.Running) {
        const begin = performance.now();
        try {
          await this.docker
            .getContainer(name)
            .stop({ t: Math.max(0, Math.ceil(Math.max(0, graceMs) / 1000)) });
        } catch (err) {
          if (statusCode(err) !== 304 && statusCode(err) !== 404) throw err;
        }
        this.logger.info("sandbox stopped", {
          sandboxId,
          ms: Math.round(performance.now() - begin),
        });
      }
      return this.inspect(sandboxId);
    });
  }

  async destroy(sandboxId: string): Promise<SandboxObservation> {
    const name = this.containerName(sandboxId);
    return this.serialize(sandboxId, async () => {
      const info = await this.inspectContainer(sandboxId);
      if (info) {
        this.ensureManaged(info);
        try {
          await this.docker.getContainer(name).remove({ force: true, v: true });
        } catch (err) {
          // 404: gone meanwhile; 409: removal already in progress.
          if (statusCode(err) !== 404 && statusCode(err) !== 409) throw err;
        }
        this.logger.info("sandbox destroyed", { sandboxId });
      }
      for (const hook of this.hooks) await hook.removed?.(sandboxId);
      // rm does not follow symlinks the sandbox may have left in run/.
      fs.rmSync(this.sandboxDir(sandboxId), { recursive: true, force: true });
      return this.missing(sandboxId);
    });
  }

  async inspect(sandboxId: string): Promise<SandboxObservation> {
    const info = await this.inspectContainer(sandboxId);
    if (!info) return this.missing(sandboxId);
    this.ensureManaged(info);
    return this.observe(sandboxId, info);
  }

  async list(): Promise<SandboxObservation[]> {
    const containers = await this.docker.listContainers({
      all: true,
      filters: {
        label: [
          `${LABELS.managed}=true`,
          ...Object.entries(this.extraLabels).map(([key, value]) => `${key}=${value}`),
        ],
      },
    });
    const ids = containers
      .map((c) => c.Labels?.[LABELS.sandboxId] ?? "")
      .filter((id) => /^[a-z0-9-]+$/.test(id));
    const observed = await Promise.all(
      ids.map(async (id) => {
        const info = await this.inspectContainer(id);
        return info && info.Config.Labels?.[LABELS.managed] === "true"
          ? this.observe(id, info)
          : undefined;
      }),
    );
    return observed.filter((o): o is SandboxObservation => o !== undefined);
  }

  async runtimes(): Promise<string[]> {
    this.runtimeList ??= this.docker
      .info()
      .then((info: { Runtimes?: Record<string, unknown>; DefaultRuntime?: string }) => {
        const names = Object.keys(info.Runtimes ?? {}).filter(
          (n) => !n.startsWith("io.containerd."),
        );
        const first = this.defaultRuntime || info.DefaultRuntime || "runc";
        return [first, ...names.filter((n) => n !== first)].filter((n) => names.includes(n));
      });
    try {
      return await this.runtimeList;
    } catch (err) {
      this.runtimeList = undefined;
      throw err;
    }
  }

  /**
   * diskQuotaSupported says whether `StorageOpt size` can be enforced: overlay2 only on xfs
   * (with pquota, which a failed create reveals), btrfs and zfs; never vfs or overlay2 on
   * ext4. Decided once per driver.
   */
  async diskQuotaSupported(): Promise<boolean> {
    this.diskQuota ??= this.docker
      .info()
      .then((info: { Driver?: string; DriverStatus?: [string, string][] }) => {
        const backing = info.DriverStatus?.find(([k]) => k === "Backing Filesystem")?.[1] ?? "";
        const supported =
          info.Driver === "overlay2"
            ? backing === "xfs"
            : ["btrfs", "zfs", "devicemapper"].includes(info.Driver ?? "");
        if (!supported) {
          this.logger.warn("disk quotas are not enforced: the storage driver cannot", {
            driver: info.Driver,
            backingFilesystem: backing,
          });
        }
        return supported;
      });
    return this.diskQuota;
  }

  /** serialize runs fn after every earlier call for the same sandbox has settled. */
  private async serialize<T>(sandboxId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(sandboxId) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.catch(() => {});
    this.locks.set(sandboxId, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(sandboxId) === tail) this.locks.delete(sandboxId);
    }
  }

  private async inspectContainer(sandboxId: string): Promise<ContainerInfo | undefined> {
    try {
      return await this.docker.getContainer(this.containerName(sandboxId)).inspect();
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw err;
    }
  }

  private ensureManaged(info: ContainerInfo): void {
    if (info.Config.Labels?.[LABELS.managed] !== "true") {
      throw failedPrecondition(
        "SANDBOX_STATE_CONFLICT",
        `a container named ${info.Name.replace(/^\//, "")} exists but Cove does not manage it`,
        { sandboxId: info.Name.replace(/^\//, "") },
      );
    }
  }

  private async createContainer(options: Dockerode.ContainerCreateOptions): Promise<void> {
    await this.docker.createContainer(options);
  }

  private async inspectImage(image: string): Promise<Dockerode.ImageInspectInfo> {
    let info: Dockerode.ImageInspectInfo;
    try {
      // Escaped and spelled out: the name is one URL path segment, never an image id prefix.
      info = await this.docker.getImage(imageUrlName(image)).inspect();
    } catch (err) {
      if (statusCode(err) === 404) {
        throw notFound("IMAGE_NOT_FOUND", `the image ${image} is not on this runner`, { image });
      }
      throw err;
    }
    if (info.Os !== "linux" || info.Architecture !== "amd64") {
      throw failedPrecondition(
        "IMAGE_UNSUPPORTED",
        `the image ${image} is ${info.Os}/${info.Architecture}; sandboxes need linux/amd64`,
        { image, platform: `${info.Os}/${info.Architecture}` },
      );
    }
    return info;
  }

  /** imageProfile reads the image's command, USER, WORKDIR and /etc/passwd, once per image id. */
  private imageProfile(image: Dockerode.ImageInspectInfo): Promise<ImageProfile> {
    let profile = this.profiles.get(image.Id);
    if (!profile) {
      profile = this.readImageProfile(image);
      this.profiles.set(image.Id, profile);
      profile.catch(() => this.profiles.delete(image.Id));
    }
    return profile;
  }

  private async readImageProfile(image: Dockerode.ImageInspectInfo): Promise<ImageProfile> {
    const config = image.Config;
    const entrypoint = config.Entrypoint;
    const command = [
      ...(typeof entrypoint === "string" ? [entrypoint] : (entrypoint ?? [])),
      ...(config.Cmd ?? []),
    ];
    return {
      command,
      user: config.User ?? "",
      workingDir: safeWorkingDir(config.WorkingDir),
      passwd: parsePasswd(await this.readImageFile(image.Id, "/etc/passwd")),
    };
  }

  /**
   * readImageFile copies one small file out of an image through a container that is created
   * and removed but never started (no network, labelled dev.cove.managed=probe). "" if absent.
   */
  private async readImageFile(imageId: string, file: string): Promise<string> {
    const probe = await this.docker.createContainer({
      name: `cove-probe-${randomBytes(6).toString("hex")}`,
      Image: imageId,
      Entrypoint: ["/nonexistent"],
      Cmd: [],
      Labels: { ...this.extraLabels, [LABELS.managed]: "probe" },
      HostConfig: { NetworkMode: "none" },
    });
    try {
      const stream = await probe.getArchive({ path: file });
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        size += chunk.length;
        if (size > 1024 * 1024) break; // a passwd file is never this large
        chunks.push(chunk);
      }
      return firstTarFile(Buffer.concat(chunks))?.toString("utf8") ?? "";
    } catch (err) {
      if (statusCode(err) === 404) return "";
      throw err;
    } finally {
      await probe.remove({ force: true, v: true }).catch(() => {});
    }
  }

  /**
   * ensureEgressNetwork creates the runner-owned bridge for network "all" unless it exists:
   * `enable_icc=false` makes Docker drop traffic between containers on it, so sandboxes with
   * egress still cannot reach each other. A same-named network that allows ICC is refused.
   */
  private ensureEgressNetwork(): Promise<void> {
    // Only the in-flight check is shared: the network may be removed later, so every create
    // with network "all" looks again (one inspect, ~2 ms).
    if (!this.egress) {
      const pending: Promise<void> = this.createEgressNetwork().finally(() => {
        if (this.egress === pending) this.egress = undefined;
      });
      this.egress = pending;
    }
    return this.egress;
  }

  private async createEgressNetwork(): Promise<void> {
    const icc = "com.docker.network.bridge.enable_icc";
    const check = (net: Dockerode.NetworkInspectInfo) => {
      if (net.Options?.[icc] !== "false") {
        throw new Error(`the network ${EGRESS_NETWORK} exists but allows inter-container traffic`);
      }
    };
    try {
      check(await this.docker.getNetwork(EGRESS_NETWORK).inspect());
      return;
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
    }
    try {
      await this.docker.createNetwork({
        Name: EGRESS_NETWORK,
        Driver: "bridge",
        CheckDuplicate: true,
        Internal: false,
        EnableIPv6: false,
        Options: { [icc]: "false", "com.docker.network.bridge.enable_ip_masquerade": "true" },
        Labels: { [LABELS.managed]: "network" },
      });
      this.logger.info("created the egress network", { network: EGRESS_NETWORK });
    } catch (err) {
      if (statusCode(err) !== 409) throw err;
      check(await this.docker.getNetwork(EGRESS_NETWORK).inspect());
    }
  }

  /** ensureRunning throws the reason the container is not running (waitForDaemon's check). */
  private async ensureRunning(sandboxId: string, memoryBytes: number): Promise<void> {
    const info = await this.inspectContainer(sandboxId);
    if (!info) {
      throw failedPrecondition(
        "SANDBOX_START_FAILED",
        `sandbox ${sandboxId} was removed while it started`,
        { sandboxId },
      );
    }
    if (info.State.Running) return;
    const exitCode = String(info.State.ExitCode);
    if (info.State.OOMKilled) {
      throw resourceExhausted(
        "OUT_OF_MEMORY",
        `the sandbox ran out of memory while starting (limit ${Math.round(memoryBytes / 1024 / 1024)} MiB, exit code ${exitCode})`,
        { sandboxId, memoryMib: String(Math.round(memoryBytes / 1024 / 1024)), exitCode },
      );
    }
    const logs = await this.logTail(sandboxId);
    const reason = info.State.Error ? `: ${info.State.Error}` : "";
    throw failedPrecondition(
      "SANDBOX_START_FAILED",
      `the sandbox exited with code ${exitCode} before its daemon answered${reason}${logs ? `; last log lines:\n${logs}` : ""}`,
      { sandboxId, exitCode },
    );
  }

  /** logTail returns the container's last log lines, trimmed to a bounded, printable size. */
  private async logTail(sandboxId: string, lines = 10): Promise<string> {
    try {
      const raw = (await this.docker
        .getContainer(this.containerName(sandboxId))
        .logs({ stdout: true, stderr: true, tail: lines, follow: false })) as unknown as Buffer;
      const text = demuxLogs(Buffer.isBuffer(raw) ? raw : Buffer.from(String(raw)));
      // biome-ignore lint/suspicious/noControlCharactersInRegex: log tails lose control characters.
      const clean = text.replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, "").trimEnd();
      return clean.length > maxLogChars ? `…${clean.slice(-maxLogChars)}` : clean;
    } catch {
      return "";
    }
  }

  private async observe(sandboxId: string, info: ContainerInfo): Promise<SandboxObservation> {
    const stoppedByRunner = fs.existsSync(path.join(this.sandboxDir(sandboxId), "stopped"));
    const verdict = classifyContainer(info.State, info.HostConfig.Memory ?? 0, stoppedByRunner);
    let message = verdict.errorMessage;
    if (verdict.wantsLogs) {
      const logs = await this.logTail(sandboxId, 5);
      if (logs) message = `${message}; last log lines:\n${logs}`;
    }
    return {
      sandboxId,
      state: verdict.state,
      errorReason: verdict.errorReason,
      errorMessage: message,
      imageDigest: info.Image,
      daemonSocketPath: this.socketPath(sandboxId),
    };
  }

  private missing(sandboxId: string): SandboxObservation {
    return {
      sandboxId,
      state: "missing",
      errorReason: "",
      errorMessage: "",
      imageDigest: "",
      daemonSocketPath: this.socketPath(sandboxId),
    };
  }
}
