// Benchmark: the proxy against calling the runner's toolbox gateway directly. Four processes,
// as in production: a real daemon (daemon/src/main.ts) on a unix socket, the gateway and the
// proxy on loopback TCP ports, and this client. The proxy gets a fixed route (what its cache
// answers after the first call), so this measures the hop, not the control plane. Measures
// ProcessService.Exec of `true` (round trips, interleaved) and FilesystemService.UploadFile of a
// 1 GiB file (client stream, throughput).
// Run: `npm run bench:proxy` (BENCH_ROUNDS, BENCH_UPLOAD_MIB, BENCH_UPLOAD_REPEATS to change).
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import * as readline from "node:readline";
import { fileURLToPath } from "node:url";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { createClient, type Interceptor, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createLogger } from "@cove/common";
import {
  FilesystemService,
  type UploadFileRequestSchema,
} from "@cove/gen-ts/cove/toolbox/v1/filesystem_service_pb.js";
import { ProcessService } from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import { startProxy } from "../proxy/src/app.js";
import type { RouteResolver } from "../proxy/src/domain/routes.js";
import { startToolboxGateway } from "../runner/src/gateway/toolbox-gateway.js";

const rounds = Number(process.env.BENCH_ROUNDS ?? 200);
const uploadMib = Number(process.env.BENCH_UPLOAD_MIB ?? 1024);
const uploadRepeats = Number(process.env.BENCH_UPLOAD_REPEATS ?? 2);
const warmup = 20;
const gatewayToken = "bench-gateway-token";
const apiKey = "cove_sk_bench";
const sandboxId = "sbxbench";
const here = fileURLToPath(import.meta.url);
const repoRoot = path.resolve(path.dirname(here), "..");

if (process.argv[2] === "serve-gateway") {
  const socketPath = process.argv[3] ?? "";
  const gateway = await startToolboxGateway({
    listen: { host: "127.0.0.1", port: 0 },
    token: gatewayToken,
    resolve: (id) => (id === sandboxId ? socketPath : undefined),
    logger: createLogger({ level: "warn" }),
  });
  console.log(gateway.url);
  process.on("SIGTERM", () => void gateway.close(100).then(() => process.exit(0)));
} else if (process.argv[2] === "serve-proxy") {
  const gatewayUrl = process.argv[3] ?? "";
  // The route the edge's cache would hold; activity is dropped.
  const edge: RouteResolver = {
    resolve: async (query) => {
      if (query.sandboxId !== sandboxId || query.credential.kind !== "apiKey") {
        throw new Error("unexpected query");
      }
      return {
        sandboxId,
        organizationId: "org-bench",
        public: false,
        runnerId: "runner-bench",
        gatewayUrl,
        allowedPort: 0,
        osUser: "",
        credentialId: "key_bench",
        expiresAt: Number.MAX_SAFE_INTEGER,
      };
    },
    onInvalidate: () => () => {},
    recordActivity: () => {},
    close: async () => {},
  };
  const proxy = await startProxy({
    listen: { host: "127.0.0.1", port: 0 },
    edge,
    gatewayToken,
    previewDomain: "preview.localhost",
    logger: createLogger({ level: "warn" }),
  });
  console.log(proxy.url);
  process.on("SIGTERM", () => void proxy.close(100).then(() => process.exit(0)));
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

function withHeaders(values: Record<string, string>): Interceptor {
  return (next) => (req) => {
    for (const [name, value] of Object.entries(values)) req.header.set(name, value);
    return next(req);
  };
}

async function main() {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cove-bench-proxy-"));
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
  let proxyChild: ChildProcess | undefined;
  try {
    await waitForSocket(socketPath);
    const gatewayUrl = await firstLine(gatewayChild);
    proxyChild = startChild([here, "serve-proxy", gatewayUrl], { PATH: process.env.PATH });
    const proxyUrl = await firstLine(proxyChild);

    const viaGateway: Transport = createGrpcTransport({
      baseUrl: gatewayUrl,
      interceptors: [
        withHeaders({ "cove-sandbox-id": sandboxId, "cove-gateway-token": gatewayToken }),
      ],
    });
    const viaProxy: Transport = createGrpcTransport({
      baseUrl: proxyUrl,
      interceptors: [
        withHeaders({ "cove-sandbox-id": sandboxId, authorization: `Bearer ${apiKey}` }),
      ],
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
      await execOnce(viaGateway);
      await execOnce(viaProxy);
    }
    const execGateway: number[] = [];
    const execProxy: number[] = [];
    for (let i = 0; i < rounds; i++) {
      execGateway.push(await execOnce(viaGateway));
      execProxy.push(await execOnce(viaProxy));
    }

    // UploadFile throughput: 1 MiB messages of one reused buffer, so the client is not the limit.
    const size = uploadMib * 1024 * 1024;
    const block = Buffer.alloc(1024 * 1024, 0x5a);
    type Upload = MessageInitShape<typeof UploadFileRequestSchema>;
    async function* upload(): AsyncIterable<Upload> {
      yield { message: { case: "header", value: { path: "upload.bin", sizeBytes: BigInt(size) } } };
      for (let sent = 0; sent < size; sent += block.length) {
        yield { message: { case: "data", value: block } };
      }
    }
    const uploadOnce = async (transport: Transport) => {
      const begin = performance.now();
      const res = await createClient(FilesystemService, transport).uploadFile(upload(), {
        timeoutMs: 10 * 60_000,
      });
      if (Number(res.writtenBytes) !== size) throw new Error(`wrote ${res.writtenBytes} bytes`);
      return size / 1048576 / ((performance.now() - begin) / 1000);
    };
    const upGateway: number[] = [];
    const upProxy: number[] = [];
    for (let i = 0; i < uploadRepeats; i++) {
      upGateway.push(await uploadOnce(viaGateway));
      upProxy.push(await uploadOnce(viaProxy));
    }

    const ms = (n: number) => n.toFixed(2).padStart(8);
    console.log(`\nProcessService.Exec of \`true\`, ${rounds} rounds each, interleaved (ms)`);
    console.log(`${"".padEnd(28)} ${"median".padStart(8)} ${"p90".padStart(8)}`);
    console.log(
      `${"runner gateway (direct)".padEnd(28)} ${ms(median(execGateway))} ${ms(p90(execGateway))}`,
    );
    console.log(`${"through the proxy".padEnd(28)} ${ms(median(execProxy))} ${ms(p90(execProxy))}`);
    console.log(
      `ratio of medians (proxy / gateway): ${(median(execProxy) / median(execGateway)).toFixed(2)}x` +
        `, added per call: ${(median(execProxy) - median(execGateway)).toFixed(2)} ms`,
    );
    const best = (xs: number[]) => Math.max(...xs);
    console.log(
      `\nFilesystemService.UploadFile of ${uploadMib} MiB (client stream), best of ${uploadRepeats} (MiB/s)`,
    );
    console.log(
      `${"runner gateway (direct)".padEnd(28)} ${best(upGateway).toFixed(0).padStart(8)}`,
    );
    console.log(`${"through the proxy".padEnd(28)} ${best(upProxy).toFixed(0).padStart(8)}`);
    console.log(`ratio (proxy / gateway): ${(best(upProxy) / best(upGateway)).toFixed(2)}x`);
  } finally {
    const children = [proxyChild, gatewayChild, daemon].filter(
      (child): child is ChildProcess => child !== undefined,
    );
    for (const child of children) child.kill("SIGTERM");
    await Promise.all(
      children.map(
        (child) =>
          new Promise((resolve) =>
            child.exitCode !== null ? resolve(null) : child.once("exit", resolve),
          ),
      ),
    );
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
