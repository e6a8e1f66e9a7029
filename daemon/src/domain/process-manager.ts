import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import * as fs from "node:fs";
import {
  alreadyExists,
  CoveError,
  failedPrecondition,
  invalidArgument,
  notFound,
  resourceExhausted,
} from "@cove/common";
import type { DaemonLimits } from "../config.js";
import { ManagedProcess, type ProcessExit } from "./managed-process.js";
import { MARKER_VARIABLE } from "./process-tree.js";
import { checkWorkingDirectory, userEnvironment } from "./run-as.js";
import type { OsUser } from "./users.js";

/** What to run: a shell command line (run by /bin/sh -c) or an argv without a shell. */
export type Program = { command: string } | { argv: string[] };

/** Everything needed to start a process. */
export interface ProcessSpec {
  /** The program. */
  program: Program;
  /** Absolute working directory (already resolved). */
  cwd: string;
  /** Environment on top of the sandbox's base environment. */
  env: Record<string, string>;
  /** OS user to run as; undefined runs as the daemon's own user. */
  user: OsUser | undefined;
  /** Tag to find it by, unique among running processes ("" for none). */
  tag: string;
  /** Kill the tree after this many ms; undefined or 0 for no timeout. */
  timeoutMs: number | undefined;
  /** Keep stdin open for input; otherwise it is closed at once (after `stdin`, if given). */
  openStdin: boolean;
  /** Bytes to write to stdin first. */
  stdin?: Uint8Array;
  /** Bytes of each output stream to keep (ring). */
  bufferBytes: number;
  /** Whether to list and retain it after exit (Start) or not (Exec, internal runs). */
  retain: boolean;
}

/** Chooses a process by pid or tag. */
export type ProcessSelector = { pid: number } | { tag: string };

const TAG_PATTERN = /^[A-Za-z0-9_.:-]{1,128}$/;

/** Variables of the daemon's Node process, left out when it shares its own environment. */
const NODE_ENV = /^(NODE_|npm_)/;

/**
 * readSandboxEnv returns the sandbox's environment: from `file` (NUL-separated KEY=VALUE, e.g.
 * /proc/1/environ, where cove-init keeps the container's full environment while the daemon
 * itself runs with a clean one), or the daemon's own environment when no file is given.
 */
export function readSandboxEnv(file: string | undefined): Record<string, string> {
  const env: Record<string, string> = {};
  if (file) {
    for (const entry of fs.readFileSync(file, "utf8").split("\0")) {
      const eq = entry.indexOf("=");
      if (eq > 0) env[entry.slice(0, eq)] = entry.slice(eq + 1);
    }
    return env;
  }
  for (const [key, value] of Object.entries(process.env)) {
    if (value !== undefined && !NODE_ENV.test(key)) env[key] = value;
  }
  return env;
}

/**
 * ProcessManager starts and tracks the processes the toolbox runs: limits on how many run,
 * unique tags, retention of exited processes for reattach, and killing everything on close.
 */
export class ProcessManager {
  private readonly running = new Map<number, ManagedProcess>();
  private readonly retained: ManagedProcess[] = [];

  constructor(
    private readonly limits: DaemonLimits,
    private readonly sandboxEnv: Record<string, string> = readSandboxEnv(undefined),
    private readonly initPath: string | undefined = undefined,
  ) {}

  /** baseEnv is the environment every process starts from (userEnvironment over the sandbox's). */
  baseEnv(user: OsUser | undefined): Record<string, string> {
    return userEnvironment(this.sandboxEnv, user);
  }

  /**
   * start spawns a process in its own process group. Errors before it runs (missing cwd or
   * executable, limits, tag in use) are thrown; later failures are reported in its exit.
   */
  async start(spec: ProcessSpec): Promise<ManagedProcess> {
    if (spec.tag !== "") {
      if (!TAG_PATTERN.test(spec.tag)) {
        throw invalidArgument("tag", "must be 1-128 characters of A-Z a-z 0-9 _ . : -");
      }
      const holder = [...this.running.values()].find((p) => p.description.tag === spec.tag);
      if (holder) {
        throw alreadyExists("TAG_IN_USE", `a running process already has tag "${spec.tag}"`, {
          tag: spec.tag,
          pid: String(holder.pid),
        });
      }
    }
    if (this.running.size >= this.limits.maxRunningProcesses) {
      throw resourceExhausted(
        "STREAM_LIMIT_EXCEEDED",
        `at most ${this.limits.maxRunningProcesses} processes may run at once`,
        { limit: String(this.limits.maxRunningProcesses) },
      );
    }
    checkWorkingDirectory(spec.cwd);
    const [file, args, text] =
      "command" in spec.program
        ? ["/bin/sh", ["-c", spec.program.command], spec.program.command]
        : [spec.program.argv[0] ?? "", spec.program.argv.slice(1), spec.program.argv.join(" ")];
    if (file === "") throw invalidArgument("argv", "must name a program");
    const mark = randomBytes(9).toString("base64url");
    const child = spawn(file, args, {
      cwd: spec.cwd,
      env: { ...this.baseEnv(spec.user), ...spec.env, [MARKER_VARIABLE]: mark },
      stdio: [spec.openStdin || spec.stdin ? "pipe" : "ignore", "pipe", "pipe"],
      detached: true, // its own process group, so signals and kills reach the whole tree
      uid: spec.user?.uid,
      gid: spec.user?.gid,
    });
    if (child.pid === undefined) {
      const err = await new Promise<NodeJS.ErrnoException>((resolve) =>
        child.once("error", resolve),
      );
      throw startError(err, file);
    }
    child.on("error", () => {
      // Reported through the exit; the spawn itself succeeded.
    });
    const proc = new ManagedProcess(
      child.pid,
      { command: text, cwd: spec.cwd, user: spec.user?.name ?? "", tag: spec.tag, pty: false },
      child,
      {
        bufferBytes: spec.bufferBytes,
        timeoutMs: spec.timeoutMs,
        stdinOpen: spec.openStdin,
        mark,
        owner: spec.user
          ? { uid: spec.user.uid, gid: spec.user.gid, initPath: this.initPath }
          : undefined,
      },
    );
    if (spec.stdin && spec.stdin.length > 0) {
      child.stdin?.write(spec.stdin);
    }
    if (!spec.openStdin) child.stdin?.end();
    this.running.set(proc.pid, proc);
    void proc.done.then(() => {
      this.running.delete(proc.pid);
      if (spec.retain) this.prune();
    });
    if (spec.retain) this.retained.push(proc);
    return proc;
  }

  /** get finds a running or retained process; NOT_FOUND (PROCESS_NOT_FOUND) otherwise. */
  get(selector: ProcessSelector): ManagedProcess {
    const matches = (p: ManagedProcess) =>
      "pid" in selector ? p.pid === selector.pid : p.description.tag === selector.tag;
    const running = [...this.running.values()].find(matches);
    if (running) return running;
    const exited = [...this.retained].reverse().find(matches);
    if (exited) return exited;
    const what = "pid" in selector ? `pid ${selector.pid}` : `tag "${selector.tag}"`;
    throw notFound(
      "PROCESS_NOT_FOUND",
      `no process with ${what} (it may have exited over 10 minutes ago)`,
      {
        ...("pid" in selector ? { pid: String(selector.pid) } : { tag: selector.tag }),
      },
    );
  }

  /** getRunning is get, but an exited process is NOT_FOUND too (for signals). */
  getRunning(selector: ProcessSelector): ManagedProcess {
    const proc = this.get(selector);
    if (!proc.running) {
      throw notFound("PROCESS_NOT_FOUND", `process ${proc.pid} has exited: ${proc.exit?.status}`, {
        pid: String(proc.pid),
      });
    }
    return proc;
  }

  /** list returns retained processes (running first, then exited, newest last). */
  list(runningOnly: boolean): ManagedProcess[] {
    const listed = this.retained.filter((p) => p.running);
    if (!runningOnly) listed.push(...this.retained.filter((p) => !p.running));
    return listed;
  }

  /** close kills every running process tree and waits for them to end. */
  async close(): Promise<ProcessExit[]> {
    const all = [...this.running.values()];
    for (const proc of all) proc.kill("SIGKILL");
    return Promise.all(all.map((p) => p.done));
  }

  private prune(): void {
    const now = Date.now();
    // Drop exited processes past their retention time, then the oldest beyond the cap.
    for (let i = this.retained.length - 1; i >= 0; i--) {
      const p = this.retained[i] as ManagedProcess;
      if (p.exit && now - p.exit.endTime.getTime() > this.limits.retainExitedMs)
        this.retained.splice(i, 1);
    }
    let exited = this.retained.filter((p) => !p.running).length;
    for (let i = 0; i < this.retained.length && exited > this.limits.maxRetainedProcesses; ) {
      if (!(this.retained[i] as ManagedProcess).running) {
        this.retained.splice(i, 1);
        exited--;
      } else {
        i++;
      }
    }
  }
}

function startError(err: NodeJS.ErrnoException, file: string): CoveError {
  if (err.code === "ENOENT") {
    return notFound("FILE_NOT_FOUND", `cannot run ${file}: no such file or directory`, {
      path: file,
    });
  }
  if (err.code === "EACCES" || err.code === "EPERM") {
    return new CoveError(
      "permissionDenied",
      "FILE_ACCESS_DENIED",
      `cannot run ${file}: permission denied`,
      {
        path: file,
      },
    );
  }
  return failedPrecondition("INTERNAL", `cannot run ${file}: ${err.message}`, { path: file });
}
