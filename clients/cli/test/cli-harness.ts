// Runs the real `cove` CLI (bin/cove.mjs) as a child process with an isolated environment: no
// COVE_* variables from the outside, its own XDG_CONFIG_HOME and HOME.
import { type ChildProcess, spawn } from "node:child_process";
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";

/** The CLI's entry point. */
export const CLI = path.resolve(__dirname, "../bin/cove.mjs");

/** The outcome of one CLI run. */
export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A scratch home for one test file: XDG_CONFIG_HOME and HOME inside it. */
export interface Scratch {
  dir: string;
  env: NodeJS.ProcessEnv;
  configFile: string;
  remove(): void;
}

/** makeScratch makes a temporary home and the environment that points at it. */
export function makeScratch(): Scratch {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "cove-cli-"));
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (!k.startsWith("COVE_") && k !== "SSH_AUTH_SOCK") env[k] = v;
  }
  env.XDG_CONFIG_HOME = path.join(dir, "config");
  env.HOME = path.join(dir, "home");
  fs.mkdirSync(env.HOME, { recursive: true });
  return {
    dir,
    env,
    configFile: path.join(dir, "config", "cove", "config.json"),
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** spawnCli starts the CLI with piped stdio. */
export function spawnCli(
  args: string[],
  options: { env: NodeJS.ProcessEnv; cwd?: string },
): ChildProcess {
  return spawn(process.execPath, [CLI, ...args], {
    env: options.env,
    cwd: options.cwd ?? path.dirname(CLI),
    stdio: ["pipe", "pipe", "pipe"],
  });
}

/** runCli runs the CLI to completion, feeding it input (or an empty stdin). */
export function runCli(
  args: string[],
  options: { env: NodeJS.ProcessEnv; input?: string; cwd?: string; timeoutMs?: number },
): Promise<CliResult> {
  const child = spawnCli(args, options);
  let stdout = "";
  let stderr = "";
  child.stdout?.on("data", (chunk: Buffer) => {
    stdout += chunk.toString("utf8");
  });
  child.stderr?.on("data", (chunk: Buffer) => {
    stderr += chunk.toString("utf8");
  });
  child.stdin?.on("error", () => {});
  child.stdin?.end(options.input ?? "");
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`cove ${args.join(" ")} timed out; stderr: ${stderr}`));
    }, options.timeoutMs ?? 60_000);
    child.on("error", reject);
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
