// Cove servers and runners in processes of their own, for fault tests that SIGKILL them. Each
// child is started through tsx in a new process group (tsx runs the script in a grandchild),
// so a kill reaches the real server and nothing else. Their logs go to files in `logDir`.
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";
import * as readline from "node:readline";
import type { RunnerConfig } from "../../runner/src/config.js";

const repoRoot = path.resolve(__dirname, "../..");
const tsx = path.join(repoRoot, "node_modules/.bin/tsx");

/** A child process group started by this test. */
export interface ChildGroup {
  /** The process group id (= the tsx process's pid). */
  readonly pid: number;
  /** Resolves when the tsx process exits. */
  readonly exited: Promise<void>;
  /** kill sends a signal to the whole group (no-op once it exited). */
  kill(signal: NodeJS.Signals): void;
  /** stop sends SIGTERM, then SIGKILL after graceMs, and waits for the exit. */
  stop(graceMs?: number): Promise<void>;
}

function group(child: ChildProcess): ChildGroup {
  const pid = child.pid;
  if (pid === undefined) throw new Error("the child did not start");
  let done = false;
  const exited = new Promise<void>((resolve) => {
    child.once("exit", () => {
      done = true;
      resolve();
    });
  });
  const kill = (signal: NodeJS.Signals) => {
    if (done) return;
    try {
      process.kill(-pid, signal);
    } catch {
      // already gone
    }
  };
  return {
    pid,
    exited,
    kill,
    async stop(graceMs = 5_000) {
      kill("SIGTERM");
      const timer = setTimeout(() => kill("SIGKILL"), graceMs);
      await exited;
      clearTimeout(timer);
      // The grandchild may outlive tsx for a moment; make sure the group is gone.
      kill("SIGKILL");
    },
  };
}

/** What a server process needs: the env of server/src/main.ts. */
export interface ServerProcessOptions {
  /** Listen port on 127.0.0.1. */
  port: number;
  /** DATABASE_URL. */
  databaseUrl: string;
  /** REDIS_URL, or undefined for in-process shared state. */
  redisUrl: string | undefined;
  /** COVE_DATA_DIR. */
  dataDir: string;
  /** COVE_RUNNER_REGISTRATION_TOKEN. */
  runnerToken: string;
  /** COVE_PROXY_TOKEN. */
  proxyToken: string;
  /** COVE_DEFAULT_IMAGE. */
  image: string;
  /** Log file (appended). */
  logFile: string;
}

/** startServerProcess runs `tsx server/src/main.ts` with the given env; see waitForServer. */
export function startServerProcess(options: ServerProcessOptions): ChildGroup {
  const log = fs.openSync(options.logFile, "a");
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    COVE_API_HOST: "127.0.0.1",
    COVE_API_PORT: String(options.port),
    DATABASE_URL: options.databaseUrl,
    REDIS_URL: options.redisUrl ?? "",
    COVE_DATA_DIR: options.dataDir,
    COVE_RUNNER_REGISTRATION_TOKEN: options.runnerToken,
    COVE_PROXY_TOKEN: options.proxyToken,
    COVE_DEFAULT_IMAGE: options.image,
  };
  const child = spawn(tsx, ["server/src/main.ts"], {
    cwd: repoRoot,
    env,
    detached: true,
    stdio: ["ignore", log, log],
  });
  fs.closeSync(log);
  return group(child);
}

/** A runner process and its toolbox gateway. */
export interface RunnerProcess extends ChildGroup {
  /** The gateway's URL, as the runner printed it. */
  gatewayUrl: string;
}

/** startRunnerProcess runs server/test/stack-runner-child.ts with `config` and labels. */
export async function startRunnerProcess(
  config: RunnerConfig,
  labels: Record<string, string>,
  logFile: string,
): Promise<RunnerProcess> {
  const log = fs.openSync(logFile, "a");
  const child = spawn(tsx, ["server/test/stack-runner-child.ts"], {
    cwd: repoRoot,
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      COVE_TEST_RUNNER: JSON.stringify(config),
      COVE_TEST_RUNNER_LABELS: JSON.stringify(labels),
    },
    detached: true,
    stdio: ["ignore", "pipe", log],
  });
  fs.closeSync(log);
  const g = group(child);
  const lines = readline.createInterface({ input: child.stdout as NodeJS.ReadableStream });
  let timer: NodeJS.Timeout | undefined;
  const first = await Promise.race([
    (async () => {
      for await (const line of lines) return line;
      return undefined;
    })(),
    new Promise<undefined>((resolve) => {
      timer = setTimeout(() => resolve(undefined), 60_000);
    }),
  ]);
  clearTimeout(timer);
  if (!first) {
    g.kill("SIGKILL");
    throw new Error(`the runner did not start; see ${logFile}`);
  }
  const { gatewayUrl } = JSON.parse(first) as { gatewayUrl: string };
  // Keep draining stdout so the child never blocks on a full pipe.
  child.stdout?.resume();
  return { ...g, gatewayUrl };
}
