// User code may remove the sandbox's /tmp, where the daemon keeps its scratch files (session
// state, code to run): later calls recreate what they need instead of failing with INTERNAL.
// The daemon runs as its own process here, with TMPDIR standing in for the sandbox's /tmp.
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { createClient } from "@connectrpc/connect";
import { CodeLanguage } from "@cove/gen-ts/cove/toolbox/v1/language_pb.js";
import { ProcessService } from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import { createUnixTransport } from "./harness.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cove-scratch-test-"));
const tmp = path.join(dir, "tmp");
const socketPath = path.join(dir, "daemon.sock");
let daemon: ChildProcess;

beforeAll(async () => {
  fs.mkdirSync(tmp);
  fs.chmodSync(tmp, 0o1777);
  fs.mkdirSync(path.join(dir, "home"));
  daemon = spawn(path.resolve(__dirname, "../../node_modules/.bin/tsx"), ["daemon/src/main.ts"], {
    cwd: path.resolve(__dirname, "../.."),
    env: {
      PATH: process.env.PATH,
      TMPDIR: tmp,
      COVE_DAEMON_SOCKET: socketPath,
      COVE_DAEMON_HOME: path.join(dir, "home"),
    },
    stdio: "ignore",
  });
  const until = Date.now() + 30_000;
  while (!fs.existsSync(socketPath)) {
    if (Date.now() > until) throw new Error("the daemon did not start");
    await new Promise((r) => setTimeout(r, 100));
  }
});
afterAll(() => {
  daemon?.kill("SIGKILL");
  fs.rmSync(dir, { recursive: true, force: true });
});

test("sessions and code runs work after user code removed the temp directory", async () => {
  const client = createClient(ProcessService, createUnixTransport(socketPath));
  await client.createSession({ cwd: "/" });
  fs.rmSync(tmp, { recursive: true, force: true });
  const session = await client.createSession({ cwd: "/" });
  expect(session.session?.sessionId).toMatch(/^s-/);
  const run = await client.codeRun({
    language: CodeLanguage.JAVASCRIPT,
    code: 'console.log("scratch-ok")',
  });
  expect(Buffer.from(run.stdout).toString()).toBe("scratch-ok\n");
  // Recreated as images ship it: everyone may write, only owners may remove.
  expect(fs.statSync(tmp).mode & 0o7777).toBe(0o1777);
});
