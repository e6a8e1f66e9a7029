// Benchmark: a sandbox's create-to-ready latency through the runner's Docker driver (create,
// start, and the daemon answering health on its socket) against a raw Docker Engine API
// create+start of the same image running `sleep infinity` — the same image, interleaved, in
// one run. Prints medians, p90 and the ratio. Run: `npm run bench:runner` (needs Docker).
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createLogger } from "@cove/common";
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
const driver = new DockerDriver({
  docker,
  kitDir: kit.dir,
  kitEntrypoint: kit.manifest.entrypoint,
  dataDir,
  defaultRuntime: "",
  logger: createLogger({ level: "silent" }),
  extraLabels: label,
});

const cove: number[] = [];
const raw: number[] = [];
try {
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
      runtime: "",
    });
    await driver.start(id);
    const coveMs = performance.now() - t;
    await driver.destroy(id);

    t = performance.now();
    const container = await docker.createContainer({
      Image: image,
      Cmd: ["sleep", "infinity"],
      Labels: label,
      HostConfig: { NetworkMode: "none", Memory: 512 * 1024 * 1024, NanoCpus: 1e9, Init: true },
    });
    await container.start();
    const rawMs = performance.now() - t;
    await container.remove({ force: true });
    if (i >= 0) {
      cove.push(coveMs);
      raw.push(rawMs);
    }
  }
} finally {
  fs.rmSync(dataDir, { recursive: true, force: true });
}

const rows = [
  ["Cove driver create → daemon healthy", cove],
  ["Docker API create + start", raw],
] as const;
console.log(`create-to-ready, ${rounds} rounds interleaved (after one warm-up), image ${image}`);
for (const [name, xs] of rows) {
  console.log(
    `  ${name.padEnd(40)} median ${median(xs).toFixed(1)} ms   p90 ${p90(xs).toFixed(1)} ms`,
  );
}
console.log(`  ratio (Cove / raw Docker), medians: ${(median(cove) / median(raw)).toFixed(2)}`);
