// Benchmark: the API server with a real runner, Postgres and Docker, in one run.
// - GetSandbox and ListSandboxes throughput (calls/s and median latency) over a few seconds
//   with 16 calls in flight, from a client process separate from the server's.
// - CreateSandbox(wait) latency through the API (auth, quota check under a row lock, outbox,
//   runner stream, Docker, daemon health, state report) against the runner's own create-to-
//   ready for the same image (DockerDriver create + start, as in bench/runner-create.ts),
//   interleaved; prints medians, p90 and the control plane's overhead as a ratio.
// The server runs in a child process (`bench/server.ts serve`): the API wired exactly as
// bootServer wires it, except that the per-organization rate limits (default 1000 reads and
// 100 writes per 10 s) are lifted so that they do not cap the measurement. Postgres is an
// embedded one in a temporary folder; Redis is used when REDIS_URL is set.
// Run: `npm run bench:server` (BENCH_SECONDS, BENCH_CONCURRENCY, BENCH_ROUNDS).
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as readline from "node:readline";
import { fileURLToPath } from "node:url";
import { type Client, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createLogger, startGrpcServer } from "@cove/common";
import { SandboxState } from "@cove/gen-ts/cove/sandbox/v1/sandbox_pb.js";
import { SandboxService } from "@cove/gen-ts/cove/sandbox/v1/sandbox_service_pb.js";
import Dockerode from "dockerode";
import { buildKit } from "../daemon/scripts/build-kit.mjs";
import { docker, dockerUnreachableReason } from "../daemon/test/docker-images.js";
import { startRunner } from "../runner/src/app.js";
import { DockerDriver } from "../runner/src/domain/docker-driver.js";
import { ensureBaseImage } from "../scripts/build-base-image.mjs";
import { createServerApp } from "../server/src/app.js";
import { migrate, openDatabase } from "../server/src/db/database.js";
import { startEmbeddedPostgres } from "../server/src/db/embedded-postgres.js";
import { ensureAdmin } from "../server/src/domain/iam/admin-bootstrap.js";
import {
  ApiKeyManager,
  hashSecret,
  ServiceCredentials,
} from "../server/src/domain/iam/api-keys.js";
import { AuditLog } from "../server/src/domain/iam/audit.js";
import { createApiInterceptors } from "../server/src/interceptors/index.js";
import { createSharedState } from "../server/src/shared/create-shared-state.js";

const seconds = Number(process.env.BENCH_SECONDS ?? 3);
const concurrency = Number(process.env.BENCH_CONCURRENCY ?? 16);
const rounds = Number(process.env.BENCH_ROUNDS ?? 8);
const label = { "dev.cove.bench": "server" };
const driverLabel = { "dev.cove.bench": "server-driver" };
const here = fileURLToPath(import.meta.url);
const repoRoot = path.resolve(path.dirname(here), "..");

if (process.argv[2] === "serve") await serve();
else await main();

/** What the serving child prints once ready. */
interface Served {
  url: string;
  adminKey: string;
}

/** serve (child mode): the API server and a runner, until SIGTERM. */
async function serve(): Promise<void> {
  const dataDir = process.env.BENCH_DATA_DIR ?? "";
  const logger = createLogger({ level: "warn" });
  const runnerToken = "cove_rt_bench_token";
  const kit = await buildKit({ log: () => {} });
  const db = openDatabase(process.env.BENCH_DATABASE_URL ?? "");
  await migrate(db);
  const shared = await createSharedState({ redisUrl: process.env.REDIS_URL || undefined, logger });
  const admin = await ensureAdmin(db, { dataDir: path.join(dataDir, "server") });
  const config = {
    runnerRegistrationToken: runnerToken,
    proxyToken: undefined,
    defaultImage: process.env.BENCH_IMAGE ?? "",
    urls: {
      toolboxUrl: "http://localhost:4000",
      previewUrlTemplate: "http://{port}-{sandboxId}.preview.localhost:4000",
      sshHost: "localhost",
      sshPort: 2222,
    },
  };
  const app = createServerApp({ db, shared, logger, config, tuning: {} });
  // The same chain createServerApp builds, with the per-organization limits lifted.
  const unlimited = { points: 1_000_000_000, durationMs: 1_000 };
  const interceptors = createApiInterceptors({
    logger,
    shared,
    apiKeys: new ApiKeyManager({ db, events: shared.events }),
    credentials: new ServiceCredentials({
      db,
      runnerRegistrationTokenHash: hashSecret(runnerToken),
      proxyTokenHash: undefined,
    }),
    audit: new AuditLog({ db }),
    trustClientIpHeader: true,
    limits: { reads: unlimited, writes: unlimited },
  });
  await app.start();
  const grpc = await startGrpcServer(
    { ...app.server, interceptors },
    { host: "127.0.0.1", port: 0 },
  );
  const runner = await startRunner(
    {
      runnerId: "runner-bench",
      name: "bench",
      region: "local",
      serverUrl: grpc.url,
      token: runnerToken,
      gatewayListen: { host: "127.0.0.1", port: 0 },
      gatewayUrl: undefined,
      gatewayToken: "bench-gateway-token",
      dataDir: path.join(dataDir, "runner"),
      kitDir: kit.dir,
      defaultRuntime: "",
      capacity: { cpuMillicores: 64_000, memoryMib: 64_000, diskMib: 0, maxSandboxes: 200 },
    },
    logger,
    { extraLabels: label },
  );
  await runner.connected();
  const served: Served = { url: grpc.url, adminKey: admin.apiKey };
  process.stdout.write(`${JSON.stringify(served)}\n`);
  process.on("SIGTERM", () => {
    void (async () => {
      await runner.stop();
      await grpc.close(500);
      await app.close();
      await shared.close();
      await db.destroy();
      process.exit(0);
    })();
  });
}

function percentile(samples: number[], p: number): number {
  const sorted = [...samples].sort((a, b) => a - b);
  return (
    sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] ??
    Number.NaN
  );
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => resolve(typeof address === "object" && address ? address.port : 0));
    });
  });
}

/** throughput runs `call` from `concurrency` loops for `seconds`; calls/s and latencies. */
async function throughput(call: () => Promise<unknown>) {
  const latencies: number[] = [];
  let errors = 0;
  const until = performance.now() + seconds * 1000;
  const begin = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < until) {
        const t = performance.now();
        try {
          await call();
          latencies.push(performance.now() - t);
        } catch {
          errors++;
        }
      }
    }),
  );
  const elapsed = (performance.now() - begin) / 1000;
  return { perSecond: latencies.length / elapsed, latencies, errors };
}

async function main(): Promise<void> {
  const unreachable = dockerUnreachableReason();
  if (unreachable !== undefined) {
    console.error(`The Docker engine is not reachable (${unreachable}); start dockerd first.`);
    process.exit(1);
  }
  const kit = await buildKit({ log: () => {} });
  const { image } = await ensureBaseImage({ log: () => {} });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cove-bench-server-"));
  // Postgres runs as its own OS user when we are root: it must reach its folder.
  fs.chmodSync(dir, 0o755);
  const postgres = await startEmbeddedPostgres({
    dataDir: path.join(dir, "pg", "data"),
    port: await freePort(),
  });
  let child: ChildProcess | undefined;
  try {
    child = spawn(process.execPath, [...process.execArgv, here, "serve"], {
      cwd: repoRoot,
      env: {
        PATH: process.env.PATH,
        HOME: process.env.HOME,
        REDIS_URL: process.env.REDIS_URL ?? "",
        BENCH_DATABASE_URL: postgres.url(),
        BENCH_DATA_DIR: dir,
        BENCH_IMAGE: image,
      },
      stdio: ["ignore", "pipe", "inherit"],
    });
    const lines = readline.createInterface({ input: child.stdout as NodeJS.ReadableStream });
    let first: string | undefined;
    for await (const line of lines) {
      first = line;
      break;
    }
    if (!first) throw new Error("the server child exited before it was ready");
    const served = JSON.parse(first) as Served;
    const api: Client<typeof SandboxService> = createClient(
      SandboxService,
      createGrpcTransport({
        baseUrl: served.url,
        interceptors: [
          (next) => (req) => {
            req.header.set("authorization", `Bearer ${served.adminKey}`);
            return next(req);
          },
        ],
      }),
    );

    // Read throughput against a few started sandboxes.
    const targets: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { sandbox } = await api.createSandbox({ labels: { bench: "read" } });
      if (sandbox?.state !== SandboxState.STARTED) throw new Error("warm-up sandbox did not start");
      targets.push(sandbox.sandboxId);
    }
    let n = 0;
    const get = () => api.getSandbox({ sandboxId: targets[n++ % targets.length] ?? "" });
    const list = () => api.listSandboxes({});
    await throughput(get); // warm-up (JIT, pools, key cache)
    const gets = await throughput(get);
    const lists = await throughput(list);
    for (const sandboxId of targets) await api.deleteSandbox({ sandboxId, wait: true });

    // Create-to-ready: through the API vs the runner's driver directly, interleaved.
    const driver = new DockerDriver({
      docker: new Dockerode(),
      kitDir: kit.dir,
      kitEntrypoint: kit.manifest.entrypoint,
      dataDir: path.join(dir, "driver"),
      defaultRuntime: "",
      logger: createLogger({ level: "silent" }),
      extraLabels: driverLabel,
    });
    const viaApi: number[] = [];
    const viaDriver: number[] = [];
    for (let i = -1; i < rounds; i++) {
      let t = performance.now();
      const { sandbox } = await api.createSandbox({ labels: { bench: "create" } });
      const apiMs = performance.now() - t;
      if (sandbox?.state !== SandboxState.STARTED) throw new Error("create did not return STARTED");
      await api.deleteSandbox({ sandboxId: sandbox.sandboxId, wait: true });

      const id = `benchsrv${Date.now().toString(36)}${i + 1}`;
      t = performance.now();
      await driver.create({
        sandboxId: id,
        organizationId: "bench",
        image,
        cpuMillicores: 1000,
        memoryMib: 1024,
        diskMib: 0,
        env: {},
        labels: {},
        osUser: "",
        network: "none",
        runtime: "",
      });
      await driver.start(id);
      const driverMs = performance.now() - t;
      await driver.destroy(id);
      if (i >= 0) {
        viaApi.push(apiMs);
        viaDriver.push(driverMs);
      }
    }

    const fmt = (x: number) => x.toFixed(1).padStart(7);
    // Other work on the machine moves these figures a lot: say how busy it was.
    console.log(
      `machine: ${os.availableParallelism()} CPUs, load average ${os
        .loadavg()
        .map((l) => l.toFixed(2))
        .join(" ")}`,
    );
    console.log(
      `API server (gRPC over h2c, ${concurrency} calls in flight for ${seconds} s, ${process.env.REDIS_URL ? "Redis" : "in-process shared state"}, per-organization rate limits lifted)`,
    );
    for (const [name, r] of [
      ["GetSandbox", gets],
      ["ListSandboxes (3-4 rows)", lists],
    ] as const) {
      console.log(
        `  ${name.padEnd(26)} ${r.perSecond.toFixed(0).padStart(6)} calls/s   median ${fmt(percentile(r.latencies, 50))} ms   p90 ${fmt(percentile(r.latencies, 90))} ms   errors ${r.errors}`,
      );
    }
    console.log(
      `create-to-ready, ${rounds} rounds interleaved (after one warm-up), image ${image}`,
    );
    const rows = [
      ["CreateSandbox(wait) through the API", viaApi],
      ["runner's DockerDriver create + start", viaDriver],
    ] as const;
    for (const [name, xs] of rows) {
      console.log(
        `  ${name.padEnd(40)} median ${fmt(percentile(xs, 50))} ms   p90 ${fmt(percentile(xs, 90))} ms`,
      );
    }
    const apiMedian = percentile(viaApi, 50);
    const driverMedian = percentile(viaDriver, 50);
    console.log(
      `  control plane overhead, medians: ${(apiMedian - driverMedian).toFixed(1)} ms; ratio (API / driver) ${(apiMedian / driverMedian).toFixed(2)}`,
    );
  } finally {
    if (child && child.exitCode === null) {
      const exited = new Promise((r) => child?.once("exit", r));
      child.kill("SIGTERM");
      const timer = setTimeout(() => child?.kill("SIGKILL"), 5_000);
      await exited;
      clearTimeout(timer);
    }
    for (const value of ["server", "server-driver"])
      for (const id of docker(["ps", "-aq", "--filter", `label=dev.cove.bench=${value}`])
        .trim()
        .split("\n")
        .filter(Boolean))
        docker(["rm", "-f", "-v", id]);
    await postgres.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
