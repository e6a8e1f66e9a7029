// Benchmark: a sandbox's create-to-ready latency through the runner's Docker driver (create,
// start, and the daemon answering health on its socket) and one Exec of `true` through the
// daemon's socket, against a raw Docker Engine API create+start of the same image running
// `sleep infinity` — the same image, interleaved, in one run, under runc and (when dockerd
// has it) gVisor's runsc. Prints medians, p90 and the ratios. Run: `npm run bench:runner`.
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createLogger } from "@cove/common";
import { ProcessService } from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import Dockerode from "dockerode";
import { buildKit } from "../daemon/scripts/build-kit.mjs";
import { dockerUnreachableReason } from "../daemon/test/docker-images.js";
import { DockerDriver } from "../runner/src/domain/docker-driver.js";
import { ensureBaseImage } from "../scripts/build-base-image.mjs";

const rounds = Number(process.env.BENCH_ROUNDS ?? 10);
const label = { "dev.cove.bench": "runner-create" };

function percentile(sorted: number[], p: number): number {
  return (
    sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN
  );
}
const median = (xs: number[]) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    50,
  );
const p90 = (xs: number[]) =>
  percentile(
    [...xs].sort((a, b) => a - b),
    90,
  );

const unreachable = dockerUnreachableReason();
if (unreachable !== undefined) {
  console.error(
    `The Docker engine is not reachable (${unreachable}); run \`npm test\` once or start dockerd.`,
  );
  process.exit(1);
}

const kit = await buildKit({ log: () => {} });
const { image } = await ensureBaseImage({ log: () => {} });
const docker = new Dockerode();
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cove-bench-runner-"));
const info = (await docker.info()) as { Runtimes?: Record<string, unknown> };
const runtimes = ["runc", ...(info.Runtimes && "runsc" in info.Runtimes ? ["runsc"] : [])];

/** measure runs `rounds` interleaved rounds (after one warm-up) under one runtime. */
async function measure(runtime: string) {
  const driver = new DockerDriver({
    docker,
    kitDir: kit.dir,
    kitEntrypoint: kit.manifest.entrypoint,
    dataDir,
    defaultRuntime: runtime,
    logger: createLogger({ level: "silent" }),
    extraLabels: label,
  });
  const cove: number[] = [];
  const exec: number[] = [];
  const raw: number[] = [];
  for (let i = -1; i < rounds; i++) {
    const id = `bench${Date.now().toString(36)}${i + 1}`;
    let t = performance.now();
    await driver.create({
      sandboxId: id,
      organizationId: "bench",
      image,
      cpuMillicores: 1000,
      memoryMib: 512,
      diskMib: 0,
      env: {},
      labels: {},
      osUser: "",
      network: "none",
      runtime,
    });
    await driver.start(id);
    const coveMs = performance.now() - t;
    const client = createClient(
      ProcessService,
      createGrpcTransport({
        baseUrl: "http://daemon.local",
        nodeOptions: { createConnection: () => net.connect(driver.socketPath(id)) },
      }),
    );
    await client.exec({ program: { case: "command", value: "true" } });
    t = performance.now();
    await client.exec({ program: { case: "command", value: "true" } });
    const execMs = performance.now() - t;
    await driver.destroy(id);

    t = performance.now();
    const container = await docker.createContainer({
      Image: image,
      Cmd: ["sleep", "infinity"],
      Labels: label,
      HostConfig: {
        NetworkMode: "none",
        Memory: 512 * 1024 * 1024,
        NanoCpus: 1e9,
        Init: runtime === "runc",
        Runtime: runtime,
      },
    });
    await container.start();
    const rawMs = performance.now() - t;
    await container.remove({ force: true });
    if (i >= 0) {
      cove.push(coveMs);
      exec.push(execMs);
      raw.push(rawMs);
    }
  }
  return { cove, exec, raw };
}

try {
  console.log(
    `create-to-ready and Exec, ${rounds} rounds interleaved (after one warm-up), image ${image}`,
  );
  for (const runtime of runtimes) {
    const { cove, exec, raw } = await measure(runtime);
    const rows = [
      [`${runtime}: Cove driver create → daemon healthy`, cove],
      [`${runtime}: Docker API create + start`, raw],
      [`${runtime}: Exec of \`true\` through the daemon`, exec],
    ] as const;
    for (const [name, xs] of rows) {
      console.log(
        `  ${name.padEnd(48)} median ${median(xs).toFixed(1)} ms   p90 ${p90(xs).toFixed(1)} ms`,
      );
    }
    console.log(
      `  ${runtime}: ratio (Cove / raw Docker), medians: ${(median(cove) / median(raw)).toFixed(2)}`,
    );
  }
} finally {
  fs.rmSync(dataDir, { recursive: true, force: true });
}
