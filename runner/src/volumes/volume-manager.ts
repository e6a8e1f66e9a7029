// Volumes with the local driver: one directory per volume under <dataDir>/volumes/<id>/data,
// bind-mounted into sandboxes. The volume root's path is the runner's own, so it is mounted
// directly. A sub_path lies inside sandbox-writable data, where a sandbox could plant a symlink
// (even between a check and the engine's mount), so it is never handed to the engine as a path:
// at each start the runner walks it one component at a time with O_NOFOLLOW (through
// /proc/self/fd, i.e. openat), refusing any symlink, and bind-mounts the directory it holds
// open onto a runner-owned staging directory, which is what the container mounts; the staging
// mount is removed once the container runs (the container keeps its copy).
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { failedPrecondition, invalidArgument, type Logger } from "@cove/common";
import type Dockerode from "dockerode";
import { DAEMON_SOCKET_DIR, KIT_MOUNT, validateSandboxId } from "../domain/hardening.js";
import type { SandboxSpec, VolumeMountSpec } from "../domain/sandbox-driver.js";

/** A bind mount for the engine (HostConfig.Mounts entry). */
export interface BindMount {
  /** "bind". */
  Type: "bind";
  /** Host path. */
  Source: string;
  /** Path in the container. */
  Target: string;
  /** Mounted read-only. */
  ReadOnly: boolean;
  /** Propagation: always rprivate. */
  BindOptions: { Propagation: "rprivate" };
}

/** What a VolumeManager is built from. */
export interface VolumeManagerOptions {
  /** The runner's data directory (volumes live in <dataDir>/volumes). */
  dataDir: string;
  /** The engine, to see which containers use a volume. */
  docker: Dockerode;
  /** Where it logs. */
  logger: Logger;
}

const volumeIdPattern = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

/** validateVolumeId accepts 1–128 letters, digits, "_" and "-" (it names a host directory). */
export function validateVolumeId(volumeId: string, field = "volume_id"): void {
  if (!volumeIdPattern.test(volumeId)) {
    throw invalidArgument(
      field,
      "must be 1–128 letters, digits, _ or - (starting with a letter or digit)",
    );
  }
}

/**
 * validateMountPath accepts an absolute, normalized path of at most 4096 bytes that is not "/",
 * not under /proc, /sys, /dev, the daemon's /run/cove or the kit's /cove.
 */
export function validateMountPath(mountPath: string, field: string): string {
  if (!mountPath.startsWith("/")) throw invalidArgument(field, "must be an absolute path");
  if (Buffer.byteLength(mountPath) > 4096)
    throw invalidArgument(field, "must be at most 4096 bytes");
  if (mountPath.includes("\0") || mountPath.includes(",") || mountPath.includes(":")) {
    throw invalidArgument(field, 'must not contain NUL, "," or ":"');
  }
  const parts = mountPath.split("/").filter((p) => p !== "");
  if (parts.some((p) => p === "." || p === ".."))
    throw invalidArgument(field, 'must not contain "." or ".."');
  if (parts.length === 0) throw invalidArgument(field, 'must not be "/"');
  const normalized = `/${parts.join("/")}`;
  for (const reserved of ["/proc", "/sys", "/dev", DAEMON_SOCKET_DIR, KIT_MOUNT]) {
    if (normalized === reserved || normalized.startsWith(`${reserved}/`)) {
      throw invalidArgument(field, `must not be ${reserved} or under it`);
    }
  }
  return normalized;
}

/** subPathParts splits a sub_path into components: relative, no "..", no NUL, ≤ 4096 bytes. */
export function subPathParts(subPath: string, field: string): string[] {
  if (Buffer.byteLength(subPath) > 4096) throw invalidArgument(field, "must be at most 4096 bytes");
  if (subPath.includes("\0")) throw invalidArgument(field, "must not contain NUL");
  if (subPath.startsWith("/"))
    throw invalidArgument(field, "must be relative to the volume's root");
  const parts = subPath.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.some((p) => p === "..")) throw invalidArgument(field, 'must not contain ".."');
  return parts;
}

/** validateVolumeMounts checks a sandbox's volume list: ids, paths, and no path used twice. */
export function validateVolumeMounts(volumes: VolumeMountSpec[]): VolumeMountSpec[] {
  const targets = new Set<string>();
  return volumes.map((v, i) => {
    validateVolumeId(v.volumeId, `volumes[${i}].volume_id`);
    const mountPath = validateMountPath(v.mountPath, `volumes[${i}].mount_path`);
    if (targets.has(mountPath))
      throw invalidArgument(`volumes[${i}].mount_path`, `${mountPath} is used twice`);
    targets.add(mountPath);
    const parts = subPathParts(v.subPath, `volumes[${i}].sub_path`);
    return { volumeId: v.volumeId, mountPath, readOnly: v.readOnly, subPath: parts.join("/") };
  });
}

const O_PATH_DIR = fs.constants.O_RDONLY | fs.constants.O_DIRECTORY | fs.constants.O_NOFOLLOW;

/**
 * openBeneath opens root/parts… as a directory without following any symlink on the way:
 * each step opens "/proc/self/fd/<parent>/<name>" with O_NOFOLLOW (openat on the parent's fd),
 * creating missing directories (mode 0777) when `create` is set. Returns an open fd.
 */
export function openBeneath(root: string, parts: string[], create: boolean, field: string): number {
  let fd = fs.openSync(root, O_PATH_DIR);
  try {
    for (const name of parts) {
      const at = `/proc/self/fd/${fd}/${name}`;
      let created = false;
      if (create) {
        try {
          fs.mkdirSync(at, { mode: 0o777 });
          created = true;
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
        }
      }
      let next: number;
      try {
        next = fs.openSync(at, O_PATH_DIR);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === "ELOOP" || code === "ENOTDIR") {
          throw failedPrecondition(
            "VOLUME_STATE_CONFLICT",
            `${field}: "${name}" in the volume is not a directory (symlinks are not followed)`,
            {
              field,
            },
          );
        }
        throw err;
      }
      // fchmod on what was opened: never a path a sandbox could swap for a symlink meanwhile.
      if (created) fs.fchmodSync(next, 0o777);
      fs.closeSync(fd);
      fd = next;
    }
    return fd;
  } catch (err) {
    fs.closeSync(fd);
    throw err;
  }
}

/** run runs a program (argv only) and rejects with its stderr when it fails. */
function run(program: string, args: string[], extraFd?: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, args, {
      stdio:
        extraFd === undefined
          ? ["ignore", "ignore", "pipe"]
          : ["ignore", "ignore", "pipe", extraFd],
    });
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => {
      if (stderr.length < 4096) stderr += d.toString("utf8");
    });
    child.on("error", reject);
    child.on("close", (code) =>
      code === 0
        ? resolve()
        : reject(new Error(`${program} ${args[0]} exited ${code}: ${stderr.trim()}`)),
    );
  });
}

/** mountPoints lists the mount points under `prefix` in this process's mount namespace. */
function mountPoints(prefix: string): string[] {
  const text = fs.readFileSync("/proc/self/mountinfo", "utf8");
  const out: string[] = [];
  for (const line of text.split("\n")) {
    const field = line.split(" ")[4];
    if (!field) continue;
    const point = field.replace(/\\([0-7]{3})/g, (_, o: string) =>
      String.fromCharCode(Number.parseInt(o, 8)),
    );
    if (point === prefix || point.startsWith(`${prefix}/`)) out.push(point);
  }
  return out.sort((a, b) => b.length - a.length);
}

/**
 * VolumeManager turns a sandbox's volume list into bind mounts, stages sub_path mounts around
 * each start, and removes volumes' data.
 */
export class VolumeManager {
  private readonly dataDir: string;
  private readonly docker: Dockerode;
  private readonly logger: Logger;

  constructor(options: VolumeManagerOptions) {
    this.dataDir = path.resolve(options.dataDir);
    this.docker = options.docker;
    this.logger = options.logger.child({ component: "volumes" });
  }

  /** volumeDir is the host directory holding one volume's data (mounted as its root). */
  volumeDir(volumeId: string): string {
    validateVolumeId(volumeId);
    return path.join(this.dataDir, "volumes", volumeId, "data");
  }

  private stagingDir(sandboxId: string, index: number): string {
    validateSandboxId(sandboxId);
    return path.join(this.dataDir, "sandboxes", sandboxId, "volumes", String(index));
  }

  private planFile(sandboxId: string): string {
    validateSandboxId(sandboxId);
    return path.join(this.dataDir, "sandboxes", sandboxId, "volumes.json");
  }

  /** ensureVolume creates a volume's data directory (mode 0777, so any sandbox user may write). */
  ensureVolume(volumeId: string): string {
    const dir = this.volumeDir(volumeId);
    fs.mkdirSync(path.dirname(path.dirname(dir)), { recursive: true, mode: 0o711 });
    fs.mkdirSync(path.dirname(dir), { recursive: true, mode: 0o700 });
    try {
      fs.mkdirSync(dir, { mode: 0o777 });
      fs.chmodSync(dir, 0o777);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    return dir;
  }

  /**
   * mountsFor returns the bind mounts for a sandbox being created and remembers its sub_path
   * mounts for later starts: a volume root is mounted from its own directory, a sub_path from a
   * staging directory that beforeStart fills. Sub paths are created (and checked) here.
   */
  async mountsFor(spec: SandboxSpec): Promise<BindMount[]> {
    const volumes = validateVolumeMounts(spec.volumes ?? []);
    if (volumes.length === 0) return [];
    const mounts: BindMount[] = [];
    const plan: Array<{ index: number; volumeId: string; subPath: string }> = [];
    volumes.forEach((v, index) => {
      const root = this.ensureVolume(v.volumeId);
      let source = root;
      if (v.subPath !== "") {
        fs.closeSync(openBeneath(root, v.subPath.split("/"), true, `volumes[${index}].sub_path`));
        source = this.stagingDir(spec.sandboxId, index);
        fs.mkdirSync(source, { recursive: true, mode: 0o700 });
        plan.push({ index, volumeId: v.volumeId, subPath: v.subPath });
      }
      mounts.push({
        Type: "bind",
        Source: source,
        Target: v.mountPath,
        ReadOnly: v.readOnly,
        BindOptions: { Propagation: "rprivate" },
      });
    });
    fs.mkdirSync(path.dirname(this.planFile(spec.sandboxId)), { recursive: true, mode: 0o700 });
    fs.writeFileSync(this.planFile(spec.sandboxId), JSON.stringify(plan));
    return mounts;
  }

  /**
   * beforeStart bind-mounts each sub_path (opened without following symlinks) onto its staging
   * directory; the returned function removes those mounts again (call it once the container
   * runs, or failed to). Sandboxes without sub_path mounts cost one stat.
   */
  async beforeStart(sandboxId: string): Promise<() => Promise<void>> {
    let plan: Array<{ index: number; volumeId: string; subPath: string }>;
    try {
      plan = JSON.parse(fs.readFileSync(this.planFile(sandboxId), "utf8"));
    } catch {
      return async () => {};
    }
    if (plan.length === 0) return async () => {};
    await this.release(sandboxId);
    try {
      for (const entry of plan) {
        const field = `volumes[${entry.index}].sub_path`;
        const fd = openBeneath(
          this.ensureVolume(entry.volumeId),
          entry.subPath.split("/"),
          true,
          field,
        );
        try {
          const staging = this.stagingDir(sandboxId, entry.index);
          fs.mkdirSync(staging, { recursive: true, mode: 0o700 });
          // The child gets the directory as fd 3; --no-canonicalize keeps mount(8) from
          // resolving the path again, so the kernel binds exactly the directory we hold.
          await run("mount", ["--bind", "--no-canonicalize", "/proc/self/fd/3", staging], fd);
        } finally {
          fs.closeSync(fd);
        }
      }
    } catch (err) {
      await this.release(sandboxId).catch(() => {});
      throw err;
    }
    return () => this.release(sandboxId);
  }

  /** release removes a sandbox's staging mounts (before its directory may be deleted). */
  async release(sandboxId: string): Promise<void> {
    validateSandboxId(sandboxId);
    const prefix = path.join(this.dataDir, "sandboxes", sandboxId, "volumes");
    for (const point of mountPoints(prefix)) {
      await run("umount", [point]).catch(async () => run("umount", ["-l", point]));
    }
    if (mountPoints(prefix).length > 0)
      throw new Error(`staging mounts under ${prefix} could not be removed`);
  }

  /** releaseAll removes every staging mount a crashed runner may have left. */
  async releaseAll(): Promise<void> {
    const prefix = path.join(this.dataDir, "sandboxes");
    for (const point of mountPoints(prefix)) {
      if (/\/volumes\/\d+$/.test(point)) await run("umount", ["-l", point]).catch(() => {});
    }
  }

  /**
   * remove deletes a volume's data; a volume this runner holds no data for is success. While a
   * container on this runner mounts it the data is kept and this fails with VOLUME_IN_USE.
   */
  async remove(volumeId: string): Promise<void> {
    const dir = path.dirname(this.volumeDir(volumeId));
    if (!fs.existsSync(dir)) return;
    const users = await this.containersUsing(volumeId);
    if (users.length > 0) {
      throw failedPrecondition(
        "VOLUME_IN_USE",
        `volume ${volumeId} is mounted by ${users.join(", ")}`,
        {
          volumeId,
          sandboxIds: users.slice(0, 10).join(","),
        },
      );
    }
    // rm never follows symlinks the sandboxes left inside.
    fs.rmSync(dir, { recursive: true, force: true });
    this.logger.info("volume removed", { volumeId });
  }

  /** containersUsing lists the sandboxes on this engine whose mounts include the volume. */
  async containersUsing(volumeId: string): Promise<string[]> {
    const dir = this.volumeDir(volumeId);
    const plans = path.join(this.dataDir, "sandboxes");
    const containers = await this.docker.listContainers({
      all: true,
      filters: { label: ["dev.cove.managed=true"] },
    });
    const users: string[] = [];
    for (const c of containers) {
      const id = c.Labels?.["dev.cove.sandbox-id"] ?? "";
      const direct = (c.Mounts ?? []).some((m) => m.Source === dir);
      let staged = false;
      try {
        staged = (
          JSON.parse(fs.readFileSync(path.join(plans, id, "volumes.json"), "utf8")) as Array<{
            volumeId: string;
          }>
        ).some((p) => p.volumeId === volumeId);
      } catch {
        // no plan: no sub_path mounts
      }
      if (direct || staged) users.push(id);
    }
    return users;
  }
}
