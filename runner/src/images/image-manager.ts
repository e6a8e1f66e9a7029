// Snapshot images on this runner: pull from a registry, build from a Dockerfile through the
// engine's build API, commit a sandbox's container, push, and remove. Every operation is
// idempotent by image reference (one at a time per reference; an image that exists is not made
// again), streams its log through Progress, and never lets registry credentials reach a log
// line, an error message or the disk.
import {
  type CoveError,
  failedPrecondition,
  invalidArgument,
  type Logger,
  notFound,
  unavailable,
} from "@cove/common";
import type Dockerode from "dockerode";
import { LABELS } from "../domain/hardening.js";
import type { Progress } from "../domain/progress.js";
import { markRetryable } from "../domain/retryable.js";
import {
  type BuildLimits,
  contextTar,
  DOCKERFILE_NAME,
  type DockerfileBuildSpec,
  defaultBuildLimits,
  validateBuild,
} from "./build-context.js";
import { type EngineMessage, LineSplitter, readEngineMessages } from "./engine-messages.js";
import { formatReference, type ImageReference, parseImageReference } from "./image-reference.js";
import {
  createRedactor,
  type RegistryAuth,
  toAuthConfig,
  toRegistryConfig,
} from "./registry-auth.js";

/** An image the runner holds (ImageResult in the protocol). */
export interface ImageInfo {
  /** The reference it was asked for. */
  image: string;
  /** The registry manifest digest for this repository when the image has one, else its id. */
  digest: string;
  /** The image's id (its config digest). */
  id: string;
  /** Unpacked size in MiB, rounded up. */
  sizeMib: number;
}

/** Options of a build or commit that produces an image. */
export interface ProduceOptions {
  /** The snapshot being made (a label on the image). */
  snapshotId: string;
  /** Push the image to the registry in its reference afterwards. */
  push: boolean;
  /** Credentials for base-image pulls and the push; never stored. */
  auth?: RegistryAuth;
}

/** What an ImageManager is built from. */
export interface ImageManagerOptions {
  /** The Docker engine. */
  docker: Dockerode;
  /** Where it logs (never credentials). */
  logger: Logger;
  /** Network for build steps: "none" (default) or a network name such as "cove-egress". */
  buildNetwork?: string;
  /** Memory (and memory+swap) of each build step's container, MiB. Default 2048. */
  buildMemoryMib?: number;
  /** Build caps (Dockerfile size, file count, context bytes). */
  buildLimits?: BuildLimits;
  /** Labels added to every image the manager makes (tests use dev.cove.test=…). */
  extraLabels?: Record<string, string>;
}

/** The label on images the runner made, and the snapshot they belong to. */
export const IMAGE_LABELS = {
  /** "image" on every built or committed snapshot image. */
  managed: LABELS.managed,
  /** The snapshot id. */
  snapshotId: "dev.cove.snapshot-id",
  /** The sandbox a committed image came from. */
  sourceSandboxId: "dev.cove.source-sandbox-id",
} as const;

/** Lines of build output kept for the error of a failed step. */
const tailLines = 20;

function statusCode(err: unknown): number | undefined {
  const code = (err as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === "number" ? code : undefined;
}

function engineMessage(err: unknown): string {
  const json = (err as { json?: { message?: unknown } | string } | null)?.json;
  if (json && typeof json === "object" && typeof json.message === "string") return json.message;
  if (typeof json === "string" && json.length > 0) return json;
  return err instanceof Error ? err.message : String(err);
}

/**
 * classifyRegistryError maps an engine pull/push failure to a reason: a missing manifest or
 * repository is IMAGE_NOT_FOUND, anything else (unreachable, refused, unauthorized)
 * IMAGE_PULL_FAILED, which is retryable.
 */
export function classifyRegistryError(
  image: string,
  message: string,
  verb: "pull" | "push",
): CoveError {
  if (verb === "pull" && /manifest unknown|not found|does not exist|no such image/i.test(message)) {
    return notFound(
      "IMAGE_NOT_FOUND",
      `the image ${image} does not exist in its registry: ${message}`,
      {
        image,
      },
    );
  }
  return unavailable(
    "IMAGE_PULL_FAILED",
    `${verb === "pull" ? "pulling" : "pushing"} ${image} failed: ${message}`,
    { image },
  );
}

/**
 * ImageManager pulls, builds, commits, pushes and removes snapshot images on one engine.
 */
export class ImageManager {
  private readonly docker: Dockerode;
  private readonly logger: Logger;
  private readonly buildNetwork: string;
  private readonly buildMemoryBytes: number;
  private readonly limits: BuildLimits;
  private readonly extraLabels: Record<string, string>;
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(options: ImageManagerOptions) {
    this.docker = options.docker;
    this.logger = options.logger.child({ component: "images" });
    this.buildNetwork = options.buildNetwork ?? "none";
    this.buildMemoryBytes = (options.buildMemoryMib ?? 2048) * 1024 * 1024;
    this.limits = options.buildLimits ?? defaultBuildLimits;
    this.extraLabels = { ...options.extraLabels };
  }

  /** inspect describes an image the runner holds, or undefined when it holds none of that reference. */
  async inspect(image: string): Promise<ImageInfo | undefined> {
    const ref = parseImageReference(image);
    try {
      const info = await this.docker.getImage(formatReference(ref)).inspect();
      return toInfo(image, ref, info);
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw err;
    }
  }

  /** list describes every tagged image on the engine (the hello's image inventory), one entry per tag. */
  async list(): Promise<ImageInfo[]> {
    const images = await this.docker.listImages();
    const out: ImageInfo[] = [];
    for (const image of images) {
      for (const tag of image.RepoTags ?? []) {
        if (tag === "<none>:<none>") continue;
        const name = tag.slice(0, tag.lastIndexOf(":"));
        const repoDigest = (image.RepoDigests ?? []).find((d) => d.startsWith(`${name}@`));
        out.push({
          image: tag,
          digest: repoDigest ? repoDigest.slice(repoDigest.indexOf("@") + 1) : image.Id,
          id: image.Id,
          sizeMib: Math.ceil((image.Size ?? 0) / 1024 / 1024),
        });
      }
    }
    return out;
  }

  /**
   * pull fetches an image unless the runner already holds it (by digest when the reference has
   * one, else by tag). Progress: stage "pulling" with a byte percentage, status lines per layer.
   */
  async pull(
    image: string,
    auth: RegistryAuth | undefined,
    progress: Progress,
  ): Promise<ImageInfo> {
    const ref = parseImageReference(image);
    return this.serialize(formatReference(ref), async () => {
      const held = await this.inspect(image);
      if (held) {
        progress.line(`${image} is already on this runner`, "system");
        return held;
      }
      const redact = createRedactor(auth);
      const target =
        ref.digest || ref.tag ? formatReference(ref) : `${formatReference(ref)}:latest`;
      progress.stage("pulling", 0);
      const begin = performance.now();
      let stream: NodeJS.ReadableStream;
      try {
        stream = await this.docker.pull(target, { authconfig: toAuthConfig(auth, ref.registry) });
      } catch (err) {
        throw classifyRegistryError(image, redact(engineMessage(err)), "pull");
      }
      const layers = new Map<string, { current: number; total: number }>();
      for await (const m of readEngineMessages(stream as AsyncIterable<Buffer>)) {
        if (m.error || m.errorDetail) {
          throw classifyRegistryError(
            image,
            redact(m.errorDetail?.message ?? m.error ?? ""),
            "pull",
          );
        }
        this.pullStatus(m, layers, progress, redact);
      }
      const pulled = await this.inspect(image);
      if (!pulled)
        throw classifyRegistryError(
          image,
          "the engine reported success but holds no such image",
          "pull",
        );
      this.logger.info("image pulled", {
        image,
        digest: pulled.digest,
        ms: Math.round(performance.now() - begin),
      });
      progress.stage("pulled", 100);
      return pulled;
    });
  }

  /**
   * build builds `image` from a Dockerfile and its context through the engine's build API, then
   * pushes it when asked. An image that exists already is not built again (but is pushed when
   * asked, so a retried build whose push failed converges). A failing step is
   * SNAPSHOT_BUILD_FAILED naming the step, with the tail of its output.
   */
  async build(
    image: string,
    build: DockerfileBuildSpec,
    options: ProduceOptions,
    progress: Progress,
  ): Promise<ImageInfo> {
    const ref = this.producedReference(image);
    const files = validateBuild(build, this.limits);
    const redact = createRedactor(options.auth);
    const info = await this.serialize(formatReference(ref), async () => {
      const held = await this.inspect(image);
      if (held) {
        progress.line(`${image} exists already; not building it again`, "system");
        return held;
      }
      progress.stage("building");
      const begin = performance.now();
      const labels = {
        ...this.extraLabels,
        [IMAGE_LABELS.managed]: "image",
        [IMAGE_LABELS.snapshotId]: options.snapshotId,
      };
      // The classic builder turns each `labels` entry into a step of its own (a container
      // each); one LABEL line at the end of the last stage costs one step. A target stage
      // cannot take a line at the end, so it gets the parameter.
      const labelLine = plainLabels(labels);
      const labelled =
        build.target || !labelLine
          ? build
          : { ...build, content: `${build.content}\n${labelLine}\n` };
      let stream: NodeJS.ReadableStream;
      try {
        stream = await this.docker.buildImage(
          contextTar(labelled, files) as unknown as NodeJS.ReadableStream,
          {
            t: formatReference(ref),
            dockerfile: DOCKERFILE_NAME,
            buildargs: build.buildArgs,
            ...(build.target ? { target: build.target } : {}),
            ...(labelled === build ? { labels } : {}),
            rm: true,
            forcerm: true,
            networkmode: this.buildNetwork,
            memory: this.buildMemoryBytes,
            memswap: this.buildMemoryBytes,
            registryconfig: toRegistryConfig(options.auth, parseBaseRegistry(build.content)),
          } as Dockerode.ImageBuildOptions,
        );
      } catch (err) {
        throw failedPrecondition(
          "SNAPSHOT_BUILD_FAILED",
          `the build could not start: ${redact(engineMessage(err))}`,
          {
            snapshotId: options.snapshotId,
          },
        );
      }
      await this.followBuild(stream, options.snapshotId, progress, redact);
      const built = await this.inspect(image);
      if (!built) {
        throw failedPrecondition(
          "SNAPSHOT_BUILD_FAILED",
          "the build finished but the image is missing",
          {
            snapshotId: options.snapshotId,
          },
        );
      }
      this.logger.info("image built", {
        image,
        id: built.id,
        ms: Math.round(performance.now() - begin),
      });
      return built;
    });
    return options.push ? this.push(image, options.auth, progress) : info;
  }

  /**
   * commit makes `image` from a sandbox's container (pausing it while it runs), with the
   * container's own image command, working directory and default user as the image's config —
   * never the daemon kit's entrypoint. An image that exists already is kept.
   */
  async commit(
    sandboxId: string,
    image: string,
    options: ProduceOptions,
    progress: Progress,
  ): Promise<ImageInfo> {
    const ref = this.producedReference(image);
    const info = await this.serialize(formatReference(ref), async () => {
      const held = await this.inspect(image);
      if (held) {
        progress.line(`${image} exists already; not committing again`, "system");
        return held;
      }
      const container = this.docker.getContainer(sandboxId);
      let inspected: Dockerode.ContainerInspectInfo;
      try {
        inspected = await container.inspect();
      } catch (err) {
        if (statusCode(err) === 404) {
          throw notFound(
            "SANDBOX_NOT_FOUND",
            `sandbox ${sandboxId} has no container on this runner`,
            { sandboxId },
          );
        }
        throw err;
      }
      if (inspected.Config.Labels?.[LABELS.managed] !== "true") {
        throw failedPrecondition(
          "SANDBOX_STATE_CONFLICT",
          `the container ${sandboxId} is not a Cove sandbox`,
          {
            sandboxId,
          },
        );
      }
      progress.stage("committing");
      const begin = performance.now();
      const env = inspected.Config.Env ?? [];
      const daemonUser = env
        .find((e) => e.startsWith("COVE_DAEMON_USER="))
        ?.slice("COVE_DAEMON_USER=".length);
      // The engine merges the container's config into this one: an empty Entrypoint (not
      // absent) keeps the kit's argv out; Cmd is the image command the daemon supervised.
      const config = {
        Entrypoint: [],
        Cmd: inspected.Config.Cmd ?? [],
        User: daemonUser ? daemonUser : "root",
        WorkingDir: inspected.Config.WorkingDir || "/",
        Labels: {
          ...this.extraLabels,
          [IMAGE_LABELS.managed]: "image",
          [IMAGE_LABELS.snapshotId]: options.snapshotId,
          [IMAGE_LABELS.sourceSandboxId]: sandboxId,
        },
      };
      await container.commit({
        _query: {
          container: inspected.Id,
          repo: ref.name,
          tag: ref.tag || "latest",
          pause: true,
          comment: `cove: sandbox ${sandboxId} for snapshot ${options.snapshotId}`,
        },
        _body: config,
      } as unknown as object);
      const committed = await this.inspect(image);
      if (!committed) throw new Error(`the commit of ${sandboxId} left no image ${image}`);
      this.logger.info("sandbox committed", {
        sandboxId,
        image,
        id: committed.id,
        ms: Math.round(performance.now() - begin),
      });
      progress.stage("committed", 100);
      return committed;
    });
    return options.push ? this.push(image, options.auth, progress) : info;
  }

  /** push uploads an image the runner holds to the registry its reference names. */
  async push(
    image: string,
    auth: RegistryAuth | undefined,
    progress: Progress,
  ): Promise<ImageInfo> {
    const ref = parseImageReference(image);
    return this.serialize(`push:${formatReference(ref)}`, async () => {
      const redact = createRedactor(auth);
      progress.stage("pushing", 0);
      const begin = performance.now();
      let stream: NodeJS.ReadableStream;
      try {
        stream = (await this.docker.getImage(ref.name).push({
          tag: ref.tag || "latest",
          authconfig: toAuthConfig(auth, ref.registry),
        })) as NodeJS.ReadableStream;
      } catch (err) {
        throw classifyRegistryError(image, redact(engineMessage(err)), "push");
      }
      let digest = "";
      const layers = new Map<string, { current: number; total: number }>();
      for await (const m of readEngineMessages(stream as AsyncIterable<Buffer>)) {
        if (m.error || m.errorDetail) {
          throw classifyRegistryError(
            image,
            redact(m.errorDetail?.message ?? m.error ?? ""),
            "push",
          );
        }
        if (m.aux?.Digest) digest = m.aux.Digest;
        this.pullStatus(m, layers, progress, redact, "pushing");
      }
      const info = await this.inspect(image);
      if (!info)
        throw notFound("IMAGE_NOT_FOUND", `the image ${image} vanished during its push`, { image });
      this.logger.info("image pushed", {
        image,
        digest,
        ms: Math.round(performance.now() - begin),
      });
      progress.stage("pushed", 100);
      return digest ? { ...info, digest } : info;
    });
  }

  /**
   * remove deletes the image reference from the runner; an absent image is success. While a
   * container uses it the engine keeps it and this fails with SNAPSHOT_STATE_CONFLICT (retryable).
   */
  async remove(image: string, snapshotId: string): Promise<void> {
    const ref = parseImageReference(image);
    await this.serialize(formatReference(ref), async () => {
      try {
        await this.docker.getImage(formatReference(ref)).remove({ force: false, noprune: false });
        this.logger.info("image removed", { image });
      } catch (err) {
        if (statusCode(err) === 404) return;
        if (statusCode(err) === 409) {
          throw markRetryable(
            failedPrecondition(
              "SNAPSHOT_STATE_CONFLICT",
              `the image ${image} is still used: ${engineMessage(err)}`,
              {
                snapshotId,
                state: "IN_USE",
              },
            ),
          );
        }
        throw err;
      }
    });
  }

  private producedReference(image: string): ImageReference {
    const ref = parseImageReference(image);
    if (ref.digest)
      throw invalidArgument("image", "an image to build or commit is named by a tag, not a digest");
    return ref;
  }

  private async followBuild(
    stream: NodeJS.ReadableStream,
    snapshotId: string,
    progress: Progress,
    redact: (text: string) => string,
  ): Promise<void> {
    const lines = new LineSplitter();
    let step = "";
    let tail: string[] = [];
    const take = (line: string) => {
      // The classic builder colours a step's stderr with ANSI escapes; lines carry text only.
      // biome-ignore lint/suspicious/noControlCharactersInRegex: ANSI escape sequences.
      const text = redact(line).replace(/\u001b\[[0-9;]*[A-Za-z]/g, "");
      if (/^Step \d+\/\d+ : /.test(text)) {
        step = text.replace(/^Step /, "");
        tail = [];
      } else {
        tail.push(text);
        if (tail.length > tailLines) tail.shift();
      }
      progress.line(text, "stdout");
    };
    const layers = new Map<string, { current: number; total: number }>();
    let failure: EngineMessage | undefined;
    for await (const m of readEngineMessages(stream as AsyncIterable<Buffer>)) {
      if (m.error || m.errorDetail) {
        failure = m;
        break;
      }
      if (m.stream !== undefined) for (const line of lines.push(m.stream)) take(line);
      else if (m.status !== undefined) this.pullStatus(m, layers, progress, redact, "building");
    }
    for (const line of lines.end()) take(line);
    if (!failure) return;
    const message = redact(failure.errorDetail?.message ?? failure.error ?? "the build failed");
    progress.line(message, "stderr");
    const output = tail
      .filter((l) => l.trim() !== "" && !/^ ---> |^Removing intermediate container /.test(l))
      .join("\n");
    throw failedPrecondition(
      "SNAPSHOT_BUILD_FAILED",
      `${step ? `build step ${step} failed: ` : "the build failed: "}${message}${output ? `\nlast output lines:\n${output}` : ""}`.slice(
        0,
        4000,
      ),
      { snapshotId, ...(step ? { step } : {}) },
    );
  }

  /** pullStatus turns pull/push status messages into a percentage and per-layer lines. */
  private pullStatus(
    m: EngineMessage,
    layers: Map<string, { current: number; total: number }>,
    progress: Progress,
    redact: (text: string) => string,
    stage = "pulling",
  ): void {
    if (!m.status) return;
    const id = m.id ?? "";
    const detail = m.progressDetail;
    if (id && detail?.total && detail.total > 0) {
      layers.set(id, { current: detail.current ?? 0, total: detail.total });
      let current = 0;
      let total = 0;
      for (const layer of layers.values()) {
        current += layer.current;
        total += layer.total;
      }
      progress.stage(stage, total > 0 ? (100 * current) / total : undefined);
      return;
    }
    if (/^(Downloading|Extracting|Pushing|Waiting|Preparing)$/.test(m.status)) return;
    if (id && /complete|Pushed|Layer already exists|Already exists/i.test(m.status)) {
      const layer = layers.get(id);
      if (layer) layer.current = layer.total;
    }
    progress.line(redact(id ? `${id}: ${m.status}` : m.status), "system");
  }

  /** serialize runs fn after every earlier call for the same key has settled. */
  private async serialize<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.locks.get(key) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const tail = run.catch(() => {});
    this.locks.set(key, tail);
    try {
      return await run;
    } finally {
      if (this.locks.get(key) === tail) this.locks.delete(key);
    }
  }
}

/** toInfo builds an ImageInfo from the engine's inspect data. */
function toInfo(image: string, ref: ImageReference, info: Dockerode.ImageInspectInfo): ImageInfo {
  const repoDigest = (info.RepoDigests ?? []).find((d) => d.startsWith(`${ref.name}@`));
  return {
    image,
    digest: ref.digest || (repoDigest ? repoDigest.slice(repoDigest.indexOf("@") + 1) : info.Id),
    id: info.Id,
    sizeMib: Math.ceil((info.Size ?? 0) / 1024 / 1024),
  };
}

/** plainLabels renders labels as one Dockerfile LABEL line, or "" when a value needs more than plain characters. */
function plainLabels(labels: Record<string, string>): string {
  const plain = /^[A-Za-z0-9._:/@+=-]*$/;
  const entries = Object.entries(labels);
  if (entries.some(([k, v]) => !plain.test(k) || !plain.test(v))) return "";
  return `LABEL ${entries.map(([k, v]) => `"${k}"="${v}"`).join(" ")}`;
}

/** parseBaseRegistry finds the registry of the Dockerfile's first FROM (for build credentials). */
function parseBaseRegistry(dockerfile: string): string {
  const from = /^\s*FROM\s+(?:--\S+\s+)*(\S+)/im.exec(dockerfile)?.[1];
  if (!from) return "docker.io";
  try {
    return parseImageReference(from).registry;
  } catch {
    return "docker.io";
  }
}
