// A runner process killed (SIGKILL) in the middle of an archive and in the middle of a restore
// loses nothing: the container stays until the archive is complete in the store, the
// redelivered command converges, and the restore — on another runner, with its own data
// directory — brings back the same bytes. Real runner processes (runner/src/main.ts) against
// the fake control plane, a real S3-API server and the Docker engine.
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { HeadObjectCommand } from "@aws-sdk/client-s3";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import type { RunnerCommandSchema } from "@cove/gen-ts/cove/runner/v1/runner_pb.js";
import { SandboxState } from "@cove/gen-ts/cove/sandbox/v1/sandbox_pb.js";
import { ProcessService } from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import { buildKit } from "../../daemon/scripts/build-kit.mjs";
import { docker, dockerUnreachableReason } from "../../daemon/test/docker-images.js";
import { ensureBaseImage } from "../../scripts/build-base-image.mjs";
import { createS3Client } from "../src/archive/s3-object-store.js";
import { FakeControlPlane } from "./fake-control-plane.js";
import { MANIFEST_PATHS, MANIFEST_SCRIPT, populateCommand } from "./fs-manifest.js";
import { unmountUnder } from "./mounts.js";
import { startS3, type TestS3 } from "./s3-server.js";

const unreachable = dockerUnreachableReason();
const required = process.env.COVE_REQUIRE_DOCKER === "1";
const describeWithDocker = unreachable !== undefined && !required ? describe.skip : describe;
if (unreachable !== undefined && !required)
  console.warn(`Skipping the archive crash test: ${unreachable}`);

const root = path.resolve(__dirname, "../..");
const token = "crash-token";
const run = Date.now().toString(36).slice(-6);
let sandboxId = `rtcrash${run}`;

describeWithDocker("a runner killed mid-archive and mid-restore", () => {
  let plane: FakeControlPlane;
  let s3: TestS3;
  let kitDir: string;
  let image: string;
  let archiveDir: string;
  const dataDirs: string[] = [];
  const children = new Set<ChildProcess>();
  const runnerIds = [`crash-a-${run}`, `crash-b-${run}`];

  async function startRunnerProcess(runnerId: string, dataDir: string): Promise<ChildProcess> {
    const hellos = plane.hellos.length;
    // Node itself with tsx's loader (the tsx CLI would add a wrapper process that SIGKILL misses).
    const child = spawn(
      process.execPath,
      ["--import", "tsx", path.join(root, "runner/src/main.ts")],
      {
        cwd: root,
        env: {
          PATH: process.env.PATH,
          HOME: process.env.HOME,
          COVE_RUNNER_ID: runnerId,
          COVE_RUNNER_SERVER_URL: plane.url,
          COVE_RUNNER_TOKEN: token,
          COVE_RUNNER_GATEWAY_TOKEN: "gw",
          COVE_RUNNER_GATEWAY_PORT: "0",
          COVE_RUNNER_DATA_DIR: dataDir,
          COVE_RUNNER_KIT_DIR: kitDir,
          // Shared by both runners, like a network file system.
          COVE_RUNNER_ARCHIVE_DIR: archiveDir,
          COVE_RUNNER_S3_ENDPOINT: s3.settings.endpoint,
          COVE_RUNNER_S3_ACCESS_KEY_ID: s3.settings.accessKeyId,
          COVE_RUNNER_S3_SECRET_ACCESS_KEY: s3.settings.secretAccessKey,
        },
        stdio: ["ignore", "ignore", "pipe"],
      },
    );
    children.add(child);
    child.stderr?.resume();
    child.on("exit", () => children.delete(child));
    await plane.waitFor(
      () => plane.hellos.slice(hellos).some((h) => h.runnerId === runnerId),
      60_000,
      `${runnerId}'s hello`,
    );
    return child;
  }

  async function kill(child: ChildProcess): Promise<void> {
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once("exit", r));
    child.kill("SIGKILL");
    await exited;
  }

  const send = (
    commandId: string,
    command: MessageInitShape<typeof RunnerCommandSchema>["command"],
    attempt = 1,
  ) => plane.send({ commandId, attempt, command });

  const progressed = (commandId: string, stage: string, percent: number) =>
    plane.waitFor(
      () =>
        plane.progress.some(
          (p) => p.commandId === commandId && p.stage === stage && (p.percent ?? 0) >= percent,
        ),
      120_000,
      `${commandId} at ${stage} ${percent}%`,
    );

  const exec = async (dataDir: string, command: string) => {
    const socket = path.join(dataDir, "sandboxes", sandboxId, "run", "daemon.sock");
    const transport = createGrpcTransport({
      baseUrl: "http://daemon.local",
      nodeOptions: { createConnection: () => net.connect(socket) },
      defaultTimeoutMs: 60_000,
    });
    const res = await createClient(ProcessService, transport).exec({
      program: { case: "command", value: command },
      user: "root",
    });
    return Buffer.from(res.stdout).toString("utf8") + Buffer.from(res.stderr).toString("utf8");
  };
  const manifest = (dataDir: string) =>
    exec(
      dataDir,
      `python3 -c '${MANIFEST_SCRIPT.replace(/'/g, "'\\''")}' ${MANIFEST_PATHS.join(" ")}`,
    );
  /** until polls a condition every 5 ms (for moments too short for a progress message). */
  const until = async (check: () => boolean, timeoutMs = 60_000) => {
    const end = Date.now() + timeoutMs;
    while (!check()) {
      if (Date.now() > end) throw new Error("timed out");
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  const partialBytes = (dir: string) => {
    try {
      return fs
        .readdirSync(dir)
        .filter((n) => n.includes(".partial-"))
        .reduce((sum, n) => sum + fs.statSync(path.join(dir, n)).size, 0);
    } catch {
      return 0;
    }
  };
  /** unpackedBytes is how much of the big file a restore has written into the new container's layer. */
  let upperOfRestore = "";
  const unpackedBytes = () => {
    try {
      // One inspect once the container exists; after that only a stat per poll.
      upperOfRestore ||= JSON.parse(
        docker(["inspect", "--format", "{{json .GraphDriver.Data}}", sandboxId]),
      ).UpperDir;
      return fs.statSync(path.join(upperOfRestore, "home/cove/tree/big.bin")).size;
    } catch {
      return 0;
    }
  };
  const containerExists = () =>
    docker(["ps", "-aq", "--filter", `name=^${sandboxId}$`]).trim() !== "";

  beforeAll(async () => {
    if (unreachable !== undefined) throw new Error(`COVE_REQUIRE_DOCKER=1 but: ${unreachable}`);
    kitDir = (await buildKit({ log: () => {} })).dir;
    image = (await ensureBaseImage({ log: () => {} })).image;
    s3 = await startS3();
    plane = new FakeControlPlane(token);
    await plane.start();
    archiveDir = fs.mkdtempSync(path.join(os.tmpdir(), "cove-crash-archives-"));
    dataDirs.push(archiveDir);
  }, 600_000);

  afterAll(async () => {
    for (const child of children) await kill(child);
    for (const id of runnerIds) {
      for (const c of docker(["ps", "-aq", "--filter", `label=dev.cove.runner-id=${id}`])
        .trim()
        .split("\n")
        .filter(Boolean)) {
        docker(["rm", "-f", "-v", c]);
      }
    }
    for (const dir of dataDirs) {
      unmountUnder(dir);
      fs.rmSync(dir, { recursive: true, force: true });
    }
    await plane?.kill();
    await s3?.stop();
  });

  test.each(["s3", "file"])(
    "%s: kill -9 during the upload, then during the restore: redelivery converges, nothing is lost",
    async (store) => {
      sandboxId = `rtcrash${run}${store}`;
      upperOfRestore = "";
      const c = (name: string) => `${store}-${name}`;
      const dataA = fs.mkdtempSync(path.join(os.tmpdir(), "cove-crash-a-"));
      const dataB = fs.mkdtempSync(path.join(os.tmpdir(), "cove-crash-b-"));
      dataDirs.push(dataA, dataB);
      const spec = {
        sandboxId,
        organizationId: "org",
        image,
        resources: { cpuMillicores: 1000, memoryMib: 512 },
      };
      const uri =
        store === "s3"
          ? `s3://${s3.bucket}/crash/${sandboxId}.tar`
          : `file://${archiveDir}/crash/${sandboxId}.tar`;

      let runner = await startRunnerProcess(runnerIds[0] as string, dataA);
      send(c("create"), { case: "createSandbox", value: { spec } });
      expect((await plane.result(c("create"), 120_000)).outcome.case).toBe("success");
      expect(await exec(dataA, `${populateCommand(200)} && echo populated`)).toBe("populated\n");
      const before = await manifest(dataA);
      send(c("stop"), { case: "stopSandbox", value: { sandboxId, gracePeriod: { seconds: 1n } } });
      await plane.result(c("stop"));

      // 1. SIGKILL while the archive is uploading.
      send(c("archive"), { case: "archiveSandbox", value: { sandboxId, archiveUri: uri } });
      if (store === "s3") await progressed(c("archive"), "uploading", 5);
      // The local store is too fast for a progress message to arrive first: watch the disk.
      else
        await until(
          () => partialBytes(path.dirname(uri.slice("file://".length))) > 32 * 1024 * 1024,
        );
      await kill(runner);
      expect(plane.results.has(c("archive"))).toBe(false);
      expect(containerExists()).toBe(true);
      if (store === "s3") {
        const client = createS3Client(s3.settings);
        const head = await client
          .send(new HeadObjectCommand({ Bucket: s3.bucket, Key: `crash/${sandboxId}.tar` }))
          .catch((e) => e);
        expect(head.$metadata?.httpStatusCode).toBe(404);
      } else {
        // Only a partial file: the archive's own name appears once it is complete.
        expect(fs.existsSync(uri.slice("file://".length))).toBe(false);
      }

      runner = await startRunnerProcess(runnerIds[0] as string, dataA);
      send(c("archive"), { case: "archiveSandbox", value: { sandboxId, archiveUri: uri } }, 2);
      const archived = await plane.result(c("archive"), 180_000);
      expect(archived.outcome.case).toBe("success");
      expect(containerExists()).toBe(false);
      await kill(runner);

      // 2. Restore on another runner; SIGKILL while it unpacks.
      runner = await startRunnerProcess(runnerIds[1] as string, dataB);
      send(c("restore"), { case: "restoreSandbox", value: { spec, archiveUri: uri } });
      if (store === "s3") await progressed(c("restore"), "restoring", 20);
      else await until(() => unpackedBytes() > 8 * 1024 * 1024);
      await kill(runner);
      expect(plane.results.has(c("restore"))).toBe(false);

      runner = await startRunnerProcess(runnerIds[1] as string, dataB);
      send(c("restore"), { case: "restoreSandbox", value: { spec, archiveUri: uri } }, 2);
      const restored = await plane.result(c("restore"), 180_000);
      expect(
        restored.outcome.case === "success" && restored.outcome.value.payload.case === "sandbox"
          ? restored.outcome.value.payload.value.sandbox?.state
          : restored.outcome.value,
      ).toBe(SandboxState.STARTED);
      expect(await manifest(dataB)).toBe(before);
      const restoreLog = plane.progress
        .filter((p) => p.commandId === c("restore"))
        .flatMap((p) => p.logLines.map((l) => l.text));
      expect(restoreLog).toContain("an earlier restore did not finish; starting it over");
      expect(
        plane.reports.some((r) => r.sandboxId === sandboxId && r.state === SandboxState.RESTORING),
      ).toBe(true);
      await kill(runner);
    },
    600_000,
  );
});
