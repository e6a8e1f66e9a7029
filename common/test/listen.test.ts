// listenDualProtocol survives clients that misbehave before a protocol server owns their
// socket. The server runs in a child process, so an unhandled error would visibly end it.
import { spawn } from "node:child_process";
import * as net from "node:net";
import * as path from "node:path";
import * as readline from "node:readline";

const tsx = path.resolve(__dirname, "../../node_modules/.bin/tsx");

test("a connection reset in the middle of the protocol preface costs only that connection", async () => {
  const child = spawn(tsx, [path.join(__dirname, "listen-child.ts")], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (chunk: Buffer) => {
    stderr += chunk.toString();
  });
  let exited: number | null | undefined;
  child.on("exit", (code) => {
    exited = code;
  });
  try {
    const lines = readline.createInterface({ input: child.stdout });
    const port = Number(await new Promise<string>((resolve) => lines.once("line", resolve)));
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
    await new Promise((r) => setTimeout(r, 300));
    expect({ exited, stderr }).toEqual({ exited: undefined, stderr: "" });
    const res = await fetch(`http://127.0.0.1:${port}/`);
    expect(await res.text()).toBe("ok");
  } finally {
    child.kill("SIGKILL");
  }
});
