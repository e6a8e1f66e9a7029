// Per-sandbox disk limits that hold on any backing filesystem. Docker's overlay2 keeps a
// container's writable layer in /var/lib/docker/overlay2/<layer>/ (diff/ is the upper
// directory, work/ overlay's work directory); on ext4 `StorageOpt size` cannot limit it. So,
// before a container's first start, the runner mounts a filesystem of exactly the sandbox's
// disk size over that layer directory: a sparse file (<dataDir>/disks/<id>.ext4, growing only as
// the sandbox writes) formatted ext4 on a loop device. Everything the sandbox writes to its
// root filesystem — /, /tmp, /home, /var — lands there; past the limit writes fail with ENOSPC
// (blocks or inodes), and the host's disk and other sandboxes never see more than the limit.
// The sandbox's socket directory (/run/cove, a host bind mount) becomes a 1 MiB tmpfs for the
// same reason. Docker unmounts the layer filesystem itself when it removes the container.
import { execFile } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { promisify } from "node:util";
import { failedPrecondition, type Logger } from "@cove/common";
import type Dockerode from "dockerode";
import type { ContainerHooks } from "../domain/container-hooks.js";
import type { SandboxSpec } from "../domain/sandbox-driver.js";

const run = promisify(execFile);

/** What the disk hooks are built from. */
export interface SandboxDisksOptions {
  /** The runner's data directory (images in <dataDir>/disks, sandbox dirs in <dataDir>/sandboxes). */
  dataDir: string;
  /** Where it logs. */
  logger: Logger;
  /** Size of the socket directory's tmpfs. Default "1m". */
  runDirSize?: string;
}

/** isMountPoint says whether `dir` is a mount point, from /proc/self/mountinfo. */
export function isMountPoint(
  dir: string,
  mountinfo = fs.readFileSync("/proc/self/mountinfo", "utf8"),
): boolean {
  const target = path.resolve(dir);
  return mountinfo.split("\n").some((line) => {
    const field = line.split(" ")[4];
    return field !== undefined && field.replace(/\\040/g, " ") === target;
  });
}

/** SandboxDisks is the disk-limit hook set of the Docker driver. */
export class SandboxDisks implements ContainerHooks {
  private readonly logger: Logger;
  private readonly disksDir: string;

  constructor(private readonly options: SandboxDisksOptions) {
    this.logger = options.logger.child({ component: "sandbox-disks" });
    this.disksDir = path.join(options.dataDir, "disks");
  }

  /** imagePath is the sandbox's disk image on the host. */
  imagePath(sandboxId: string): string {
    if (!/^[a-z0-9-]+$/.test(sandboxId)) throw new Error(`bad sandbox id ${sandboxId}`);
    return path.join(this.disksDir, `${sandboxId}.ext4`);
  }

  async created(spec: SandboxSpec, container: Dockerode.ContainerInspectInfo): Promise<void> {
    // Never under a running container: a new tmpfs would hide its daemon's socket.
    if (!container.State.Running) await this.mountRunDir(spec.sandboxId);
    if (spec.diskMib <= 0 || container.HostConfig.StorageOpt?.size) return;
    const layer = layerDir(container);
    if (!layer) {
      this.logger.warn("no disk limit: the storage driver is not overlay2", {
        sandboxId: spec.sandboxId,
        driver: container.GraphDriver?.Name,
      });
      return;
    }
    const image = this.imagePath(spec.sandboxId);
    if (isMountPoint(layer)) return;
    if (!fs.existsSync(image)) {
      // Only a fresh layer: mounting over one that holds files would hide them.
      const never = (container.State.StartedAt ?? "").startsWith("0001-");
      if (!never || fs.readdirSync(path.join(layer, "diff")).length > 0) {
        this.logger.warn("no disk limit: the container ran before it had one", {
          sandboxId: spec.sandboxId,
        });
        return;
      }
      await this.format(image, spec.diskMib, layer);
    }
    await this.mount(image, layer);
    this.logger.info("disk limit mounted", { sandboxId: spec.sandboxId, diskMib: spec.diskMib });
  }

  async starting(sandboxId: string, container: Dockerode.ContainerInspectInfo): Promise<void> {
    // After a host reboot nothing is mounted any more: the same image goes back in place.
    await this.mountRunDir(sandboxId);
    const image = this.imagePath(sandboxId);
    const layer = layerDir(container);
    if (layer && fs.existsSync(image) && !isMountPoint(layer)) await this.mount(image, layer);
  }

  async removed(sandboxId: string): Promise<void> {
    const runDir = this.runDir(sandboxId);
    if (isMountPoint(runDir)) await run("umount", ["-l", runDir]);
    fs.rmSync(this.imagePath(sandboxId), { force: true });
  }

  /** format makes a sparse ext4 image of sizeMib holding a copy of the layer directory's entries. */
  private async format(image: string, sizeMib: number, layer: string): Promise<void> {
    fs.mkdirSync(this.disksDir, { recursive: true, mode: 0o700 });
    const tmp = `${image}.tmp`;
    const staging = `${image}.mnt`;
    fs.rmSync(tmp, { force: true });
    const fd = fs.openSync(tmp, "w", 0o600);
    fs.ftruncateSync(fd, sizeMib * 1024 * 1024);
    fs.closeSync(fd);
    try {
      // No reserved blocks (the sandbox gets all of it); lazy init keeps mkfs at a few ms.
      await run("mkfs.ext4", [
        "-q",
        "-F",
        "-m",
        "0",
        "-E",
        "lazy_itable_init=1,lazy_journal_init=1,nodiscard",
        tmp,
      ]);
      fs.mkdirSync(staging, { recursive: true, mode: 0o700 });
      await run("mount", ["-o", "loop,nodev", tmp, staging]);
      try {
        fs.rmdirSync(path.join(staging, "lost+found"));
        // link, lower, diff/ and work/ exactly as Docker made them (owners, modes).
        await run("cp", ["-a", `${layer}/.`, `${staging}/`]);
      } finally {
        await run("umount", [staging]);
        fs.rmdirSync(staging);
      }
      fs.renameSync(tmp, image);
    } catch (err) {
      fs.rmSync(tmp, { force: true });
      throw failedPrecondition(
        "RUNTIME_UNAVAILABLE",
        `the sandbox's disk could not be made: ${(err as Error).message}`,
      );
    }
  }

  private async mount(image: string, layer: string): Promise<void> {
    try {
      await run("mount", ["-o", "loop,nodev", image, layer]);
    } catch (err) {
      throw failedPrecondition(
        "RUNTIME_UNAVAILABLE",
        `the sandbox's disk could not be mounted: ${(err as Error).message}`,
      );
    }
  }

  private runDir(sandboxId: string): string {
    return path.join(this.options.dataDir, "sandboxes", sandboxId, "run");
  }

  /** mountRunDir puts a small tmpfs on the socket directory, so the sandbox cannot fill the host there. */
  private async mountRunDir(sandboxId: string): Promise<void> {
    const dir = this.runDir(sandboxId);
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    if (isMountPoint(dir)) return;
    const size = this.options.runDirSize ?? "1m";
    await run("mount", [
      "-t",
      "tmpfs",
      "-o",
      `size=${size},nr_inodes=256,mode=0700,nodev,nosuid,noexec`,
      "tmpfs",
      dir,
    ]);
  }
}

/** layerDir is the container's overlay2 layer directory (the parent of its upper dir), if any. */
function layerDir(container: Dockerode.ContainerInspectInfo): string | undefined {
  const driver = container.GraphDriver as
    | { Name?: string; Data?: Record<string, string> }
    | undefined;
  const upper = driver?.Data?.UpperDir;
  if (driver?.Name !== "overlay2" || !upper) return undefined;
  return path.dirname(upper);
}
