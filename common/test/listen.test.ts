// A Cove server survives clients that misbehave below the RPC layer: resets in the middle of
// the protocol preface, malformed Host and :authority headers. The server runs in a child
// process, so an unhandled error would visibly end it.
import { type ChildProcess, spawn } from "node:child_process";
import * as http2 from "node:http2";
import * as net from "node:net";
import * as path from "node:path";
import * as readline from "node:readline";

const tsx = path.resolve(__dirname, "../../node_modules/.bin/tsx");

let child: ChildProcess;
let port = 0;
let stderr = "";
let exited: number | null | undefined;

beforeAll(async () => {
  child = spawn(tsx, [path.join(__dirname, "listen-child.ts")], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  child.on("exit", (code) => {
    exited = code;
  });
  const lines = readline.createInterface({ input: child.stdout as NodeJS.ReadableStream });
  port = Number(await new Promise<string>((resolve) => lines.once("line", resolve)));
});
afterAll(() => {
  child.kill("SIGKILL");
});

/** stillServing checks the child lives and answers a well-formed Connect call. */
async function expectStillServing(): Promise<void> {
  await new Promise((r) => setTimeout(r, 200));
  expect({ exited, stderr }).toEqual({ exited: undefined, stderr: "" });
  const res = await fetch(`http://127.0.0.1:${port}/cove.sandbox.v1.SandboxService/GetSandbox`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: "{}",
  });
  expect(res.status).toBe(501); // unimplemented here, but answered
}

/** raw sends bytes on a fresh TCP connection and returns the first response line. */
function raw(bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.write(bytes));
    let out = "";
    socket.on("data", (chunk) => {
      out += chunk.toString();
      socket.end();
    });
    socket.on("close", () => resolve(out.split("\r\n")[0] ?? ""));
    socket.on("error", () => resolve("error"));
  });
}

test("a connection reset in the middle of the protocol preface costs only that connection", async () => {
  for (const partial of ["P", "PR", "PRI * HTTP/2.0\r\n", "GE"]) {
    await new Promise<void>((resolve, reject) => {
      const socket = net.connect(port, "127.0.0.1", () => {
        socket.write(partial);
        setTimeout(() => {
          socket.resetAndDestroy();
          resolve();
        }, 30);
      });
      socket.on("error", reject);
    });
  }
  await expectStillServing();
});

test("a malformed Host header is a 400 for that request", async () => {
  for (const host of ["[", "[::1", "x:99999", "@", "%"]) {
    const line = await raw(
      `POST /cove.sandbox.v1.SandboxService/GetSandbox HTTP/1.1\r\nhost: ${host}\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}`,
    );
    expect({ host, line }).toEqual({ host, line: "HTTP/1.1 400 Bad Request" });
  }
  await expectStillServing();
});

test("a malformed :authority over HTTP/2 is refused for that stream", async () => {
  const session = http2.connect(`http://127.0.0.1:${port}`);
  session.on("error", () => {});
  const status = await new Promise<number>((resolve) => {
    const req = session.request({
      ":method": "POST",
      ":path": "/cove.sandbox.v1.SandboxService/GetSandbox",
      ":authority": "[",
      "content-type": "application/json",
    });
    req.on("response", (headers) => resolve(Number(headers[":status"])));
    req.on("error", () => resolve(-1));
    req.end("{}");
  });
  session.close();
  expect(status === 400 || status === -1).toBe(true);
  await expectStillServing();
});
