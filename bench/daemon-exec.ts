// Benchmark: running `true` in a sandbox through the daemon's unix socket (ProcessService.Exec)
// against `docker exec`, plus the daemon's memory and the container's start and stop times.
// One container from the daemon kit in an image without Node; the two ways alternate so both
// see the same machine state. Run: `npm run bench:daemon` (needs the Docker engine).
import { createClient } from "@connectrpc/connect";
import { ProcessService } from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import { buildKit } from "../daemon/scripts/build-kit.mjs";
import {
  docker,
  dockerUnreachableReason,
  ensureNoNodeImage,
} from "../daemon/test/docker-images.js";
import { startKitContainer } from "../daemon/test/kit-container.js";

const rounds = Number(process.env.BENCH_ROUNDS ?? 50);
const warmup = 5;

/** percentile of sorted samples (nearest rank). */
function percentile(sorted: number[], p: number): number {
  return (
    sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN
  );
}

/** memory reads VmRSS and VmHWM (kB) of a process inside the container. */
function memory(container: string, pid: number): { rss: number; hwm: number } {
  const status = docker(["exec", container, "cat", `/proc/${pid}/status`]);
  const field = (name: string) =>
    Number(new RegExp(`^${name}:\\s+(\\d+) kB`, "m").exec(status)?.[1]);
  return { rss: field("VmRSS"), hwm: field("VmHWM") };
}

const unreachable = dockerUnreachableReason();
if (unreachable !== undefined) {
  console.error(
    `The Docker engine is not reachable (${unreachable}); run \`npm test\` once or start dockerd.`,
  );
  process.exit(1);
}

const kit = await buildKit();
const container = await startKitContainer({
  kitDir: kit.dir,
  entrypoint: kit.manifest.entrypoint,
  image: ensureNoNodeImage(),
  command: ["sleep", "86400"],
});
try {
  // The daemon is cove-init's child (PID 2 unless something else was started first).
  const children = docker(["exec", container.name, "cat", "/proc/1/task/1/children"]).trim();
  const daemonPid = Number(children.split(/\s+/)[0] ?? 2);
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const idle = memory(container.name, daemonPid);

  const processes = createClient(ProcessService, container.transport);
  const viaSocket = async () => {
    const begin = performance.now();
    const res = await processes.exec({ program: { case: "argv", value: { args: ["true"] } } });
    if (res.exitCode !== 0) throw new Error(`Exec of true exited ${res.exitCode}`);
    return performance.now() - begin;
  };
  const viaDockerExec = () => {
    const begin = performance.now();
    docker(["exec", container.name, "true"]);
    return performance.now() - begin;
  };

  for (let i = 0; i < warmup; i++) {
    await viaSocket();
    viaDockerExec();
  }
  const socket: number[] = [];
  const dockerExec: number[] = [];
  for (let i = 0; i < rounds; i++) {
    socket.push(await viaSocket());
    dockerExec.push(viaDockerExec());
  }
  const afterLoad = memory(container.name, daemonPid);

  const stopBegin = performance.now();
  docker(["stop", "--time", "10", container.name]);
  const stopMs = performance.now() - stopBegin;

  socket.sort((a, b) => a - b);
  dockerExec.sort((a, b) => a - b);
  const row = (name: string, ms: number[]) =>
    `${name.padEnd(34)} ${percentile(ms, 50).toFixed(1).padStart(8)} ${percentile(ms, 90).toFixed(1).padStart(8)}`;
  const mib = (kb: number) => `${(kb / 1024).toFixed(1)} MiB`;
  console.log(`\nExec of \`true\`, ${rounds} rounds each, interleaved (ms)`);
  console.log(`${"".padEnd(34)} ${"median".padStart(8)} ${"p90".padStart(8)}`);
  console.log(row("daemon socket (ProcessService.Exec)", socket));
  console.log(row("docker exec (CLI)", dockerExec));
  const ratio = percentile(dockerExec, 50) / percentile(socket, 50);
  console.log(`ratio of medians (docker exec / daemon): ${ratio.toFixed(1)}x`);
  console.log("\nDaemon kit container");
  console.log(`  start to first health check      ${container.startToHealthyMs.toFixed(0)} ms`);
  console.log(`  daemon RSS idle / after bench    ${mib(idle.rss)} / ${mib(afterLoad.rss)}`);
  console.log(`  daemon peak RSS (VmHWM)          ${mib(afterLoad.hwm)}`);
  console.log(`  docker stop -t 10                ${stopMs.toFixed(0)} ms`);
  console.log(
    `  kit size                         ${(kit.manifest.sizeBytes / 1048576).toFixed(1)} MiB`,
  );
} finally {
  container.remove();
}
