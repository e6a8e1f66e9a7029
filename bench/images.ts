// Benchmark: snapshot images and archives through the runner against the tools they stand in
// for, in one run on the same disk.
//
// - Build: a small Dockerfile (FROM the base image, COPY, two RUN steps) through the runner's
//   BuildSnapshotImage path (ImageManager: tar context → the engine's build API) vs
//   `docker build` (classic builder, like the API) of the same Dockerfile and context; a build
//   argument that changes every round keeps the cache from answering. Target ≤ 1.1×.
// - Archive and restore: a stopped sandbox holding ~1 GiB (four 256 MiB files) archived to the
//   local store and restored (container created, layer unpacked, sandbox started) vs `tar -c`
//   of the same writable layer to a file on the same disk and `tar -x` of it, in MiB/s of data.
//   Three rounds, medians. The S3 figure (s3rver on loopback) is printed too, without a baseline.
//
// Run: `npm run bench:images` (needs Docker; about two minutes).
import { spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createLogger } from "@cove/common";
import Dockerode from "dockerode";
import { buildKit } from "../daemon/scripts/build-kit.mjs";
import { dockerUnreachableReason } from "../daemon/test/docker-images.js";
import { ArchiveManager } from "../runner/src/archive/archive-manager.js";
import { DockerDriver } from "../runner/src/domain/docker-driver.js";
import { silentProgress } from "../runner/src/domain/progress.js";
import type { SandboxSpec } from "../runner/src/domain/sandbox-driver.js";
import { ImageManager } from "../runner/src/images/image-manager.js";
import { startS3 } from "../runner/test/s3-server.js";
import { ensureBaseImage } from "../scripts/build-base-image.mjs";

const rounds = Number(process.env.BENCH_ROUNDS ?? 5);
const dataMib = Number(process.env.BENCH_ARCHIVE_MIB ?? 1024);
const label = { "dev.cove.bench": "images" };

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)] ?? Number.NaN;
};

function sh(
  program: string,
  args: string[],
  options: { cwd?: string; env?: NodeJS.ProcessEnv; input?: string } = {},
) {
  const result = spawnSync(program, args, {
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    ...options,
  });
  if (result.status !== 0) throw new Error(`${program} ${args.join(" ")} failed: ${result.stderr}`);
  return result.stdout;
}

const unreachable = dockerUnreachableReason();
if (unreachable !== undefined) {
  console.error(
    `The Docker engine is not reachable (${unreachable}); run \`npm test\` once or start dockerd.`,
  );
  process.exit(1);
}

const kit = await buildKit({ log: () => {} });
const { image: base } = await ensureBaseImage({ log: () => {} });
const docker = new Dockerode();
const logger = createLogger({ level: "silent" });
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cove-bench-images-"));
const images = new ImageManager({ docker, logger, extraLabels: label });
const driver = new DockerDriver({
  docker,
  kitDir: kit.dir,
  kitEntrypoint: kit.manifest.entrypoint,
  dataDir,
  defaultRuntime: "",
  logger,
  extraLabels: label,
});
const s3 = await startS3();
const archives = new ArchiveManager({ docker, driver, images, dataDir, s3: s3.settings, logger });
const made: string[] = [];

try {
  // --- Build -------------------------------------------------------------------------------
  const dockerfile = `FROM ${base}\nARG NONCE\nCOPY app /opt/app\nRUN echo "$NONCE" > /opt/app/nonce && seq 1 20000 > /opt/app/numbers\nRUN wc -l /opt/app/numbers /opt/app/main.py\n`;
  const files = [
    { path: "app/main.py", content: Buffer.from("print('hello')\n".repeat(200)) },
    { path: "app/data.bin", content: Buffer.alloc(2 * 1024 * 1024, 7) },
  ];
  const contextDir = fs.mkdtempSync(path.join(os.tmpdir(), "cove-bench-ctx-"));
  for (const f of files) {
    fs.mkdirSync(path.join(contextDir, path.dirname(f.path)), { recursive: true });
    fs.writeFileSync(path.join(contextDir, f.path), f.content);
  }
  fs.writeFileSync(path.join(contextDir, "Dockerfile"), dockerfile);
  const runner: number[] = [];
  const cli: number[] = [];
  for (let i = -1; i < rounds; i++) {
    const nonce = `${Date.now()}-${i}`;
    const tagR = `cove-bench/build-runner:${i + 1}`;
    const tagC = `cove-bench/build-cli:${i + 1}`;
    made.push(tagR, tagC);
    let t = performance.now();
    await images.build(
      tagR,
      { content: dockerfile, files, buildArgs: { NONCE: nonce }, target: "" },
      { snapshotId: "bench", push: false },
      silentProgress,
    );
    const r = performance.now() - t;
    t = performance.now();
    sh("docker", ["build", "-q", "--build-arg", `NONCE=${nonce}x`, "-t", tagC, contextDir], {
      env: { ...process.env, DOCKER_BUILDKIT: "0" },
    });
    const c = performance.now() - t;
    if (i >= 0) {
      runner.push(r);
      cli.push(c);
    }
  }
  fs.rmSync(contextDir, { recursive: true, force: true });
  const buildRatio = median(runner) / median(cli);
  console.log(
    `build (${rounds} rounds, no cache): runner ${median(runner).toFixed(0)} ms, docker build ${median(cli).toFixed(0)} ms, ratio ${buildRatio.toFixed(2)}× (target ≤ 1.1×)`,
  );

  // --- Archive and restore -----------------------------------------------------------------
  const sandboxId = `benchimg${Date.now().toString(36)}`;
  const spec: SandboxSpec = {
    sandboxId,
    organizationId: "bench",
    image: base,
    cpuMillicores: 0,
    memoryMib: 0,
    diskMib: 0,
    env: {},
    labels: {},
    osUser: "",
    network: "none",
    runtime: "",
  };
  await driver.create(spec);
  await driver.start(sandboxId);
  const part = Math.floor(dataMib / 4);
  sh("docker", [
    "exec",
    sandboxId,
    "sh",
    "-c",
    `mkdir -p /home/cove/data && for n in 1 2 3 4; do head -c ${part}M /dev/urandom > /home/cove/data/part$n; done`,
  ]);
  await driver.stop(sandboxId, 1000);
  const mib = part * 4;
  const archiveRounds = Number(process.env.BENCH_ARCHIVE_ROUNDS ?? 3);
  const tarC: number[] = [];
  const tarX: number[] = [];
  const arc: number[] = [];
  const res: number[] = [];
  const uri = archives.archiveUriFor(sandboxId);
  const upperDir = async () => {
    const data = (await docker.getContainer(sandboxId).inspect()).GraphDriver.Data;
    return (data as unknown as Record<string, string>).UpperDir as string;
  };
  for (let round = 0; round < archiveRounds; round++) {
    if (round > 0) await driver.stop(sandboxId, 1000);
    const upper = await upperDir();
    // Baseline: tar of the same layer to the same disk, and back.
    sh("sync", []);
    const baselineTar = path.join(dataDir, "baseline.tar");
    let t = performance.now();
    sh("tar", [
      "--create",
      `--file=${baselineTar}`,
      "--format=posix",
      "--sparse",
      "--numeric-owner",
      "--xattrs",
      `--directory=${upper}`,
      ".",
    ]);
    sh("sync", []);
    tarC.push(performance.now() - t);
    const baselineOut = path.join(dataDir, "baseline-out");
    fs.mkdirSync(baselineOut);
    t = performance.now();
    sh("tar", [
      "--extract",
      `--file=${baselineTar}`,
      "--numeric-owner",
      "--xattrs",
      "--same-permissions",
      `--directory=${baselineOut}`,
    ]);
    sh("sync", []);
    tarX.push(performance.now() - t);
    fs.rmSync(baselineTar, { force: true });
    fs.rmSync(baselineOut, { recursive: true, force: true });

    sh("sync", []);
    t = performance.now();
    await archives.archive(sandboxId, uri, silentProgress);
    sh("sync", []);
    arc.push(performance.now() - t);
    t = performance.now();
    await archives.restore(spec, uri, undefined, silentProgress);
    await driver.start(sandboxId);
    sh("sync", []);
    res.push(performance.now() - t);
  }
  const rate = (ms: number) => mib / (ms / 1000);
  const line = (what: string, ours: number[], theirs: number[], tool: string) =>
    console.log(
      `${what} ${mib} MiB (median of ${archiveRounds}): ${rate(median(ours)).toFixed(0)} MiB/s vs ${tool} ${rate(median(theirs)).toFixed(0)} MiB/s, ratio ${(rate(median(ours)) / rate(median(theirs))).toFixed(2)}×`,
    );
  line("archive to the local store", arc, tarC, "tar -c");
  line("restore from the local store (create + unpack + start)", res, tarX, "tar -x");

  // The same through S3 (s3rver on loopback: a Node server writing to the same disk).
  await driver.stop(sandboxId, 1000);
  const s3Uri = `s3://${s3.bucket}/${sandboxId}.tar`;
  let t = performance.now();
  await archives.archive(sandboxId, s3Uri, silentProgress);
  const arcS3 = performance.now() - t;
  t = performance.now();
  await archives.restore(spec, s3Uri, undefined, silentProgress);
  await driver.start(sandboxId);
  const resS3 = performance.now() - t;
  console.log(
    `S3 (s3rver): archive ${rate(arcS3).toFixed(0)} MiB/s, restore ${rate(resS3).toFixed(0)} MiB/s; runner RSS ${Math.round(process.memoryUsage().rss / 1024 / 1024)} MiB`,
  );
  await driver.destroy(sandboxId);
} finally {
  for (const c of sh("docker", ["ps", "-aq", "--filter", "label=dev.cove.bench=images"])
    .trim()
    .split("\n")
    .filter(Boolean)) {
    spawnSync("docker", ["rm", "-f", "-v", c]);
  }
  for (const tag of made) spawnSync("docker", ["rmi", "-f", tag]);
  await s3.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
}
