// ProcessService.Start with kill_on_disconnect through the whole toolbox path (proxy, runner
// gateway, daemon): when the client resets its stream while the output is backpressured (it
// stopped reading, every flow-control window and buffer on the way is full and the process
// blocks on its pipe), the reset still reaches the daemon and the process tree is killed.
// Raw clients, so that "not reading" really means not reading: gRPC over HTTP/2 resetting the
// stream, and Connect over HTTP/1.1 dropping the connection.
import * as fs from "node:fs";
import * as http2 from "node:http2";
import * as net from "node:net";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  StartRequestSchema,
  StartResponseSchema,
} from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import { ALPHA, ORG_A_KEY, type ProxyEnv, startProxyEnv } from "./edge-harness.js";

let env: ProxyEnv;
beforeAll(async () => {
  env = await startProxyEnv();
});
afterAll(async () => {
  await env.close();
});

/** A StartRequest (default: `yes` with kill_on_disconnect) as one length-prefixed message. */
function startMessage(args = ["yes"], killOnDisconnect = true): Buffer {
  const body = toBinary(
    StartRequestSchema,
    create(StartRequestSchema, { program: { case: "argv", value: { args } }, killOnDisconnect }),
  );
  const head = Buffer.alloc(5);
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

/**
 * firstPid reads length-prefixed messages from `source` (through `unwrap`) until the start
 * event names a pid, then pauses the source: from then on nothing is read.
 */
function firstPid(source: NodeJS.ReadableStream, unwrap: (chunk: Buffer) => Buffer = (c) => c) {
  return new Promise<number>((resolve, reject) => {
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      buffered = Buffer.concat([buffered, unwrap(chunk)]);
      while (buffered.length >= 5) {
        const length = buffered.readUInt32BE(1);
        if (buffered.length < 5 + length) break;
        const message = fromBinary(StartResponseSchema, buffered.subarray(5, 5 + length));
        buffered = buffered.subarray(5 + length);
        const event = message.event?.event;
        if (event?.case === "start") {
          source.removeListener("data", onData);
          source.pause();
          resolve(event.value.pid);
          return;
        }
      }
    };
    source.on("data", onData);
    source.once("end", () => reject(new Error("the stream ended before the start event")));
  });
}

const alive = (pid: number) =>
  fs.existsSync(`/proc/${pid}`) && !fs.readFileSync(`/proc/${pid}/stat`, "utf8").includes(") Z ");

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string) {
  const until = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** waitForBlockedWrites waits until a process has written a lot and then stopped (a held pipe). */
async function waitForBlockedWrites(pid: number) {
  const written = () =>
    Number(/wchar: (\d+)/.exec(fs.readFileSync(`/proc/${pid}/io`, "utf8"))?.[1] ?? -1);
  let last = -1;
  await waitFor(
    async () => {
      const now = written();
      const still = now === last && now > 1024 * 1024;
      last = now;
      await new Promise((r) => setTimeout(r, 300));
      return still;
    },
    20_000,
    "the process to block on its pipe",
  );
}

/** startOverH2 calls Start through the proxy with gRPC and returns the pid, reading no further. */
async function startOverH2(session: http2.ClientHttp2Session, message: Buffer) {
  const stream = session.request({
    ":method": "POST",
    ":path": "/cove.toolbox.v1.ProcessService/Start",
    "content-type": "application/grpc+proto",
    te: "trailers",
    "cove-sandbox-id": ALPHA,
    authorization: `Bearer ${ORG_A_KEY}`,
  });
  stream.on("error", () => {});
  stream.end(message);
  return { stream, pid: await firstPid(stream) };
}

test("gRPC over HTTP/2: resetting a backpressured stream lets the process run on", async () => {
  const session = http2.connect(env.proxy.url);
  session.on("error", () => {});
  let pid = 0;
  try {
    const call = await startOverH2(
      session,
      startMessage(["head", "-c", "200000000", "/dev/zero"], false),
    );
    pid = call.pid;
    await waitForBlockedWrites(pid);
    call.stream.close(http2.constants.NGHTTP2_CANCEL);
    // Its only reader gone, nothing holds the pipe: the process writes to its end and exits.
    await waitFor(() => !alive(pid), 15_000, `process ${pid} to finish`);
  } finally {
    if (pid && alive(pid)) process.kill(pid, "SIGKILL");
    session.destroy();
  }
});

test("gRPC over HTTP/2: resetting a backpressured Start stream kills the process", async () => {
  const session = http2.connect(env.proxy.url);
  session.on("error", () => {});
  let pid = 0;
  try {
    const call = await startOverH2(session, startMessage());
    pid = call.pid;
    await waitForBlockedWrites(pid);
    call.stream.close(http2.constants.NGHTTP2_CANCEL);
    await waitFor(() => !alive(pid), 10_000, `process ${pid} to be killed`);
  } finally {
    if (pid && alive(pid)) process.kill(pid, "SIGKILL");
    session.destroy();
  }
});

test("Connect over HTTP/1.1: dropping the connection of a backpressured Start kills the process", async () => {
  const url = new URL(env.proxy.url);
  const socket = net.connect(Number(url.port), url.hostname);
  socket.on("error", () => {});
  let pid = 0;
  try {
    await new Promise((resolve) => socket.once("connect", resolve));
    const body = startMessage();
    socket.write(
      [
        "POST /cove.toolbox.v1.ProcessService/Start HTTP/1.1",
        `Host: ${url.host}`,
        "Content-Type: application/connect+proto",
        `Content-Length: ${body.length}`,
        `Cove-Sandbox-Id: ${ALPHA}`,
        `Authorization: Bearer ${ORG_A_KEY}`,
        "",
        "",
      ].join("\r\n"),
    );
    socket.write(body);
    // Skip the status line and headers, then the chunk-size lines of the (chunked) body.
    let inBody = false;
    pid = await firstPid(socket, (chunk) => {
      let data = chunk;
      if (!inBody) {
        const end = data.indexOf("\r\n\r\n");
        if (end < 0) return Buffer.alloc(0);
        inBody = true;
        data = data.subarray(end + 4);
      }
      return dechunk(data);
    }); // and read nothing more
    await waitForBlockedWrites(pid);
    socket.resetAndDestroy();
    await waitFor(() => !alive(pid), 10_000, `process ${pid} to be killed`);
  } finally {
    if (pid && alive(pid)) process.kill(pid, "SIGKILL");
    socket.destroy();
  }
});

/** dechunk strips HTTP/1.1 chunk-size lines well enough for the first few messages. */
function dechunk(data: Buffer): Buffer {
  return Buffer.from(data.toString("latin1").replace(/(^|\r\n)[0-9a-f]+\r\n/g, ""), "latin1");
}
