// Benchmark: the runner's toolbox gateway against calling the daemon's unix socket directly.
// Three processes, as in production: a real daemon (daemon/src/main.ts) on a unix socket, the
// gateway on a loopback TCP port, and this client. Measures ProcessService.Exec of `true`
// (round trips, interleaved) and FilesystemService.ReadFile of a 256 MiB file (throughput).
// Run: `npm run bench:gateway` (BENCH_ROUNDS, BENCH_READ_MIB to change the sizes).
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as readline from "node:readline";
import { fileURLToPath } from "node:url";
import { createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createLogger } from "@cove/common";
import { FilesystemService } from "@cove/gen-ts/cove/toolbox/v1/filesystem_service_pb.js";
import { ProcessService } from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import { startToolboxGateway } from "../runner/src/gateway/toolbox-gateway.js";

const rounds = Number(process.env.BENCH_ROUNDS ?? 200);
const readMib = Number(process.env.BENCH_READ_MIB ?? 256);
const readRepeats = 3;
const warmup = 20;
const token = "bench-gateway-token";
const here = fileURLToPath(import.meta.url);
const repoRoot = path.resolve(path.dirname(here), "..");

// Child mode: serve the gateway for one sandbox and print its URL.
if (process.argv[2] === "serve-gateway") {
  const socketPath = process.argv[3] ?? "";
  const gateway = await startToolboxGateway({
    listen: { host: "127.0.0.1", port: 0 },
    token,
    resolve: (id) => (id === "sbx-bench" ? socketPath : undefined),
    logger: createLogger({ level: "warn" }),
  });
  console.log(gateway.url);
  process.on("SIGTERM", () => void gateway.close(100).then(() => process.exit(0)));
} else {
  await main();
}

/** startChild runs a TypeScript entry point with the same loader as this process. */
function startChild(args: string[], env: NodeJS.ProcessEnv): ChildProcess {
  return spawn(process.execPath, [...process.execArgv, ...args], {
    cwd: repoRoot,
    env,
    stdio: ["ignore", "pipe", "inherit"],
  });
}

async function firstLine(child: ChildProcess): Promise<string> {
  const lines = readline.createInterface({ input: child.stdout as NodeJS.ReadableStream });
  for await (const line of lines) return line;
  throw new Error("the child exited before printing its address");
}

async function waitForSocket(socketPath: string): Promise<void> {
  const until = Date.now() + 20_000;
  while (Date.now() < until) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(socketPath, () => {
        socket.destroy();
        resolve(true);
      });
      socket.on("error", () => resolve(false));
    });
    if (ok) return;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error("the daemon did not start listening");
}

function median(samples: number[]): number {
  const sorted = [...samples].sort((x, y) => x - y);
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN;
}

function p90(samples: number[]): number {
  const sorted = [...samples].sort((x, y) => x - y);
  return sorted[Math.min(sorted.length - 1, Math.ceil(0.9 * sorted.length) - 1)] ?? Number.NaN;
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cove-bench-gateway-"));
  const home = path.join(dir, "home");
  fs.mkdirSync(home);
  const socketPath = path.join(dir, "daemon.sock");
  // A clean environment: NODE_EXTRA_CA_CERTS and friends slow Node's start (see field notes).
  const daemon = startChild(["daemon/src/main.ts"], {
    PATH: process.env.PATH,
    HOME: home,
    COVE_DAEMON_SOCKET: socketPath,
    COVE_DAEMON_HOME: home,
  });
  const gatewayChild = startChild([here, "serve-gateway", socketPath], { PATH: process.env.PATH });
  try {
    await waitForSocket(socketPath);
    const gatewayUrl = await firstLine(gatewayChild);

    const direct: Transport = createGrpcTransport({
      baseUrl: "http://daemon.local",
      nodeOptions: { createConnection: () => net.connect(socketPath) },
    });
    const addHeaders: Interceptor = (next) => (req) => {
      req.header.set("cove-sandbox-id", "sbx-bench");
      req.header.set("cove-gateway-token", token);
      return next(req);
    };
    const viaGateway: Transport = createGrpcTransport({
      baseUrl: gatewayUrl,
      interceptors: [addHeaders],
    });

    // Exec round trips, alternating so both paths see the same machine state.
    const execOnce = async (transport: Transport) => {
      const begin = performance.now();
      const res = await createClient(ProcessService, transport).exec({
        program: { case: "argv", value: { args: ["true"] } },
      });
      if (res.exitCode !== 0) throw new Error(`true exited ${res.exitCode}`);
      return performance.now() - begin;
    };
    for (let i = 0; i < warmup; i++) {
      await execOnce(direct);
      await execOnce(viaGateway);
    }
    const execDirect: number[] = [];
    const execGateway: number[] = [];
    for (let i = 0; i < rounds; i++) {
      execDirect.push(await execOnce(direct));
      execGateway.push(await execOnce(viaGateway));
    }

    // A call that does no work in the daemon, to show the hop's own cost.
    const listOnce = async (transport: Transport) => {
      const begin = performance.now();
      await createClient(ProcessService, transport).listProcesses({});
      return performance.now() - begin;
    };
    const listDirect: number[] = [];
    const listGateway: number[] = [];
    for (let i = 0; i < rounds; i++) {
      listDirect.push(await listOnce(direct));
      listGateway.push(await listOnce(viaGateway));
    }

    // ReadFile throughput: one file, read whole, best of a few interleaved runs each.
    const size = readMib * 1024 * 1024;
    const file = fs.openSync(path.join(home, "big.bin"), "w");
    const block = Buffer.alloc(4 * 1024 * 1024, 0x5a);
    for (let written = 0; written < size; written += block.length) fs.writeSync(file, block);
    fs.closeSync(file);
    const readOnce = async (transport: Transport) => {
      const begin = performance.now();
      let bytes = 0;
      for await (const res of createClient(FilesystemService, transport).readFile({
        path: "big.bin",
      })) {
        bytes += res.data.length;
      }
      if (bytes !== size) throw new Error(`read ${bytes} bytes, expected ${size}`);
      return size / 1048576 / ((performance.now() - begin) / 1000);
    };
    await readOnce(direct);
    await readOnce(viaGateway);
    const readDirect: number[] = [];
    const readGateway: number[] = [];
    for (let i = 0; i < readRepeats; i++) {
      readDirect.push(await readOnce(direct));
      readGateway.push(await readOnce(viaGateway));
    }

    const ms = (n: number) => n.toFixed(2).padStart(8);
    console.log(`\nProcessService.Exec of \`true\`, ${rounds} rounds each, interleaved (ms)`);
    console.log(`${"".padEnd(28)} ${"median".padStart(8)} ${"p90".padStart(8)}`);
    console.log(
      `${"daemon socket (direct)".padEnd(28)} ${ms(median(execDirect))} ${ms(p90(execDirect))}`,
    );
    console.log(
      `${"through the gateway".padEnd(28)} ${ms(median(execGateway))} ${ms(p90(execGateway))}`,
    );
    console.log(
      `ratio of medians (gateway / direct): ${(median(execGateway) / median(execDirect)).toFixed(2)}x` +
        `, added per call: ${(median(execGateway) - median(execDirect)).toFixed(2)} ms`,
    );
    console.log(
      `\nProcessService.ListProcesses (no work in the daemon), ${rounds} rounds each (ms)`,
    );
    console.log(
      `${"daemon socket (direct)".padEnd(28)} ${ms(median(listDirect))} ${ms(p90(listDirect))}`,
    );
    console.log(
      `${"through the gateway".padEnd(28)} ${ms(median(listGateway))} ${ms(p90(listGateway))}`,
    );
    console.log(
      `ratio of medians (gateway / direct): ${(median(listGateway) / median(listDirect)).toFixed(2)}x` +
        `, added per call: ${(median(listGateway) - median(listDirect)).toFixed(2)} ms`,
    );
    const best = (xs: number[]) => Math.max(...xs);
    console.log(`\nFilesystemService.ReadFile of ${readMib} MiB, best of ${readRepeats} (MiB/s)`);
    console.log(
      `${"daemon socket (direct)".padEnd(28)} ${best(readDirect).toFixed(0).padStart(8)}`,
    );
    console.log(`${"through the gateway".padEnd(28)} ${best(readGateway).toFixed(0).padStart(8)}`);
    console.log(`ratio (gateway / direct): ${(best(readGateway) / best(readDirect)).toFixed(2)}x`);
  } finally {
    gatewayChild.kill("SIGTERM");
    daemon.kill("SIGTERM");
    await Promise.all(
      [gatewayChild, daemon].map(
        (child) =>
          new Promise((resolve) =>
            child.exitCode !== null ? resolve(null) : child.once("exit", resolve),
          ),
      ),
    );
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
