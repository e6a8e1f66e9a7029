import type { ChildProcess } from "node:child_process";
import { failedPrecondition } from "@cove/common";
import { OutputLog } from "./output-log.js";
import { type MarkOwner, signalTree } from "./process-tree.js";

/** How a process ended. */
export interface ProcessExit {
  /** Exit code; 128 + signal number when a signal ended it. */
  exitCode: number;
  /** The signal number that ended it, or 0. */
  signal: number;
  /** Whether the daemon killed it because its timeout passed. */
  timedOut: boolean;
  /** A failure after start (e.g. an I/O error), or "". */
  error: string;
  /** A one-line summary for people, e.g. "exited with code 0". */
  status: string;
  /** When it ended. */
  endTime: Date;
}

/** What a ManagedProcess was started with, for listings. */
export interface ProcessDescription {
  /** The command line as the user gave it (argv joined with spaces for argv). */
  command: string;
  /** Working directory. */
  cwd: string;
  /** OS user name it runs as ("" for the daemon's own). */
  user: string;
  /** Tag given at start, or "". */
  tag: string;
  /** Whether it runs on a PTY. */
  pty: boolean;
}

/** How long to wait for stdout/stderr to close after the process itself exited, in ms. */
const DRAIN_GRACE_MS = 250;

const signalNumbers: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGXCPU: 24,
};

/** signalNumber returns the Linux number of a signal name (0 when unknown). */
export function signalNumber(name: string | null | undefined): number {
  return name ? (signalNumbers[name] ?? 0) : 0;
}

/**
 * ManagedProcess is one child process the daemon started: its output in bounded logs, its
 * stdin, its timeout, and how it ended. `done` resolves once it exited and all output that
 * reached the daemon is in the logs.
 */
export class ManagedProcess {
  /** stdout bytes (empty for PTY processes). */
  readonly stdout: OutputLog;
  /** stderr bytes (empty for PTY processes). */
  readonly stderr: OutputLog;
  /** Set once the process has ended. */
  exit: ProcessExit | undefined;
  /** When it started. */
  readonly startTime = new Date();
  /** Resolves when the process has ended and its logs are closed. */
  readonly done: Promise<ProcessExit>;
  private stdinOpen: boolean;
  private readonly mark: string;
  private readonly readers = new Set<{ stdout: number; stderr: number }>();
  private readonly paused = new Set<"stdout" | "stderr">();
  private readonly owner: MarkOwner | undefined;
  private timedOut = false;
  private timer: NodeJS.Timeout | undefined;
  private waiters: Array<() => void> = [];
  private resolveDone!: (exit: ProcessExit) => void;

  constructor(
    readonly pid: number,
    readonly description: ProcessDescription,
    private readonly child: ChildProcess,
    options: {
      bufferBytes: number;
      timeoutMs: number | undefined;
      stdinOpen: boolean;
      mark: string;
      owner?: MarkOwner;
    },
  ) {
    this.mark = options.mark;
    this.owner = options.owner;
    const wake = () => this.wake();
    this.stdout = new OutputLog(options.bufferBytes, wake);
    this.stderr = new OutputLog(options.bufferBytes, wake);
    this.stdinOpen = options.stdinOpen;
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
    child.stdout?.on("data", (chunk: Buffer) => {
      this.stdout.append(chunk);
      this.updateFlow();
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      this.stderr.append(chunk);
      this.updateFlow();
    });
    child.stdin?.on("error", () => {
      // The process closed its stdin (EPIPE): later input is refused with a clear error.
      this.stdinOpen = false;
    });
    if (options.timeoutMs !== undefined && options.timeoutMs > 0) {
      this.timer = setTimeout(() => {
        this.timedOut = true;
        this.kill("SIGKILL");
      }, options.timeoutMs);
    }
    let closed = false;
    child.on("close", () => {
      closed = true;
    });
    child.on("exit", (code, signal) => {
      clearTimeout(this.timer);
      const finish = () => this.finish(code, signal, "");
      if (closed) return finish();
      // Output still in the pipes arrives first; a background child that keeps the pipes
      // open must not keep the command "running" forever. While a slow reader holds the
      // pipes paused, the output is still coming: wait for it.
      let grace: NodeJS.Timeout;
      const expire = () => {
        if (this.paused.size > 0) {
          grace = setTimeout(expire, DRAIN_GRACE_MS);
          return;
        }
        child.stdout?.destroy();
        child.stderr?.destroy();
        finish();
      };
      grace = setTimeout(expire, DRAIN_GRACE_MS);
      child.once("close", () => {
        clearTimeout(grace);
        finish();
      });
    });
  }

  /**
   * attachReader registers a live reader at its current offsets. While any reader lags more
   * than 3/4 of a log behind, the process's pipe is paused, so the process blocks on write
   * instead of its output being dropped: attached readers get every byte. With no reader
   * attached the logs keep only their last bytes and the process never blocks. Returns
   * the function that detaches the reader.
   */
  attachReader(reader: { stdout: number; stderr: number }): () => void {
    this.readers.add(reader);
    return () => {
      this.readers.delete(reader);
      this.updateFlow();
    };
  }

  /** updateFlow pauses or resumes each pipe by how far the slowest reader lags. */
  updateFlow(): void {
    for (const stream of ["stdout", "stderr"] as const) {
      const pipe = this.child[stream];
      const log = this[stream];
      if (!pipe) continue;
      let slowest = log.endOffset;
      for (const reader of this.readers) slowest = Math.min(slowest, reader[stream]);
      const behind = log.endOffset - slowest;
      if (!this.paused.has(stream) && behind >= (log.capacity * 3) / 4) {
        this.paused.add(stream);
        pipe.pause();
      } else if (this.paused.has(stream) && behind <= log.capacity / 2) {
        this.paused.delete(stream);
        pipe.resume();
      }
    }
  }

  /** Whether the process is still running. */
  get running(): boolean {
    return this.exit === undefined;
  }

  /** Whether stdin accepts input. */
  get acceptsInput(): boolean {
    return this.stdinOpen && this.running;
  }

  /** write sends bytes to stdin; FAILED_PRECONDITION when stdin is closed or never opened. */
  async write(data: Uint8Array): Promise<void> {
    const stdin = this.child.stdin;
    if (!this.acceptsInput || !stdin) {
      throw failedPrecondition(
        "STDIN_CLOSED",
        `stdin of process ${this.pid} is closed (start it with open_stdin to send input)`,
        { pid: String(this.pid) },
      );
    }
    await new Promise<void>((resolve, reject) =>
      stdin.write(data, (err) => (err ? reject(err) : resolve())),
    );
  }

  /** closeStdin ends stdin so the process sees EOF; closing twice is harmless. */
  closeStdin(): void {
    this.stdinOpen = false;
    this.child.stdin?.end();
  }

  /** signal sends a signal to the process group. */
  signal(signal: NodeJS.Signals): void {
    if (!this.running) return;
    try {
      process.kill(-this.pid, signal);
    } catch {
      try {
        process.kill(this.pid, signal);
      } catch {
        // gone
      }
    }
  }

  /** kill signals the whole tree: the group and every descendant that left it. */
  kill(signal: NodeJS.Signals = "SIGKILL"): void {
    if (!this.running) return;
    signalTree(this.pid, signal, this.mark, this.owner);
  }

  /** changed resolves at the next output, exit, or close. */
  changed(): Promise<void> {
    if (!this.running && this.stdout.isClosed && this.stderr.isClosed) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private finish(code: number | null, signalName: NodeJS.Signals | null, error: string): void {
    if (this.exit) return;
    const signal = signalNumber(signalName);
    const exitCode = code ?? (signal > 0 ? 128 + signal : -1);
    let status = signalName ? `killed by signal ${signalName}` : `exited with code ${exitCode}`;
    if (this.timedOut) status = `timed out (${status})`;
    this.exit = { exitCode, signal, timedOut: this.timedOut, error, status, endTime: new Date() };
    this.stdinOpen = false;
    // A timed-out or killed leader may leave descendants behind; they go with it.
    if (this.timedOut) signalTree(this.pid, "SIGKILL", this.mark, this.owner);
    this.stdout.close();
    this.stderr.close();
    this.wake();
    this.resolveDone(this.exit);
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
