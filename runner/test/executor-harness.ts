// A runner's command executor over the real Docker driver and the real image, archive and
// volume managers, with no stream in between: tests send protocol commands and read every
// result, report and progress message the runner would have sent.
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { create } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createLogger, type Logger } from "@cove/common";
import {
  type CommandProgress,
  CommandProgressSchema,
  type CommandResult,
  CommandResultSchema,
  RunnerCommandSchema as CommandSchema,
  type RunnerCommandSchema,
} from "@cove/gen-ts/cove/runner/v1/runner_pb.js";
import { FilesystemService } from "@cove/gen-ts/cove/toolbox/v1/filesystem_service_pb.js";
import { ProcessService } from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import Dockerode from "dockerode";
import { buildKit } from "../../daemon/scripts/build-kit.mjs";
import { docker } from "../../daemon/test/docker-images.js";
import { ArchiveManager } from "../src/archive/archive-manager.js";
import type { S3Settings } from "../src/archive/s3-object-store.js";
import { CommandExecutor, type ExecutorOutput } from "../src/control/command-executor.js";
import { DockerDriver } from "../src/domain/docker-driver.js";
import { ImageManager } from "../src/images/image-manager.js";
import { VolumeManager } from "../src/volumes/volume-manager.js";

/** The command oneof, as tests write it. */
export type CommandBody = MessageInitShape<typeof RunnerCommandSchema>["command"];

/** A line-capturing logger: everything the runner logs, as JSON text, for "no secret in logs" checks. */
export function capturingLogger(): { logger: Logger; lines: string[] } {
  const lines: string[] = [];
  const logger = createLogger({ level: "debug", write: (line) => lines.push(line) });
  return { logger, lines };
}

/** A started harness. */
export interface ExecutorHarness {
  /** The runner's data directory. */
  dataDir: string;
  /** The Docker engine client. */
  docker: Dockerode;
  /** The managers. */
  images: ImageManager;
  /** Archives. */
  archives: ArchiveManager;
  /** Volumes. */
  volumes: VolumeManager;
  /** Every output in order. */
  outputs: ExecutorOutput[];
  /** run sends one command and resolves with its result. */
  run(body: CommandBody, commandId?: string): Promise<CommandResult>;
  /** progressOf lists the progress messages of one command. */
  progressOf(commandId: string): CommandProgress[];
  /** logText is every progress log line of a command, joined by newlines. */
  logText(commandId: string): string;
  /** exec runs a shell command in a started sandbox through its daemon socket. */
  exec(
    sandboxId: string,
    command: string,
    user?: string,
  ): Promise<{ out: string; err: string; code: number }>;
  /** files is a FilesystemService client of a sandbox. */
  files(sandboxId: string): ReturnType<typeof createClient<typeof FilesystemService>>;
  /** close removes the test's containers and data. */
  close(): Promise<void>;
}

let counter = 0;

/** startExecutorHarness builds the kit and wires a CommandExecutor to fresh managers. */
export async function startExecutorHarness(options: {
  label: string;
  logger?: Logger;
  s3?: S3Settings;
  archiveMode?: "auto" | "export";
}): Promise<ExecutorHarness> {
  const kit = await buildKit({ log: () => {} });
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cove-exec-"));
  const engine = new Dockerode();
  const logger = options.logger ?? createLogger({ level: "silent" });
  const labels = { "dev.cove.test": options.label };
  const volumes = new VolumeManager({ dataDir, docker: engine, logger });
  const images = new ImageManager({ docker: engine, logger, extraLabels: labels });
  const driver = new DockerDriver({
    docker: engine,
    kitDir: kit.dir,
    kitEntrypoint: kit.manifest.entrypoint,
    dataDir,
    defaultRuntime: "",
    logger,
    extraLabels: labels,
    extraMounts: (spec) => volumes.mountsFor(spec),
  });
  const archives = new ArchiveManager({
    docker: engine,
    driver,
    images,
    dataDir,
    s3: options.s3,
    mode: options.archiveMode,
    logger,
  });
  const outputs: ExecutorOutput[] = [];
  const waiters = new Map<string, (r: CommandResult) => void>();
  const executor = new CommandExecutor(
    driver,
    (out) => {
      outputs.push(out);
      if (out.kind === "result") {
        const result = create(CommandResultSchema, out.result);
        waiters.get(result.commandId)?.(result);
      }
    },
    logger,
    { images, archives, volumes },
  );
  const progressOf = (commandId: string): CommandProgress[] =>
    outputs
      .filter((o): o is Extract<ExecutorOutput, { kind: "progress" }> => o.kind === "progress")
      .map((o) => create(CommandProgressSchema, o.progress))
      .filter((p) => p.commandId === commandId);
  const transport = (sandboxId: string) =>
    createGrpcTransport({
      baseUrl: "http://daemon.local",
      nodeOptions: { createConnection: () => net.connect(driver.socketPath(sandboxId)) },
      defaultTimeoutMs: 60_000,
    });
  return {
    dataDir,
    docker: engine,
    images,
    archives,
    volumes,
    outputs,
    run(body, commandId = `c${process.pid}-${++counter}`) {
      const done = new Promise<CommandResult>((resolve) => waiters.set(commandId, resolve));
      executor.handle(create(CommandSchema, { commandId, attempt: 1, command: body }));
      return done;
    },
    progressOf,
    logText(commandId) {
      return progressOf(commandId)
        .flatMap((p) => p.logLines.map((l) => l.text))
        .join("\n");
    },
    async exec(sandboxId, command, user = "") {
      const res = await createClient(ProcessService, transport(sandboxId)).exec({
        program: { case: "command", value: command },
        user,
      });
      const text = (b: Uint8Array) => Buffer.from(b).toString("utf8");
      return { out: text(res.stdout), err: text(res.stderr), code: res.exitCode };
    },
    files: (sandboxId) => createClient(FilesystemService, transport(sandboxId)),
    async close() {
      await executor.idle();
      for (const id of docker(["ps", "-aq", "--filter", `label=dev.cove.test=${options.label}`])
        .trim()
        .split("\n")
        .filter(Boolean)) {
        docker(["rm", "-f", "-v", id]);
      }
      await volumes.releaseAll();
      fs.rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

/** removeImages deletes the images carrying the test label (built or committed by a test) and the given tags. */
export function removeImages(label: string, tags: string[] = []): void {
  const ids = docker(["images", "-q", "--filter", `label=dev.cove.test=${label}`])
    .trim()
    .split("\n")
    .filter(Boolean);
  for (const ref of [...tags, ...new Set(ids)]) {
    try {
      docker(["rmi", "-f", ref]);
    } catch {
      // already gone
    }
  }
}
