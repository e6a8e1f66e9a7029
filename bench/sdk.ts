// Benchmark: the TypeScript SDK end to end (SDK → API server / proxy → runner → daemon) against
// the Docker engine doing the same thing directly, in one run on one stack:
// - create-to-ready: cove.create() until STARTED vs a Docker Engine API create+start of the same
//   image (dockerode, `sleep infinity`), interleaved;
// - exec round trip: sandbox.process.executeCommand("true") vs `docker exec <sandbox id> true`;
// - 1 GiB upload: sandbox.fs.uploadFile(path) vs `docker cp` of the same file; and the SDK's
//   ranged download (flat memory) vs one ReadFile call (what connect-es#1524 makes cost);
// - 50 concurrent creates: all succeed or the failures are listed; p50/p99.
// Prints a table with ratios. Run: `npm run bench:sdk` (needs Docker). BENCH_ROUNDS,
// BENCH_EXEC_ROUNDS, BENCH_UPLOAD_MIB, BENCH_CONCURRENT change the sizes.
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { OrganizationService } from "@cove/gen-ts/cove/iam/v1/organization_service_pb.js";
import Dockerode from "dockerode";
import { Cove, type NodeSandbox } from "../clients/typescript/src/index.js";
import { dockerUnreachableReason } from "../daemon/test/docker-images.js";
import globalSetup from "../test/jest-global-setup.js";
import globalTeardown from "../test/jest-global-teardown.js";
import { startStack } from "../test/stack.js";

const rounds = Number(process.env.BENCH_ROUNDS ?? 10);
const execRounds = Number(process.env.BENCH_EXEC_ROUNDS ?? 100);
const uploadMib = Number(process.env.BENCH_UPLOAD_MIB ?? 1024);
const concurrent = Number(process.env.BENCH_CONCURRENT ?? 50);
const label = { "dev.cove.bench": "sdk" };

function percentile(xs: number[], p: number): number {
  const sorted = [...xs].sort((a, b) => a - b);
  return (
    sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN
  );
}

function docker(args: string[]): void {
  const r = spawnSync("docker", args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`docker ${args.join(" ")}: ${r.stderr}`);
}

/** peakRss samples the RSS while fn runs and returns fn's result with the peak growth. */
async function peakRss<T>(fn: () => Promise<T>): Promise<{ value: T; peakMib: number }> {
  global.gc?.();
  const base = process.memoryUsage().rss;
  let peak = base;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  try {
    const value = await fn();
    peak = Math.max(peak, process.memoryUsage().rss);
    return { value, peakMib: (peak - base) / 2 ** 20 };
  } finally {
    clearInterval(timer);
  }
}

const unreachable = dockerUnreachableReason();
if (unreachable !== undefined) {
  console.error(
    `The Docker engine is not reachable (${unreachable}); run \`npm test\` once or start dockerd.`,
  );
  process.exit(1);
}

const rows: [string, string, string, string][] = [];
const row = (what: string, sdk: string, raw: string, ratio: string) =>
  rows.push([what, sdk, raw, ratio]);
const ms = (x: number) => `${x.toFixed(1)} ms`;

await globalSetup();
const stack = await startStack({ name: "bench-sdk" });
const cove = new Cove({
  apiKey: stack.adminKey,
  apiUrl: stack.apiUrl,
  proxyUrl: stack.proxyUrl,
  timeoutMs: 300_000,
});
const engine = new Dockerode();
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "cove-bench-sdk-"));
const created: NodeSandbox[] = [];
try {
  // 1. Create-to-ready.
  const sdkCreate: number[] = [];
  const rawCreate: number[] = [];
  for (let i = -1; i < rounds; i++) {
    let t = performance.now();
    const sb = await cove.create({ labels: { bench: "create" } });
    const sdkMs = performance.now() - t;
    await cove.delete(sb);

    t = performance.now();
    const c = await engine.createContainer({
      Image: stack.image,
      Cmd: ["sleep", "infinity"],
      Labels: label,
      HostConfig: { NetworkMode: "none" },
    });
    await c.start();
    const rawMs = performance.now() - t;
    await c.remove({ force: true });
    if (i >= 0) {
      sdkCreate.push(sdkMs);
      rawCreate.push(rawMs);
    }
  }
  row(
    `create-to-ready, median (${rounds})`,
    ms(percentile(sdkCreate, 50)),
    ms(percentile(rawCreate, 50)),
    `${(percentile(sdkCreate, 50) / percentile(rawCreate, 50)).toFixed(2)}x`,
  );
  row(
    "create-to-ready, p90",
    ms(percentile(sdkCreate, 90)),
    ms(percentile(rawCreate, 90)),
    `${(percentile(sdkCreate, 90) / percentile(rawCreate, 90)).toFixed(2)}x`,
  );

  // 2. Exec round trip.
  const sandbox = await cove.create({ labels: { bench: "exec" } });
  created.push(sandbox);
  const sdkExec: number[] = [];
  const rawExec: number[] = [];
  for (let i = -10; i < execRounds; i++) {
    let t = performance.now();
    await sandbox.process.executeCommand("true");
    const a = performance.now() - t;
    t = performance.now();
    docker(["exec", sandbox.id, "true"]);
    const b = performance.now() - t;
    if (i >= 0) {
      sdkExec.push(a);
      rawExec.push(b);
    }
  }
  row(
    `exec \`true\`, median (${execRounds})`,
    ms(percentile(sdkExec, 50)),
    ms(percentile(rawExec, 50)),
    `${(percentile(sdkExec, 50) / percentile(rawExec, 50)).toFixed(2)}x`,
  );
  row(
    "exec `true`, p99",
    ms(percentile(sdkExec, 99)),
    ms(percentile(rawExec, 99)),
    `${(percentile(sdkExec, 99) / percentile(rawExec, 99)).toFixed(2)}x`,
  );

  // 3. 1 GiB upload, and downloads.
  const file = path.join(tmp, "upload.bin");
  {
    const fd = fs.openSync(file, "w");
    const block = randomBytes(4 * 2 ** 20);
    for (let i = 0; i < uploadMib / 4; i++) fs.writeSync(fd, block);
    fs.closeSync(fd);
  }
  const bytes = fs.statSync(file).size;
  const mibps = (t: number) => `${(bytes / 2 ** 20 / (t / 1000)).toFixed(0)} MiB/s`;
  let t = performance.now();
  const up = await peakRss(() => sandbox.fs.uploadFileFromPath(file, "bench/upload.bin"));
  const sdkUp = performance.now() - t;
  if (up.value.size !== bytes) throw new Error(`uploaded ${up.value.size} of ${bytes} bytes`);
  t = performance.now();
  docker(["cp", file, `${sandbox.id}:/tmp/upload-cp.bin`]);
  const rawUp = performance.now() - t;
  row(
    `upload ${uploadMib} MiB (SDK RSS +${up.peakMib.toFixed(0)} MiB)`,
    `${ms(sdkUp)} (${mibps(sdkUp)})`,
    `${ms(rawUp)} (${mibps(rawUp)}) docker cp`,
    `${(sdkUp / rawUp).toFixed(2)}x`,
  );

  const drain = async (rangeBytes?: number) => {
    let n = 0;
    for await (const chunk of sandbox.fs.downloadFileStream("bench/upload.bin", { rangeBytes }))
      n += chunk.length;
    if (n !== bytes) throw new Error(`downloaded ${n} of ${bytes} bytes`);
  };
  t = performance.now();
  const ranged = await peakRss(() => drain());
  const rangedMs = performance.now() - t;
  t = performance.now();
  docker(["cp", `${sandbox.id}:/tmp/upload-cp.bin`, path.join(tmp, "download-cp.bin")]);
  const rawDown = performance.now() - t;
  row(
    `download, 8 MiB ranges (SDK RSS +${ranged.peakMib.toFixed(0)} MiB)`,
    `${ms(rangedMs)} (${mibps(rangedMs)})`,
    `${ms(rawDown)} (${mibps(rawDown)}) docker cp`,
    `${(rangedMs / rawDown).toFixed(2)}x`,
  );
  t = performance.now();
  const single = await peakRss(() => drain(2 ** 40));
  const singleMs = performance.now() - t;
  row(
    `download, one ReadFile call (RSS +${single.peakMib.toFixed(0)} MiB)`,
    `${ms(singleMs)} (${mibps(singleMs)})`,
    "—",
    `${(singleMs / rangedMs).toFixed(2)}x of ranged`,
  );

  // 4. Concurrent creates. The default organization's quota (8 cores) fits 7 more sandboxes of
  // one core; the operator lifts it for this run (BENCH_KEEP_QUOTA=1 keeps it, to see refusals).
  if (process.env.BENCH_KEEP_QUOTA !== "1") {
    const orgs = createClient(
      OrganizationService,
      createGrpcTransport({
        baseUrl: stack.apiUrl,
        interceptors: [
          (next) => (req) => {
            req.header.set("authorization", `Bearer ${stack.adminKey}`);
            return next(req);
          },
        ],
      }),
    );
    const { organization } = await orgs.getOrganization({});
    await orgs.updateQuota({ organizationId: organization?.organizationId ?? "", quota: {} });
  }
  const started = performance.now();
  const results = await Promise.allSettled(
    Array.from({ length: concurrent }, async (_, i) => {
      const t0 = performance.now();
      const sb = await cove.create(
        { labels: { bench: "concurrent", n: String(i) } },
        { timeout: 300 },
      );
      created.push(sb);
      return performance.now() - t0;
    }),
  );
  const wall = performance.now() - started;
  const ok = results.flatMap((r) => (r.status === "fulfilled" ? [r.value] : []));
  const failed = results.flatMap((r, i) =>
    r.status === "rejected" ? [`#${i}: ${String(r.reason)}`] : [],
  );
  row(
    `${concurrent} concurrent creates: ${ok.length} ok, ${failed.length} failed`,
    `p50 ${ms(percentile(ok, 50))}, p99 ${ms(percentile(ok, 99))}`,
    `wall ${ms(wall)}`,
    `${(percentile(ok, 50) / percentile(rawCreate, 50)).toFixed(1)}x raw create p50`,
  );
  for (const f of failed) console.log(`failed create ${f}`);

  const widths = [0, 1, 2, 3].map((c) =>
    Math.max(
      ...[["operation", "SDK", "baseline", "ratio"], ...rows].map((r) => (r[c] ?? "").length),
    ),
  );
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join(" | ");
  console.log(line(["operation", "SDK", "baseline", "ratio"]));
  console.log(widths.map((w) => "-".repeat(w)).join("-|-"));
  for (const r of rows) console.log(line(r));
} finally {
  await Promise.allSettled(created.map((s) => cove.delete(s)));
  cove.close();
  await stack.stop();
  await globalTeardown();
  fs.rmSync(tmp, { recursive: true, force: true });
}
