// Benchmark: what the filesystem helper costs. A daemon running as root with a sandbox user
// relays FilesystemService to a helper process running as that user (one more local HTTP/2
// hop); a daemon without a sandbox user serves the calls itself. Both run here on unix
// sockets, called by raw HTTP/2 gRPC clients (so the client's own cost stays small), in
// alternating rounds: UploadFile and ReadFile of a large file, and Stat round trips.
// Run as root: `npm run bench:daemon-files` (BENCH_FILE_MIB, default 512; BENCH_ROUNDS, 3;
// BENCH_VIA_GATEWAY=1 to call through the runner's toolbox gateway, as production calls go:
// the gateway then reaches the helper on its own socket, with no relay through the daemon).
import * as fs from "node:fs";
import * as http2 from "node:http2";
import * as net from "node:net";
import * as path from "node:path";
import { create, toBinary } from "@bufbuild/protobuf";
import { createLogger } from "@cove/common";
import {
  ReadFileRequestSchema,
  StatRequestSchema,
  UploadFileRequestSchema,
} from "@cove/gen-ts/cove/toolbox/v1/filesystem_service_pb.js";
import { buildKit } from "../daemon/scripts/build-kit.mjs";
import { startTestDaemon, type TestDaemon } from "../daemon/test/harness.js";
import { startToolboxGateway } from "../runner/src/gateway/toolbox-gateway.js";

const fileMib = Number(process.env.BENCH_FILE_MIB ?? 512);
const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
const statCalls = 500;
const GATEWAY_TOKEN = "bench-files-gateway";
/** BENCH_VIA_GATEWAY=1 measures through the runner's toolbox gateway, as production calls go. */
const viaGateway = process.env.BENCH_VIA_GATEWAY === "1";
const CHUNK = 1024 * 1024;

if (process.getuid?.() !== 0) {
  console.error("run as root: the helper starts as another user");
  process.exit(1);
}

function frame(bytes: Uint8Array): Buffer {
  const head = Buffer.alloc(5);
  head.writeUInt32BE(bytes.length, 1);
  return Buffer.concat([head, bytes]);
}

/** call runs one gRPC call, writing `body` and returning the response bytes' length. */
function call(
  session: http2.ClientHttp2Session,
  method: string,
  body: (s: http2.ClientHttp2Stream) => Promise<void>,
) {
  return new Promise<number>((resolve, reject) => {
    const stream = session.request({
      ":method": "POST",
      ":path": `/cove.toolbox.v1.FilesystemService/${method}`,
      "content-type": "application/grpc+proto",
      "cove-sandbox-id": "sbx-bench",
      "cove-gateway-token": GATEWAY_TOKEN,
      te: "trailers",
    });
    let bytes = 0;
    stream.on("data", (chunk: Buffer) => {
      bytes += chunk.length;
    });
    stream.on("trailers", (t) => {
      if (String(t["grpc-status"]) !== "0") reject(new Error(`${method}: ${t["grpc-message"]}`));
    });
    stream.on("error", reject);
    stream.on("close", () => resolve(bytes));
    body(stream).catch(reject);
  });
}

async function writeAll(stream: http2.ClientHttp2Stream, data: Buffer): Promise<void> {
  if (!stream.write(data)) await new Promise((resolve) => stream.once("drain", resolve));
}

async function measure(d: TestDaemon, gatewayUrl?: string) {
  const session = gatewayUrl
    ? http2.connect(gatewayUrl, { settings: { initialWindowSize: 4 * 1024 * 1024 } })
    : http2.connect("http://daemon.local", {
        createConnection: () => net.connect(d.socketPath),
        settings: { initialWindowSize: 4 * 1024 * 1024 },
      });
  session.on("localSettings", () => session.setLocalWindowSize(4 * 1024 * 1024));
  try {
    const block = Buffer.alloc(CHUNK, 7);
    const data = frame(
      toBinary(
        UploadFileRequestSchema,
        create(UploadFileRequestSchema, { message: { case: "data", value: block } }),
      ),
    );
    const t0 = performance.now();
    await call(session, "UploadFile", async (s) => {
      const header = create(UploadFileRequestSchema, {
        message: {
          case: "header",
          value: { path: "bench.bin", sizeBytes: BigInt(fileMib * CHUNK) },
        },
      });
      await writeAll(s, frame(toBinary(UploadFileRequestSchema, header)));
      for (let i = 0; i < fileMib; i++) await writeAll(s, data);
      s.end();
    });
    const up = fileMib / ((performance.now() - t0) / 1000);
    const t1 = performance.now();
    const got = await call(session, "ReadFile", async (s) => {
      s.end(
        frame(
          toBinary(
            ReadFileRequestSchema,
            create(ReadFileRequestSchema, { path: "bench.bin", chunkSizeBytes: CHUNK }),
          ),
        ),
      );
    });
    const down = got / CHUNK / ((performance.now() - t1) / 1000);
    const stat = frame(
      toBinary(StatRequestSchema, create(StatRequestSchema, { path: "bench.bin" })),
    );
    const t2 = performance.now();
    for (let i = 0; i < statCalls; i++) await call(session, "Stat", async (s) => void s.end(stat));
    const statMs = (performance.now() - t2) / statCalls;
    fs.rmSync(path.join(d.home, "bench.bin"), { force: true });
    return { up, down, statMs };
  } finally {
    session.close();
  }
}

const median = (xs: number[]) =>
  [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;

// The helper as production runs it: the kit's bundle on plain Node (not TypeScript through tsx).
const kit = await buildKit({ log: () => {} });
for (const dir of [path.dirname(path.dirname(kit.dir)), path.dirname(kit.dir), kit.dir]) {
  fs.chmodSync(dir, fs.statSync(dir).mode | 0o005); // let the helper's user reach the bundle
}
const plain = await startTestDaemon();
const helped = await startTestDaemon({
  defaultUser: "nobody",
  filesystemHelper: [process.execPath, path.join(kit.dir, "app", "filesystem-helper.mjs")],
});
fs.chmodSync(path.dirname(helped.home), 0o711);
fs.chownSync(helped.home, 65534, 65534);
const gateways = viaGateway
  ? await Promise.all(
      [plain, helped].map((d) =>
        startToolboxGateway({
          listen: { host: "127.0.0.1", port: 0 },
          token: GATEWAY_TOKEN,
          resolve: (id) => (id === "sbx-bench" ? d.socketPath : undefined),
          logger: createLogger({ level: "warn" }),
        }),
      ),
    )
  : [];
const results = {
  plain: [] as Awaited<ReturnType<typeof measure>>[],
  helped: [] as Awaited<ReturnType<typeof measure>>[],
};
try {
  await measure(helped, gateways[1]?.url); // warm up (the helper's first calls compile its code)
  for (let i = 0; i < rounds; i++) {
    results.plain.push(await measure(plain, gateways[0]?.url));
    results.helped.push(await measure(helped, gateways[1]?.url));
  }
} finally {
  await Promise.all(gateways.map((g) => g.close(100)));
  await plain.close();
  await helped.close();
}
const line = (name: string, r: typeof results.plain) =>
  `  ${name.padEnd(32)} upload ${median(r.map((x) => x.up))
    .toFixed(0)
    .padStart(5)} MiB/s   download ${median(r.map((x) => x.down))
    .toFixed(0)
    .padStart(5)} MiB/s   Stat ${median(r.map((x) => x.statMs)).toFixed(2)} ms`;
console.log(
  `FilesystemService${viaGateway ? " through the runner gateway" : ""}, ${fileMib} MiB file, median of ${rounds} rounds:`,
);
console.log(line("daemon itself (no sandbox user)", results.plain));
console.log(line("through the helper (as nobody)", results.helped));
const ratio = (f: (x: Awaited<ReturnType<typeof measure>>) => number) =>
  (median(results.helped.map(f)) / median(results.plain.map(f))).toFixed(2);
console.log(
  `  helper / daemon: upload ${ratio((x) => x.up)}x, download ${ratio((x) => x.down)}x, Stat latency ${ratio((x) => x.statMs)}x`,
);
