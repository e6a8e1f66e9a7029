// `npm start`'s stack as a test fixture: scripts/all-in-one.ts (the supervisor and its parts)
// in a process group of its own, on a fresh test database, free ports and a private data
// folder, optionally with the runner talking to Docker through a recorder. Tests see exactly
// what a user of `npm start` sees, including whether a part had to be restarted.
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { buildKit } from "../daemon/scripts/build-kit.mjs";
import { docker } from "../daemon/test/docker-images.js";
import { unmountUnder } from "../runner/test/mounts.js";
import { ensureBaseImage } from "../scripts/build-base-image.mjs";
import { createTestDatabase, type TestDatabase } from "../server/test/database.js";
import { freePort } from "../server/test/stack-helpers.js";

const repoRoot = path.resolve(__dirname, "..");

/** A running all-in-one stack. */
export interface AllInOneStack {
  /** The API server's URL. */
  apiUrl: string;
  /** The proxy's URL. */
  proxyUrl: string;
  /** The admin API key. */
  adminKey: string;
  /** The default sandbox image. */
  image: string;
  /** The runner id (label dev.cove.runner-id on its containers). */
  runnerId: string;
  /** The data folder. */
  dataDir: string;
  /** The environment the stack was started with (to start a second one against it). */
  env: NodeJS.ProcessEnv;
  /** The supervisor's log so far (every part's output). */
  log(): string;
  /** alive says whether the supervisor process is still running. */
  alive(): boolean;
  /** restarts lists the parts the supervisor had to restart. */
  restarts(): string[];
  /** pidOf is a part's current process id, from the supervisor's log ("server", "runner", "proxy", "postgres"). */
  pidOf(part: string): number | undefined;
  /** stop ends the stack (Ctrl-C, then SIGKILL) and removes its containers, data and database. */
  stop(): Promise<void>;
}

/** startAllInOne boots the stack and resolves once it prints "Cove is running". */
export async function startAllInOne(
  options: { name: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = { name: "aio" },
): Promise<AllInOneStack> {
  await buildKit({ log: () => {} });
  const { image } = await ensureBaseImage({ log: () => {} });
  const database: TestDatabase = await createTestDatabase();
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), `cove-${options.name}-`));
  const logFile = path.join(dataDir, "stack.log");
  const runnerId = `${options.name}-${process.pid}`;
  // Four different ports (the OS may hand the same free port out twice in a row).
  const ports = new Set<number>();
  while (ports.size < 4) ports.add(await freePort());
  const [api, proxy, ssh, gateway] = [...ports].map(String);
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    COVE_DATA_DIR: path.join(dataDir, "data"),
    DATABASE_URL: database.url,
    COVE_API_PORT: api,
    COVE_PROXY_PORT: proxy,
    COVE_SSH_PORT: ssh,
    COVE_RUNNER_GATEWAY_PORT: gateway,
    COVE_RUNNER_ID: runnerId,
    COVE_DEFAULT_IMAGE: image,
    ...options.env,
  };
  const log = fs.openSync(logFile, "a");
  const child: ChildProcess = spawn(
    path.join(repoRoot, "node_modules/.bin/tsx"),
    ["scripts/all-in-one.ts"],
    { cwd: repoRoot, env, detached: true, stdio: ["ignore", log, log] },
  );
  fs.closeSync(log);
  let exited = false;
  const done = new Promise<void>((resolve) => {
    child.once("exit", () => {
      exited = true;
      resolve();
    });
  });
  const readLog = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : "");
  const cleanUp = async () => {
    if (!exited && child.pid !== undefined) {
      try {
        process.kill(-child.pid, "SIGINT");
      } catch {
        // gone
      }
      const timer = setTimeout(() => {
        try {
          if (child.pid !== undefined) process.kill(-child.pid, "SIGKILL");
        } catch {
          // gone
        }
      }, 20_000);
      await done;
      clearTimeout(timer);
    }
    for (const id of docker(["ps", "-aq", "--filter", `label=dev.cove.runner-id=${runnerId}`])
      .trim()
      .split("\n")
      .filter(Boolean)) {
      docker(["rm", "-f", "-v", id]);
    }
    await database.drop();
    // The runner mounts each sandbox's socket folder (a small tmpfs) in the data folder; the
    // containers were removed behind its back, so their mounts are still there.
    unmountUnder(dataDir);
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
  const until = Date.now() + (options.timeoutMs ?? 180_000);
  while (!readLog().includes("Cove is running.")) {
    if (exited || Date.now() > until) {
      const text = readLog();
      await cleanUp();
      throw new Error(`the all-in-one stack did not start:\n${text.slice(-4000)}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const adminKey = fs
    .readFileSync(path.join(env.COVE_DATA_DIR ?? "", "admin-api-key"), "utf8")
    .trim();
  return {
    apiUrl: `http://127.0.0.1:${env.COVE_API_PORT}`,
    proxyUrl: `http://127.0.0.1:${env.COVE_PROXY_PORT}`,
    adminKey,
    image,
    runnerId,
    dataDir: env.COVE_DATA_DIR ?? "",
    env,
    log: readLog,
    alive: () => !exited,
    restarts: () =>
      readLog()
        .split("\n")
        .filter((line) => line.includes('"a part exited unexpectedly'))
        .map((line) => (JSON.parse(line) as { part: string }).part),
    pidOf: (part) => {
      const lines = readLog()
        .split("\n")
        .filter((line) => line.includes('"a part is ready"') && line.includes(`"part":"${part}"`));
      const last = lines[lines.length - 1];
      return last ? (JSON.parse(last) as { pid: number }).pid : undefined;
    },
    stop: cleanUp,
  };
}
