import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as path from "node:path";
import {
  failedPrecondition,
  invalidArgument,
  notFound,
  outOfRange,
  permissionDenied,
  resourceExhausted,
} from "@cove/common";
import * as pty from "node-pty";
import { type DaemonContext, runAsRules } from "../context.js";
import { OutputLog } from "./output-log.js";
import { MARKER_VARIABLE, signalTree } from "./process-tree.js";
import {
  checkWorkingDirectory,
  DEFAULT_PATH,
  ownAccount,
  runAs,
  userEnvironment,
  workingDirectory,
} from "./run-as.js";

/** PTYs that may exist at once, running or retained after exit. */
export const MAX_PTYS = 64;
/** How long an exited PTY stays addressable, in ms. */
export const PTY_RETAIN_MS = 5 * 60_000;
/** Time between KillPty's SIGHUP and the SIGKILL of whatever still runs, in ms. */
export const PTY_KILL_GRACE_MS = 3_000;
/** Largest input accepted in one write, in bytes. */
export const MAX_PTY_INPUT_BYTES = 1024 * 1024;
/** Largest output chunk in one data event, in bytes. */
export const MAX_PTY_DATA_EVENT_BYTES = 64 * 1024;
/** Smallest and largest terminal dimension accepted. */
export const PTY_SIZE_RANGE = { min: 1, max: 1000 } as const;
/** The terminal size used when a request leaves it unset. */
export const DEFAULT_PTY_SIZE = { cols: 80, rows: 24 } as const;

const MAX_ARGV_ELEMENTS = 4096;
const MAX_ARGV_BYTES = 1024 * 1024;
const SETPRIV = "/usr/bin/setpriv";
const NON_SHELLS = new Set(["nologin", "false", "sync", "halt", "shutdown"]);

// ---------------------------------------------------------------------------------------------
// Spawning: the reusable part (ProcessService.Start with a pty option can use spawnPty).

/** Everything needed to start a process on a new pseudo-terminal. */
export interface PtySpawnOptions {
  /** Program to execute (absolute, or searched in env.PATH). */
  file: string;
  /** Arguments after the program name. */
  args: string[];
  /** Absolute working directory. */
  cwd: string;
  /** The complete environment of the process (nothing is inherited from the daemon). */
  env: Record<string, string>;
  /** Terminal columns. */
  cols: number;
  /** Terminal rows. */
  rows: number;
  /** Size of the output ring buffer, in bytes. */
  bufferBytes: number;
  /**
   * The value of MARKER_VARIABLE in env, if set: kills also reach processes that inherited it
   * after leaving the session and being reparented.
   */
  mark?: string;
  /** Called after every output append and at exit, e.g. to wake a process's readers. */
  onChange?: () => void;
}

/** How a PTY's process ended. */
export interface PtyExitStatus {
  /** Exit status; 128 + signal when killed by a signal, as shells report it. */
  exitCode: number;
  /** The signal that killed the process, or 0. */
  signal: number;
}

/**
 * PtyProcess is one process on a pseudo-terminal: its output goes into an OutputLog ring that
 * any number of readers can follow from an offset; the log is closed when the process exits.
 * The process leads its own session and process group.
 */
export class PtyProcess {
  /** The output written to the terminal, addressed by absolute offsets. */
  readonly log: OutputLog;
  /** Resolves once the process has exited and its output is fully in the log. */
  readonly exited: Promise<PtyExitStatus>;
  private status: PtyExitStatus | undefined;
  private readonly term: pty.IPty;
  private readonly mark: string | undefined;

  constructor(options: PtySpawnOptions) {
    this.log = new OutputLog(options.bufferBytes, options.onChange);
    this.mark = options.mark;
    this.term = pty.spawn(options.file, options.args, {
      name: options.env.TERM ?? "xterm-256color",
      cols: options.cols,
      rows: options.rows,
      cwd: options.cwd,
      env: options.env,
      encoding: null,
    });
    this.term.onData((chunk) => this.log.append(chunk as unknown as Buffer));
    // node-pty rethrows a read error other than EIO (the normal end) unless someone else
    // listens; the terminal then just ends (onExit still fires), the daemon does not.
    (this.term as unknown as { on(event: "error", listener: () => void): void }).on(
      "error",
      () => {},
    );
    this.exited = new Promise((resolve) => {
      this.term.onExit(({ exitCode, signal }) => {
        const sig = signal ?? 0;
        this.status = { exitCode: sig > 0 ? 128 + sig : exitCode, signal: sig };
        this.log.close();
        resolve(this.status);
      });
    });
  }

  /** The process id of the leading process (also its process group and session id). */
  get pid(): number {
    return this.term.pid;
  }

  /** The current terminal columns. */
  get cols(): number {
    return this.term.cols;
  }

  /** The current terminal rows. */
  get rows(): number {
    return this.term.rows;
  }

  /** The exit status once the process has exited, else undefined. */
  get exitStatus(): PtyExitStatus | undefined {
    return this.status;
  }

  /** write sends bytes to the terminal as if typed. Ignored once the process has exited. */
  write(data: Uint8Array): void {
    if (this.status !== undefined || data.length === 0) return;
    this.term.write(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  }

  /** resize changes the terminal size; the foreground process gets SIGWINCH. */
  resize(cols: number, rows: number): void {
    if (this.status !== undefined) return;
    this.term.resize(cols, rows);
  }

  /**
   * signal sends a signal to everything the terminal started: the process group, every job in
   * the session, descendants that left it, and processes carrying the mark.
   */
  signal(signal: NodeJS.Signals): void {
    signalAll(this.term.pid, signal, this.mark);
  }

  /**
   * terminate hangs up the terminal (SIGHUP to the session) and, graceMs later, SIGKILLs
   * whatever of the session still runs. Resolves with the exit status once the leading process
   * has ended, or undefined if it is still there a second after the SIGKILL.
   */
  async terminate(graceMs = PTY_KILL_GRACE_MS): Promise<PtyExitStatus | undefined> {
    if (this.status !== undefined) return this.status;
    const leader = this.term.pid;
    signalSession(leader, "SIGHUP");
    setTimeout(() => signalAll(leader, "SIGKILL", this.mark), graceMs).unref();
    return Promise.race([this.exited, sleep(graceMs + 1_000).then(() => undefined)]);
  }
}

/** spawnPty starts a process on a new pseudo-terminal; see PtyProcess. */
export function spawnPty(options: PtySpawnOptions): PtyProcess {
  return new PtyProcess(options);
}

/**
 * signalSession signals a session leader's process group and every process still in its
 * session (jobs an interactive shell moved to other groups), ignoring processes already gone.
 */
export function signalSession(leader: number, signal: NodeJS.Signals): void {
  trySignal(-leader, signal);
  for (const pid of sessionMembers(leader)) trySignal(pid, signal);
}

function signalAll(leader: number, signal: NodeJS.Signals, mark: string | undefined): void {
  signalSession(leader, signal);
  signalTree(leader, signal, mark);
}

function sessionMembers(sid: number): number[] {
  const members: number[] = [];
  let entries: string[] = [];
  try {
    entries = fs.readdirSync("/proc");
  } catch {
    return members;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${entry}/stat`, "utf8");
      // Fields after the parenthesised name: state ppid pgrp session ...
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      if (Number(fields[3]) === sid) members.push(Number(entry));
    } catch {
      // The process ended while we looked.
    }
  }
  return members;
}

function trySignal(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone.
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

// ---------------------------------------------------------------------------------------------
// Launch rules shared with ProcessService: program, cwd, env, user.

/** What a request asks to run: a shell command line, an argv, or the user's login shell. */
export type PtyProgram = { command: string } | { argv: string[] } | { loginShell: true };

/** A CreatePty request in domain terms. */
export interface PtyLaunchRequest {
  /** What to run. */
  program: PtyProgram;
  /** Working directory; empty means the user's home. */
  cwd: string;
  /** Extra environment variables over the login environment. */
  env: Record<string, string>;
  /** User name or decimal uid; empty means the sandbox user. */
  user: string;
  /** Terminal columns; 0 means 80. */
  cols: number;
  /** Terminal rows; 0 means 24. */
  rows: number;
}

/** A validated launch: spawn options plus what ListPtys shows. */
export interface ResolvedLaunch {
  /** Options for spawnPty. */
  spawn: PtySpawnOptions;
  /** The command line for display. */
  command: string;
  /** The name of the user the process runs as. */
  user: string;
}

/**
 * resolveLaunch applies the toolbox's process rules to a request: it validates the program,
 * env and size, resolves the user and cwd, builds the environment (the sandbox's, minus Cove's
 * own variables, with the user's HOME, USER, LOGNAME and SHELL; TERM defaults to
 * xterm-256color; then the request's env) and, when the user differs from the daemon's, drops
 * privileges with setpriv. Throws CoveErrors as ProcessService.Start documents them.
 */
export function resolveLaunch(
  ctx: DaemonContext,
  req: PtyLaunchRequest,
  sandboxEnv: Record<string, string>,
): ResolvedLaunch {
  const cols = checkDimension(req.cols, "size.cols", DEFAULT_PTY_SIZE.cols);
  const rows = checkDimension(req.rows, "size.rows", DEFAULT_PTY_SIZE.rows);
  checkEnv(req.env);
  const resolved = runAs(runAsRules(ctx), req.user);
  const home = resolved.home;
  const user = resolved.user ?? ownAccount(home);
  const cwd = workingDirectory(req.cwd, home);
  checkWorkingDirectory(cwd);
  const mark = crypto.randomBytes(9).toString("base64url");
  const env = userEnvironment(sandboxEnv, user, { home });
  env.TERM = "xterm-256color";
  Object.assign(env, req.env, { [MARKER_VARIABLE]: mark });

  let file: string;
  let args: string[];
  let command: string;
  if ("command" in req.program) {
    if (req.program.command === "") throw invalidArgument("command", "must not be empty");
    if (req.program.command.includes("\0"))
      throw invalidArgument("command", "must not contain NUL bytes");
    file = "/bin/sh";
    args = ["-c", req.program.command];
    command = req.program.command;
  } else if ("argv" in req.program) {
    const argv = req.program.argv;
    checkArgv(argv);
    file = resolveExecutable(argv[0] as string, env.PATH ?? DEFAULT_PATH, cwd);
    args = argv.slice(1);
    command = argv.join(" ");
  } else {
    file = loginShell(user.shell);
    args = ["-l"];
    command = file;
  }

  if (user.uid !== currentUid() || user.gid !== process.getgid?.()) {
    if (currentUid() !== 0) {
      throw permissionDenied(
        "PERMISSION_DENIED",
        `the daemon cannot run processes as ${user.name}`,
        {
          user: user.name,
        },
      );
    }
    if (!isExecutable(SETPRIV)) {
      throw failedPrecondition("RUNTIME_NOT_INSTALLED", "running as another user needs setpriv", {
        runtime: "setpriv",
      });
    }
    const groups = user.name === String(user.uid) ? "--clear-groups" : "--init-groups";
    args = [`--reuid=${user.uid}`, `--regid=${user.gid}`, groups, "--", file, ...args];
    file = SETPRIV;
  }

  return {
    spawn: {
      file,
      args,
      cwd,
      env,
      cols,
      rows,
      bufferBytes: ctx.config.limits.outputBufferBytes,
      mark,
    },
    command,
    user: user.name,
  };
}

/** checkDimension validates one terminal dimension (1..1000; 0 takes the default). */
export function checkDimension(value: number, field: string, fallback?: number): number {
  if (value === 0 && fallback !== undefined) return fallback;
  if (!Number.isInteger(value) || value < PTY_SIZE_RANGE.min || value > PTY_SIZE_RANGE.max) {
    throw invalidArgument(field, `must be between ${PTY_SIZE_RANGE.min} and ${PTY_SIZE_RANGE.max}`);
  }
  return value;
}

function checkEnv(env: Record<string, string>): void {
  for (const [key, value] of Object.entries(env)) {
    if (key === "" || key.includes("=") || key.includes("\0")) {
      throw invalidArgument("env", `invalid variable name ${JSON.stringify(key)}`);
    }
    if (value.includes("\0")) throw invalidArgument(`env.${key}`, "must not contain NUL bytes");
  }
}

function checkArgv(argv: string[]): void {
  if (argv.length === 0) throw invalidArgument("argv.args", "must not be empty");
  if (argv.length > MAX_ARGV_ELEMENTS) {
    throw invalidArgument("argv.args", `must have at most ${MAX_ARGV_ELEMENTS} elements`);
  }
  let bytes = 0;
  for (const arg of argv) {
    if (arg.includes("\0")) throw invalidArgument("argv.args", "must not contain NUL bytes");
    bytes += Buffer.byteLength(arg);
  }
  if (bytes > MAX_ARGV_BYTES) throw invalidArgument("argv.args", "must be at most 1 MiB in total");
  if (argv[0] === "") throw invalidArgument("argv.args", "the program must not be empty");
}

function currentUid(): number {
  return process.getuid?.() ?? 0;
}

function isExecutable(file: string): boolean {
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function resolveExecutable(program: string, searchPath: string, cwd: string): string {
  const candidates = program.includes("/")
    ? [path.resolve(cwd, program)]
    : searchPath
        .split(":")
        .filter((dir) => dir !== "")
        .map((dir) => path.resolve(cwd, dir, program));
  let found: string | undefined;
  for (const candidate of candidates) {
    if (isExecutable(candidate)) return candidate;
    if (found === undefined && fs.existsSync(candidate)) found = candidate;
  }
  if (found !== undefined) {
    throw permissionDenied("PERMISSION_DENIED", `${found} is not an executable file`, {
      path: found,
    });
  }
  throw notFound("FILE_NOT_FOUND", `program ${program} not found`, { path: program });
}

function loginShell(shell: string): string {
  if (shell !== "" && !NON_SHELLS.has(path.basename(shell)) && isExecutable(shell)) return shell;
  return isExecutable("/bin/bash") ? "/bin/bash" : "/bin/sh";
}

// ---------------------------------------------------------------------------------------------
// The PTY registry behind PtyService.

/** Why a PTY's process ended, as PtyExitReason. */
export type PtyExitReasonName = "exited" | "signaled" | "killed";

/** One event for a PTY viewer, in the order ConnectPty sends them. */
export type PtyViewEvent =
  | {
      type: "attached";
      ptyId: string;
      pid: number;
      cols: number;
      rows: number;
      bufferStartOffset: number;
    }
  | { type: "data"; data: Buffer; offset: number }
  | { type: "resized"; cols: number; rows: number }
  | {
      type: "exit";
      reason: PtyExitReasonName;
      exitCode: number;
      signal: number;
      outputEndOffset: number;
    };

/** What ListPtys reports about one PTY. */
export interface PtySummary {
  /** The PTY id. */
  ptyId: string;
  /** The leading process id. */
  pid: number;
  /** The command line for display. */
  command: string;
  /** The absolute working directory. */
  cwd: string;
  /** The user the process runs as. */
  user: string;
  /** Current columns. */
  cols: number;
  /** Current rows. */
  rows: number;
  /** Viewers attached now. */
  viewerCount: number;
  /** When the PTY was created. */
  createTime: Date;
  /** Whether the process has ended. */
  exited: boolean;
}

interface PtyEntry {
  id: string;
  proc: PtyProcess;
  command: string;
  cwd: string;
  user: string;
  createTime: Date;
  viewers: number;
  killed: boolean;
  /** Bumped at every resize, so viewers can tell they have a notice to send. */
  sizeVersion: number;
  sizeChanged: Notifier;
  retainTimer?: NodeJS.Timeout;
}

/** Options of a PtyManager. */
export interface PtyManagerOptions {
  /** PTYs that may exist at once (default MAX_PTYS). */
  maxPtys?: number;
  /** How long exited PTYs are retained, in ms (default PTY_RETAIN_MS). */
  retainMs?: number;
}

/**
 * PtyManager owns the daemon's PTYs: creates them, lets any number of viewers follow one,
 * routes input and resizes, kills them, and forgets exited ones after the retention time.
 */
export class PtyManager {
  private readonly ptys = new Map<string, PtyEntry>();
  private readonly maxPtys: number;
  private readonly retainMs: number;

  constructor(
    private readonly ctx: DaemonContext,
    private readonly sandboxEnv: Record<string, string>,
    options: PtyManagerOptions = {},
  ) {
    this.maxPtys = options.maxPtys ?? MAX_PTYS;
    this.retainMs = options.retainMs ?? PTY_RETAIN_MS;
  }

  /** create starts a PTY; RESOURCE_EXHAUSTED when MAX_PTYS are running. */
  create(req: PtyLaunchRequest): { ptyId: string; pid: number } {
    const launch = resolveLaunch(this.ctx, req, this.sandboxEnv);
    this.makeRoom();
    const proc = spawnPty(launch.spawn);
    const entry: PtyEntry = {
      id: newPtyId(),
      proc,
      command: launch.command,
      cwd: launch.spawn.cwd,
      user: launch.user,
      createTime: new Date(),
      viewers: 0,
      killed: false,
      sizeVersion: 0,
      sizeChanged: new Notifier(),
    };
    this.ptys.set(entry.id, entry);
    void proc.exited.then((status) => {
      this.ctx.logger.debug("pty exited", { ptyId: entry.id, pid: proc.pid, ...status });
      entry.retainTimer = setTimeout(() => this.forget(entry), this.retainMs);
      entry.retainTimer.unref();
    });
    return { ptyId: entry.id, pid: proc.pid };
  }

  /**
   * attach checks the PTY and offset now (NOT_FOUND, OUT_OF_RANGE) and returns the viewer's
   * events: attached, output from `offset` (undefined: live only), resize notices, then exit.
   * The iteration ends after exit, or quietly when `signal` aborts.
   */
  attach(
    ptyId: string,
    offset: number | undefined,
    signal: AbortSignal,
  ): AsyncIterable<PtyViewEvent> {
    const entry = this.get(ptyId);
    const log = entry.proc.log;
    if (offset !== undefined && offset < 0) throw invalidArgument("offset", "must not be negative");
    if (offset !== undefined && offset > log.endOffset) {
      throw outOfRange("offset", `is beyond the ${log.endOffset} bytes written so far`);
    }
    return this.view(entry, offset ?? log.endOffset, signal);
  }

  /** write sends input to a running PTY. */
  write(ptyId: string, data: Uint8Array): void {
    const entry = this.get(ptyId);
    if (data.length > MAX_PTY_INPUT_BYTES) {
      throw resourceExhausted(
        "PAYLOAD_TOO_LARGE",
        `input is larger than ${MAX_PTY_INPUT_BYTES} bytes`,
        {
          limitBytes: String(MAX_PTY_INPUT_BYTES),
          field: "data",
        },
      );
    }
    this.requireRunning(entry);
    entry.proc.write(data);
  }

  /** resize changes a running PTY's size and tells every viewer. */
  resize(ptyId: string, cols: number, rows: number): void {
    const entry = this.get(ptyId);
    const c = checkDimension(cols, "size.cols");
    const r = checkDimension(rows, "size.rows");
    this.requireRunning(entry);
    entry.proc.resize(c, r);
    entry.sizeVersion++;
    entry.sizeChanged.notify();
  }

  /**
   * kill hangs up a running PTY and SIGKILLs what is left after the grace time; its viewers
   * get exit with reason killed. An exited PTY is removed at once.
   */
  async kill(ptyId: string): Promise<void> {
    const entry = this.get(ptyId);
    if (entry.proc.exitStatus !== undefined) {
      this.forget(entry);
      return;
    }
    entry.killed = true;
    await entry.proc.terminate(PTY_KILL_GRACE_MS);
  }

  /** list describes every PTY, running or retained, oldest first. */
  list(): PtySummary[] {
    return [...this.ptys.values()]
      .sort((a, b) => a.createTime.getTime() - b.createTime.getTime())
      .map((e) => ({
        ptyId: e.id,
        pid: e.proc.pid,
        command: e.command,
        cwd: e.cwd,
        user: e.user,
        cols: e.proc.cols,
        rows: e.proc.rows,
        viewerCount: e.viewers,
        createTime: e.createTime,
        exited: e.proc.exitStatus !== undefined,
      }));
  }

  /** close kills every PTY's session and forgets them all. */
  async close(): Promise<void> {
    const running = [...this.ptys.values()].filter((e) => e.proc.exitStatus === undefined);
    for (const entry of running) {
      entry.killed = true;
      entry.proc.signal("SIGKILL");
    }
    await Promise.race([Promise.all(running.map((e) => e.proc.exited)), sleep(2_000)]);
    for (const entry of [...this.ptys.values()]) this.forget(entry);
  }

  private get(ptyId: string): PtyEntry {
    const entry = this.ptys.get(ptyId);
    if (entry === undefined) throw notFound("PTY_NOT_FOUND", `no PTY ${ptyId}`, { ptyId });
    return entry;
  }

  private requireRunning(entry: PtyEntry): void {
    const status = entry.proc.exitStatus;
    if (status !== undefined) {
      throw failedPrecondition("PROCESS_NOT_RUNNING", `the process of PTY ${entry.id} has exited`, {
        ptyId: entry.id,
        pid: String(entry.proc.pid),
        exitCode: String(status.exitCode),
      });
    }
  }

  /** makeRoom evicts the oldest exited PTY when at the cap, or throws when all are running. */
  private makeRoom(): void {
    if (this.ptys.size < this.maxPtys) return;
    for (const entry of this.ptys.values()) {
      if (entry.proc.exitStatus !== undefined) {
        this.forget(entry);
        return;
      }
    }
    throw resourceExhausted(
      "STREAM_LIMIT_EXCEEDED",
      `at most ${this.maxPtys} PTYs may exist at once`,
      {
        limit: String(this.maxPtys),
      },
    );
  }

  private forget(entry: PtyEntry): void {
    clearTimeout(entry.retainTimer);
    if (this.ptys.get(entry.id) === entry) this.ptys.delete(entry.id);
  }

  private async *view(
    entry: PtyEntry,
    from: number,
    signal: AbortSignal,
  ): AsyncGenerator<PtyViewEvent> {
    const log = entry.proc.log;
    // One wake-up flag per viewer: set by output, resizes and cancellation.
    let dirty = false;
    let sleeping: (() => void) | undefined;
    const poke = () => {
      dirty = true;
      sleeping?.();
    };
    let watchingLog = false;
    const watchLog = () => {
      if (watchingLog) return;
      watchingLog = true;
      void log.changed().then(() => {
        watchingLog = false;
        poke();
      });
    };
    const unsubscribe = entry.sizeChanged.subscribe(poke);
    signal.addEventListener("abort", poke);
    entry.viewers++;
    try {
      let cursor = from;
      let sizeSeen = entry.sizeVersion;
      yield {
        type: "attached",
        ptyId: entry.id,
        pid: entry.proc.pid,
        cols: entry.proc.cols,
        rows: entry.proc.rows,
        bufferStartOffset: log.startOffset,
      };
      while (!signal.aborted) {
        dirty = false;
        watchLog();
        while (cursor < log.endOffset) {
          const { offset, data } = log.read(cursor, MAX_PTY_DATA_EVENT_BYTES);
          cursor = offset + data.length;
          yield { type: "data", data, offset };
        }
        if (sizeSeen !== entry.sizeVersion) {
          sizeSeen = entry.sizeVersion;
          yield { type: "resized", cols: entry.proc.cols, rows: entry.proc.rows };
        }
        const status = entry.proc.exitStatus;
        if (status !== undefined && cursor >= log.endOffset) {
          yield {
            type: "exit",
            reason: entry.killed ? "killed" : status.signal > 0 ? "signaled" : "exited",
            exitCode: status.exitCode,
            signal: status.signal,
            outputEndOffset: log.endOffset,
          };
          return;
        }
        if (!dirty) {
          await new Promise<void>((resolve) => {
            sleeping = resolve;
          });
        }
        sleeping = undefined;
      }
    } finally {
      entry.viewers--;
      unsubscribe();
      signal.removeEventListener("abort", poke);
    }
  }
}

/** Notifier calls its subscribers at every notify(). */
class Notifier {
  private readonly listeners = new Set<() => void>();

  /** subscribe adds a listener and returns the function that removes it. */
  subscribe(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** notify calls every listener. */
  notify(): void {
    for (const listener of this.listeners) listener();
  }
}

const BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

/** newPtyId returns "pty_" and 22 random base62 characters. */
export function newPtyId(): string {
  let id = "pty_";
  while (id.length < 26) {
    for (const byte of crypto.randomBytes(32)) {
      // 248 = 4 * 62: rejecting larger bytes keeps every character equally likely.
      if (byte < 248 && id.length < 26) id += BASE62[byte % 62];
    }
  }
  return id;
}
