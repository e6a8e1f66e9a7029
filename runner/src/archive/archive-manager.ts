// Archive and restore of stopped sandboxes.
//
// What is archived is the container's writable layer: on overlay2 (when the runner is root on
// the engine's host) the layer's upper directory is packed by GNU tar — numeric owners, modes,
// xattrs (so overlay whiteouts and opaque directories survive), sparse files kept sparse,
// symlinks stored as links and never followed. It is restored over the very image the sandbox
// ran (by id; pulled from spec.image when this runner lacks it, IMAGE_NOT_FOUND when that
// yields another image), so an archive holds only what the sandbox changed — a few MiB for a
// fresh sandbox instead of the whole base image. Elsewhere (other storage drivers, a remote
// engine) the flattened filesystem from `docker export` is archived and restored with `docker
// import`, which needs no image at all.
//
// Crash safety: an archive is written to its store atomically; the container is removed only
// after the object is complete and has the size that was sent. A restore marks the sandbox
// "restoring" before it creates the container and clears the mark after the last byte is
// unpacked; a redelivered restore that finds the mark starts over.
import { spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import { PassThrough, type Readable, Transform } from "node:stream";
import { pipeline } from "node:stream/promises";
import { CoveError, failedPrecondition, type Logger, notFound, unavailable } from "@cove/common";
import type Dockerode from "dockerode";
import { LABELS, validateSandboxId } from "../domain/hardening.js";
import type { Progress } from "../domain/progress.js";
import type { SandboxDriver, SandboxSpec } from "../domain/sandbox-driver.js";
import type { ImageManager } from "../images/image-manager.js";
import type { RegistryAuth } from "../images/registry-auth.js";
import {
  type ArchiveManifest,
  manifestHeader,
  readArchive,
  readManifestFromFd,
} from "./archive-format.js";
import { LocalObjectStore } from "./local-object-store.js";
import { type ObjectStore, parseArchiveUri } from "./object-store.js";
import { createS3Client, S3ObjectStore, type S3Settings } from "./s3-object-store.js";

/** What an ArchiveManager is built from. */
export interface ArchiveManagerOptions {
  /** The engine. */
  docker: Dockerode;
  /** The sandbox driver (creates restored containers, removes archived ones). */
  driver: SandboxDriver;
  /** Pulls the image a layer archive needs when this runner lacks it. */
  images: ImageManager;
  /** The runner's data directory (restore marks live in <dataDir>/sandboxes/<id>). */
  dataDir: string;
  /** The directory file:// archives live under. Default <dataDir>/archives. */
  archiveDir?: string;
  /** The S3-API store for s3:// archives; unset: s3:// is refused. */
  s3?: S3Settings;
  /** "auto" (layer when possible), or force "export" (for tests and odd hosts). */
  mode?: "auto" | "export";
  /** Where it logs. */
  logger: Logger;
}

/** The outcome of an archive. */
export interface ArchiveOutcome {
  /** Where it was written. */
  archiveUri: string;
  /** Its size in MiB (rounded up). */
  sizeMib: number;
}

const mib = (bytes: number) => Math.ceil(bytes / 1024 / 1024);

/** The GNU tar options that keep everything a filesystem holds, never following a link. */
// Overlay's own bookkeeping of the old layer stack (origin file handles, impure and nlink
// hints) is left out; whiteouts and opaque/redirect marks are kept.
const tarKeep = [
  "--numeric-owner",
  "--xattrs",
  "--xattrs-include=*",
  "--xattrs-exclude=trusted.overlay.origin",
  "--xattrs-exclude=trusted.overlay.impure",
  "--xattrs-exclude=trusted.overlay.nlink",
  "--acls",
];

/**
 * runTar runs GNU tar with argv only. stdin/stdout are pipes unless file descriptors are given
 * (then tar reads or writes the file directly); stderr is kept for errors.
 */
function runTar(args: string[], fds: { stdin?: number; stdout?: number } = {}) {
  // setpriv (util-linux) makes tar die with the runner: a killed runner leaves no tar behind
  // that still writes into an archive or a sandbox's layer.
  const child = spawn("setpriv", ["--pdeathsig", "KILL", "--", "tar", ...args], {
    stdio: [fds.stdin ?? "pipe", fds.stdout ?? "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    if (stderr.length < 8192) stderr += d.toString("utf8");
  });
  const exited = new Promise<void>((resolve, reject) => {
    child.on("error", reject);
    child.on("close", (code, signal) =>
      code === 0
        ? resolve()
        : reject(new Error(`tar exited ${code ?? signal}: ${stderr.trim().slice(0, 2000)}`)),
    );
  });
  return { child, exited };
}

/** readPosition is how far a process has read its stdin (from /proc/<pid>/fdinfo/0), or undefined. */
function readPosition(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const pos = /^pos:\s+(\d+)/m.exec(fs.readFileSync(`/proc/${pid}/fdinfo/0`, "utf8"))?.[1];
    return pos === undefined ? undefined : Number(pos);
  } catch {
    return undefined;
  }
}

/** diskUsage is the bytes allocated under a directory (`du -s -B1 -x`), 0 if it cannot tell. */
function diskUsage(dir: string): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn("du", ["-s", "-x", "-B1", dir], { stdio: ["ignore", "pipe", "ignore"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    child.on("error", () => resolve(0));
    child.on("close", () => resolve(Number.parseInt(out, 10) || 0));
  });
}

function statusCode(err: unknown): number | undefined {
  const code = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === "number" ? code : undefined;
}

/** extractArgs are tar's arguments to unpack a layer archive's payload into `upper`. */
function extractArgs(upper: string): string[] {
  return [
    "--extract",
    "--blocking-factor=2048",
    "--read-full-records",
    "--file=-",
    ...tarKeep,
    "--same-permissions",
    "--same-owner",
    `--directory=${upper}`,
  ];
}

/** ArchiveManager moves stopped sandboxes to object stores and back. */
export class ArchiveManager {
  private readonly docker: Dockerode;
  private readonly driver: SandboxDriver;
  private readonly images: ImageManager;
  private readonly dataDir: string;
  private readonly archiveDir: string;
  private readonly s3?: S3Settings;
  private readonly mode: "auto" | "export";
  private readonly logger: Logger;
  private readonly local: LocalObjectStore;
  private readonly buckets = new Map<string, S3ObjectStore>();
  private s3Client: ReturnType<typeof createS3Client> | undefined;

  constructor(options: ArchiveManagerOptions) {
    this.docker = options.docker;
    this.driver = options.driver;
    this.images = options.images;
    this.dataDir = path.resolve(options.dataDir);
    this.archiveDir = path.resolve(options.archiveDir ?? path.join(this.dataDir, "archives"));
    this.s3 = options.s3;
    this.mode = options.mode ?? "auto";
    this.logger = options.logger.child({ component: "archives" });
    this.local = new LocalObjectStore(this.archiveDir);
  }

  /** archiveUriFor is the default file:// location of a sandbox's archive on this runner. */
  archiveUriFor(sandboxId: string): string {
    validateSandboxId(sandboxId);
    return `file://${this.archiveDir}/${sandboxId}.tar`;
  }

  private store(uri: string): { store: ObjectStore; key: string } {
    const location = parseArchiveUri(uri, this.archiveDir);
    if (location.scheme === "file") return { store: this.local, key: location.key };
    if (!this.s3) {
      throw failedPrecondition(
        "ARCHIVE_FAILED",
        "this runner has no S3 store configured (COVE_RUNNER_S3_*)",
        {},
      );
    }
    this.s3Client ??= createS3Client(this.s3);
    let store = this.buckets.get(location.bucket);
    if (!store) {
      store = new S3ObjectStore(this.s3Client, location.bucket);
      this.buckets.set(location.bucket, store);
    }
    return { store, key: location.key };
  }

  private restoreMark(sandboxId: string): string {
    validateSandboxId(sandboxId);
    return path.join(this.dataDir, "sandboxes", sandboxId, "restoring");
  }

  /**
   * archive uploads a stopped sandbox's filesystem to `uri`, then removes its container. When the
   * container is gone and the archive exists it succeeds at once; a started sandbox is
   * SANDBOX_STATE_CONFLICT.
   */
  async archive(
    sandboxId: string,
    uri: string,
    progress: Progress,
    onStart?: () => void,
  ): Promise<ArchiveOutcome> {
    validateSandboxId(sandboxId);
    const { store, key } = this.store(uri);
    const container = this.docker.getContainer(sandboxId);
    let info: Dockerode.ContainerInspectInfo;
    try {
      info = await container.inspect();
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
      const existing = await this.head(store, key, sandboxId);
      if (existing) return { archiveUri: uri, sizeMib: mib(existing.size) };
      throw notFound(
        "SANDBOX_NOT_FOUND",
        `sandbox ${sandboxId} has no container on this runner and no archive at ${uri}`,
        {
          sandboxId,
        },
      );
    }
    if (info.Config.Labels?.[LABELS.managed] !== "true") {
      throw failedPrecondition(
        "SANDBOX_STATE_CONFLICT",
        `the container ${sandboxId} is not a Cove sandbox`,
        { sandboxId },
      );
    }
    if (info.State.Running || info.State.Paused || info.State.Restarting) {
      throw failedPrecondition(
        "SANDBOX_STATE_CONFLICT",
        `sandbox ${sandboxId} is running; stop it before archiving`,
        {
          sandboxId,
          state: "STARTED",
          allowedStates: "STOPPED",
        },
      );
    }
    if (fs.existsSync(this.restoreMark(sandboxId))) {
      throw failedPrecondition(
        "SANDBOX_STATE_CONFLICT",
        `sandbox ${sandboxId} is half restored; restore it again first`,
        {
          sandboxId,
          state: "RESTORING",
          allowedStates: "STOPPED",
        },
      );
    }
    onStart?.();
    const upper = this.upperDir(info);
    const mode: ArchiveManifest["mode"] = upper ? "layer" : "export";
    const env = (info.Config.Env ?? []).filter((e) => !e.startsWith("COVE_DAEMON_"));
    const daemonUser =
      (info.Config.Env ?? []).find((e) => e.startsWith("COVE_DAEMON_USER="))?.split("=")[1] ?? "";
    const manifest: ArchiveManifest = {
      format: "cove-archive",
      version: 1,
      mode,
      sandboxId,
      imageId: info.Image,
      image: info.Config.Image,
      config: {
        cmd: info.Config.Cmd ?? [],
        workingDir: info.Config.WorkingDir || "/",
        user: daemonUser || "root",
        env,
      },
      createTime: new Date().toISOString(),
    };
    // What tar will send: the layer's allocated bytes (holes of sparse files cost nothing).
    // Docker's own SizeRw would also walk the whole image for SizeRootFs.
    const estimate = Math.max(1, upper ? await diskUsage(upper) : 0);
    progress.stage("archiving", 0);
    progress.line(
      `archiving ${sandboxId} (${mode === "layer" ? "its writable layer" : "its whole filesystem"}, about ${mib(estimate)} MiB) to ${uri}`,
      "system",
    );
    const begin = performance.now();
    // 1 MiB records: tar's default 10 KiB writes halve a pipe's throughput.
    const createArgs = [
      "--create",
      "--blocking-factor=2048",
      "--file=-",
      "--format=posix",
      "--sparse",
      ...tarKeep,
      "--one-file-system",
      `--directory=${upper}`,
      ".",
    ];
    if (upper && store.putWithFd) {
      // The local store: tar writes straight into the archive file after the manifest.
      let stored: { size: number };
      try {
        stored = await store.putWithFd(key, async (fd) => {
          fs.writeSync(fd, manifestHeader(manifest));
          const tar = runTar(createArgs, { stdout: fd });
          tar.child.stdin?.end();
          const timer = setInterval(() => {
            progress.stage("uploading", Math.min(99, (100 * fs.fstatSync(fd).size) / estimate));
          }, 250);
          try {
            await tar.exited;
          } finally {
            clearInterval(timer);
          }
        });
      } catch (err) {
        throw this.archiveError(sandboxId, uri, err);
      }
      return this.finishArchive(sandboxId, uri, store, key, stored, mode, begin, progress);
    }
    const body = new PassThrough({ highWaterMark: 1024 * 1024 });
    body.write(manifestHeader(manifest));
    let tarDone: Promise<void>;
    let stopSource: () => void;
    if (upper) {
      const tar = runTar(createArgs);
      tar.child.stdin?.end();
      tar.child.stdout?.pipe(body);
      tarDone = tar.exited;
      stopSource = () => tar.child.kill("SIGKILL");
    } else {
      const exported = (await container.export()) as unknown as Readable;
      exported.pipe(body);
      tarDone = new Promise((resolve, reject) => {
        exported.on("end", resolve);
        exported.on("error", reject);
      });
      stopSource = () => exported.destroy();
    }
    let stored: { size: number };
    try {
      [stored] = await Promise.all([
        store.put(key, body, (bytes) => {
          progress.stage("uploading", Math.min(99, (100 * bytes) / estimate));
        }),
        tarDone.catch((err) => {
          body.destroy(err as Error);
          throw err;
        }),
      ]);
    } catch (err) {
      stopSource();
      body.destroy();
      throw this.archiveError(sandboxId, uri, err);
    }
    return this.finishArchive(sandboxId, uri, store, key, stored, mode, begin, progress);
  }

  /** finishArchive checks the stored object and only then removes the container. */
  private async finishArchive(
    sandboxId: string,
    uri: string,
    store: ObjectStore,
    key: string,
    stored: { size: number },
    mode: ArchiveManifest["mode"],
    begin: number,
    progress: Progress,
  ): Promise<ArchiveOutcome> {
    // Durable and complete: only now may the container go.
    const check = await this.head(store, key, sandboxId);
    if (!check || check.size !== stored.size) {
      throw unavailable(
        "ARCHIVE_FAILED",
        `the archive at ${uri} is not complete after the upload`,
        { sandboxId },
      );
    }
    await this.driver.destroy(sandboxId);
    const ms = performance.now() - begin;
    this.logger.info("sandbox archived", {
      sandboxId,
      uri,
      mode,
      bytes: stored.size,
      ms: Math.round(ms),
    });
    progress.stage("archived", 100);
    progress.line(`archived ${mib(stored.size)} MiB in ${(ms / 1000).toFixed(1)} s`, "system");
    return { archiveUri: uri, sizeMib: mib(stored.size) };
  }

  /**
   * restore recreates a sandbox's container from its archive (not started: the caller starts
   * it). An existing container is kept, unless an earlier restore of it never finished.
   */
  async restore(
    spec: SandboxSpec,
    uri: string,
    auth: RegistryAuth | undefined,
    progress: Progress,
  ): Promise<void> {
    const sandboxId = spec.sandboxId;
    validateSandboxId(sandboxId);
    const { store, key } = this.store(uri);
    const mark = this.restoreMark(sandboxId);
    const existing = await this.driver.inspect(sandboxId);
    if (existing.state !== "missing") {
      if (!fs.existsSync(mark)) return;
      progress.line("an earlier restore did not finish; starting it over", "system");
      await this.driver.destroy(sandboxId);
    }
    const size = (await this.head(store, key, sandboxId))?.size;
    if (size === undefined) {
      throw failedPrecondition("RESTORE_FAILED", `there is no archive at ${uri}`, { sandboxId });
    }
    const begin = performance.now();
    const fd = store.openFd ? await this.openFd(store, key, sandboxId) : undefined;
    if (fd !== undefined) {
      // The local store: tar reads the archive file itself, after the manifest.
      let done = false;
      try {
        const manifest = readManifestFromFd(fd);
        if (manifest.mode === "layer") {
          const upper = await this.prepareLayer(manifest, spec, auth, progress, uri, mark);
          const tar = runTar(extractArgs(upper), { stdin: fd });
          tar.child.stdout?.resume();
          const timer = setInterval(() => {
            const pos = readPosition(tar.child.pid);
            if (pos !== undefined) progress.stage("restoring", Math.min(99, (100 * pos) / size));
          }, 250);
          try {
            await tar.exited;
          } finally {
            clearInterval(timer);
          }
          fs.rmSync(mark, { force: true });
          done = true;
        }
      } catch (err) {
        throw this.restoreError(sandboxId, uri, err);
      } finally {
        fs.closeSync(fd);
      }
      if (done) return this.restored(sandboxId, uri, size, begin, progress);
    }
    const raw = await this.get(store, key, sandboxId);
    let counted = 0;
    const source = raw.pipe(
      new Transform({
        highWaterMark: 1024 * 1024,
        transform(chunk: Buffer, _enc, done) {
          counted += chunk.length;
          progress.stage("restoring", Math.min(99, (100 * counted) / Math.max(1, size ?? 1)));
          done(null, chunk);
        },
      }),
    );
    raw.on("error", (err) => source.destroy(err));
    try {
      const { manifest, payload } = await readArchive(source);
      if (manifest.mode === "layer") {
        const upper = await this.prepareLayer(manifest, spec, auth, progress, uri, mark);
        const tar = runTar(extractArgs(upper));
        tar.child.stdout?.resume();
        await Promise.all([
          pipeline(payload, tar.child.stdin as NodeJS.WritableStream),
          tar.exited,
        ]);
      } else {
        this.checkManifest(manifest, sandboxId, uri);
        fs.mkdirSync(path.dirname(mark), { recursive: true, mode: 0o700 });
        fs.writeFileSync(mark, `${new Date().toISOString()}\n`);
        const tag = `cove-restore/${sandboxId}:archive`;
        const changes = [
          `CMD ${JSON.stringify(manifest.config.cmd)}`,
          `WORKDIR ${manifest.config.workingDir}`,
          `USER ${manifest.config.user}`,
          ...manifest.config.env.map(
            (e) =>
              `ENV ${e.slice(0, e.indexOf("="))}=${JSON.stringify(e.slice(e.indexOf("=") + 1))}`,
          ),
          `LABEL ${LABELS.managed}=restore`,
        ];
        const stream = (await this.docker.importImage(
          payload as unknown as NodeJS.ReadableStream,
          {
            repo: `cove-restore/${sandboxId}`,
            tag: "archive",
            changes,
          } as object,
        )) as unknown as Readable;
        for await (const chunk of stream) {
          const text = chunk.toString();
          if (/"error"/.test(text)) throw new Error(`docker import failed: ${text.slice(0, 500)}`);
        }
        await this.driver.create({ ...spec, image: tag });
      }
      fs.rmSync(mark, { force: true });
    } catch (err) {
      source.destroy();
      raw.destroy();
      throw this.restoreError(sandboxId, uri, err);
    }
    this.restored(sandboxId, uri, size, begin, progress);
  }

  private restored(
    sandboxId: string,
    uri: string,
    size: number,
    begin: number,
    progress: Progress,
  ): void {
    this.logger.info("sandbox restored", {
      sandboxId,
      uri,
      bytes: size,
      ms: Math.round(performance.now() - begin),
    });
    progress.stage("restored", 100);
  }

  private checkManifest(manifest: ArchiveManifest, sandboxId: string, uri: string): void {
    if (manifest.sandboxId !== sandboxId) {
      throw failedPrecondition(
        "RESTORE_FAILED",
        `the archive at ${uri} belongs to sandbox ${manifest.sandboxId}`,
        {
          sandboxId,
        },
      );
    }
  }

  /**
   * prepareLayer marks the sandbox as being restored and creates its container on the
   * archive's exact image; returns the new container's (empty) upper directory.
   */
  private async prepareLayer(
    manifest: ArchiveManifest,
    spec: SandboxSpec,
    auth: RegistryAuth | undefined,
    progress: Progress,
    uri: string,
    mark: string,
  ): Promise<string> {
    const sandboxId = spec.sandboxId;
    this.checkManifest(manifest, sandboxId, uri);
    progress.stage("restoring", 0);
    fs.mkdirSync(path.dirname(mark), { recursive: true, mode: 0o700 });
    fs.writeFileSync(mark, `${new Date().toISOString()}\n`);
    const imageId = await this.baseImage(manifest, spec, auth, progress);
    await this.driver.create({ ...spec, image: imageId });
    const info = await this.docker.getContainer(sandboxId).inspect();
    const upper = this.upperDir(info);
    if (!upper) {
      throw failedPrecondition(
        "RESTORE_FAILED",
        "this runner cannot restore a layer archive (it needs overlay2 and root)",
        {
          sandboxId,
        },
      );
    }
    return upper;
  }

  private restoreError(sandboxId: string, uri: string, err: unknown): CoveError {
    if (err instanceof CoveError) return err;
    return unavailable(
      "RESTORE_FAILED",
      `restoring ${sandboxId} from ${uri} failed: ${(err as Error).message}`,
      {
        sandboxId,
      },
    );
  }

  private async openFd(store: ObjectStore, key: string, sandboxId: string): Promise<number> {
    const fd = await store.openFd?.(key).catch((err: Error) => {
      throw unavailable("RESTORE_FAILED", `the archive could not be opened: ${err.message}`, {
        sandboxId,
      });
    });
    if (fd === undefined)
      throw failedPrecondition("RESTORE_FAILED", `the archive ${key} vanished`, { sandboxId });
    return fd;
  }

  /**
   * forget removes what the runner kept for a destroyed sandbox beside its container: the
   * image of an export restore and the archive at the default local location.
   */
  async forget(sandboxId: string): Promise<void> {
    validateSandboxId(sandboxId);
    await this.docker
      .getImage(`cove-restore/${sandboxId}:archive`)
      .remove()
      .catch(() => {});
    await this.local.delete(`${sandboxId}.tar`);
  }

  /** baseImage finds the exact image a layer archive was made on, pulling spec.image if needed. */
  private async baseImage(
    manifest: ArchiveManifest,
    spec: SandboxSpec,
    auth: RegistryAuth | undefined,
    progress: Progress,
  ): Promise<string> {
    try {
      return (await this.docker.getImage(manifest.imageId).inspect()).Id;
    } catch (err) {
      if (statusCode(err) !== 404) throw err;
    }
    progress.line(
      `this runner lacks the archive's image ${manifest.imageId}; pulling ${spec.image}`,
      "system",
    );
    const pulled = await this.images.pull(spec.image, auth, progress);
    if (pulled.id !== manifest.imageId) {
      throw notFound(
        "IMAGE_NOT_FOUND",
        `the archive was made on image ${manifest.imageId} (${manifest.image}); this runner does not hold it and ${spec.image} is ${pulled.id}`,
        { image: manifest.image },
      );
    }
    return pulled.id;
  }

  /** upperDir is the container's overlay upper directory when this runner can read it, else undefined. */
  private upperDir(info: Dockerode.ContainerInspectInfo): string | undefined {
    if (this.mode === "export") return undefined;
    const driver = info.GraphDriver as { Name?: string; Data?: Record<string, string> } | undefined;
    const upper = driver?.Data?.UpperDir;
    if (driver?.Name !== "overlay2" || !upper || process.getuid?.() !== 0) return undefined;
    try {
      return fs.statSync(upper).isDirectory() ? upper : undefined;
    } catch {
      return undefined;
    }
  }

  private async head(store: ObjectStore, key: string, sandboxId: string) {
    try {
      return await store.head(key);
    } catch (err) {
      throw unavailable(
        "ARCHIVE_FAILED",
        `the object store did not answer: ${(err as Error).message}`,
        { sandboxId },
      );
    }
  }

  private async get(store: ObjectStore, key: string, sandboxId: string): Promise<Readable> {
    let stream: Readable | undefined;
    try {
      stream = await store.get(key);
    } catch (err) {
      throw unavailable(
        "RESTORE_FAILED",
        `the object store did not answer: ${(err as Error).message}`,
        { sandboxId },
      );
    }
    if (!stream)
      throw failedPrecondition("RESTORE_FAILED", `the archive ${key} vanished`, { sandboxId });
    return stream;
  }

  private archiveError(sandboxId: string, uri: string, err: unknown): CoveError {
    if (err instanceof CoveError) return err;
    return unavailable(
      "ARCHIVE_FAILED",
      `archiving ${sandboxId} to ${uri} failed: ${(err as Error).message}`,
      { sandboxId },
    );
  }
}
