// sandbox.process: one-shot commands and code (executeCommand, codeRun), background processes
// with streamed output (start, connect), and persistent shell sessions.
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code } from "@connectrpc/connect";
import type {
  ProcessEnd,
  ProcessEvent,
  ProcessInfo,
  SessionCommand,
  Session as SessionMessage,
} from "@cove/gen-ts/cove/toolbox/v1/process_pb.js";
import type {
  GetSessionCommandLogsResponse,
  StartRequestSchema,
} from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import {
  type CodeLanguageName,
  durationSeconds,
  languageOf,
  type SignalName,
  seconds,
  signalOf,
  text,
  toDate,
  utf8,
} from "./convert.js";
import { CoveNotFoundError, sdkError, toCoveError } from "./errors.js";
import { DEFAULT_TAIL_BYTES, type OutputHandlers, OutputSink } from "./output.js";
import { readResumable } from "./resumable.js";
import type { Toolbox } from "./toolbox.js";

/** An empty payload put in place of delivered ones (see resumable.ts). */
const EMPTY = new Uint8Array(0);
/** Extra time a call's deadline gets beyond the command's own timeout. */
const DEADLINE_MARGIN_MS = 15_000;
/** The daemon's maximum command timeout (24 h), used when a command has none. */
const MAX_COMMAND_MS = 24 * 3600 * 1000;

/** The result of executeCommand and codeRun (Daytona's ExecuteResponse, plus stderr). */
export interface ExecuteResponse {
  /** exitCode is the exit status (128 + signal when killed). */
  exitCode: number;
  /** result is the standard output (Daytona's name for it). */
  result: string;
  /** stdout is the standard output. */
  stdout: string;
  /** stderr is the standard error, kept apart from stdout. */
  stderr: string;
  /** timedOut is true when the timeout elapsed and the process tree was killed. */
  timedOut: boolean;
  /** signal is the signal that killed the process, or 0. */
  signal: number;
  /** durationMs is the wall-clock run time. */
  durationMs: number;
  /** truncated is true when older output was dropped to fit the output cap. */
  truncated: boolean;
  /** artifacts mirrors Daytona's shape: artifacts.stdout is the output. */
  artifacts: { stdout: string };
}

/** Options of executeCommand. */
export interface ExecuteOptions {
  /** cwd is the working directory; default the user's home. */
  cwd?: string;
  /** env holds extra environment variables. */
  env?: Record<string, string>;
  /** timeout in seconds kills the process tree; default 60, 0 = none. */
  timeout?: number;
  /** stdin is written to the command's standard input, which is then closed (≤ 8 MiB). */
  stdin?: string | Uint8Array;
  /** user runs the command as this user (name or uid). */
  user?: string;
  /** maxOutputBytes caps each of stdout and stderr (last bytes kept); default 1 MiB. */
  maxOutputBytes?: number;
  /** signal cancels the call (which kills the process tree). */
  signal?: AbortSignal;
}

/** Options of codeRun. */
export interface CodeRunOptions {
  /** language is "python" (default), "javascript" or "typescript". */
  language?: CodeLanguageName | string;
  /** argv are extra arguments for the program. */
  argv?: string[];
  /** env holds extra environment variables. */
  env?: Record<string, string>;
  /** cwd is the working directory. */
  cwd?: string;
  /** timeout in seconds; default 60, 0 = none. */
  timeout?: number;
  /** signal cancels the call. */
  signal?: AbortSignal;
}

/** Options of start (a background process with streamed output). */
export interface StartOptions extends OutputHandlers {
  /** cwd is the working directory. */
  cwd?: string;
  /** env holds extra environment variables. */
  env?: Record<string, string>;
  /** tag names the process for connect(); unique among running processes. */
  tag?: string;
  /** user runs the process as this user. */
  user?: string;
  /**
   * stdin: true keeps stdin open for sendInput()/closeStdin(); a string or bytes is written
   * and stdin then closed. Default: stdin is closed (reads see end of file).
   */
  stdin?: boolean | string | Uint8Array;
  /** timeout in seconds kills the process tree; default none. */
  timeout?: number;
  /** killOnDisconnect kills the process when this client's stream ends first. */
  killOnDisconnect?: boolean;
  /** tailBytes is how much of each stream wait() returns (the last bytes); default 1 MiB. */
  tailBytes?: number;
  /** recycleBytes re-opens the output stream after this many bytes (see resumable.ts). */
  recycleBytes?: number;
}

/** Options of connect (re-attach to a running or recently exited process). */
export interface ConnectOptions extends OutputHandlers {
  /**
   * fromOffset replays output from this byte offset (one number for both streams, or per
   * stream); "live" skips to live output. Default 0: everything the daemon still holds.
   */
  fromOffset?: number | { stdout?: number; stderr?: number } | "live";
  /** tailBytes is how much of each stream wait() returns; default 1 MiB. */
  tailBytes?: number;
  /** recycleBytes re-opens the output stream after this many bytes. */
  recycleBytes?: number;
}

/** How a background process ended. */
export interface ProcessResult {
  /** exitCode is the exit status (128 + signal when killed). */
  exitCode: number;
  /** signal is the signal that killed it, or 0. */
  signal: number;
  /** status is the daemon's summary, e.g. "exit status 1". */
  status: string;
  /** timedOut is true when its timeout killed it. */
  timedOut: boolean;
  /** error describes a daemon-side failure after start, or is empty. */
  error: string;
  /** stdout is the last tailBytes of standard output. */
  stdout: string;
  /** stderr is the last tailBytes of standard error. */
  stderr: string;
  /** result is stdout (Daytona's name). */
  result: string;
  /** stdoutBytes is the total bytes written to stdout. */
  stdoutBytes: number;
  /** stderrBytes is the total bytes written to stderr. */
  stderrBytes: number;
  /** lostBytes counts output the daemon's ring buffer dropped before this client read it. */
  lostBytes: number;
  /** streams is how many output streams were opened (1, plus recycles and re-attaches). */
  streams: number;
}

/** A handle on a background process. */
export interface ProcessHandle {
  /** pid is the process id inside the sandbox. */
  readonly pid: number;
  /** tag is the process's tag, or undefined. */
  readonly tag: string | undefined;
  /** wait resolves after the last output chunk was delivered to the callbacks, with the result. */
  wait(): Promise<ProcessResult>;
  /** kill sends a signal (default SIGKILL: the whole process tree dies). */
  kill(signal?: SignalName): Promise<void>;
  /** sendInput writes to stdin (start it with stdin: true). */
  sendInput(data: string | Uint8Array): Promise<void>;
  /** closeStdin closes stdin so the process reads end of file. */
  closeStdin(): Promise<void>;
  /** disconnect stops reading output; the process keeps running (connect() re-attaches). */
  disconnect(): void;
  /** offsets are the next unread byte of each stream (pass to connect's fromOffset). */
  readonly offsets: { stdout: number; stderr: number };
}

/** A process as ListProcesses describes it. */
export interface ProcessDescription {
  /** pid is the process id. */
  pid: number;
  /** tag is the tag, or "". */
  tag: string;
  /** command is the command line. */
  command: string;
  /** cwd is where it started. */
  cwd: string;
  /** running is true until it exits. */
  running: boolean;
  /** exitCode is set once exited. */
  exitCode: number | undefined;
  /** startedAt is its start time. */
  startedAt: Date | undefined;
}

/** A shell session (Daytona's Session). */
export interface Session {
  /** sessionId identifies the session. */
  sessionId: string;
  /** cwd is the shell's working directory after the last finished command. */
  cwd: string;
  /** commands are the recent commands (from getSession only). */
  commands: SessionCommandInfo[];
}

/** One command of a session. */
export interface SessionCommandInfo {
  /** id is the command id (Daytona: cmdId). */
  id: string;
  /** command is the text run. */
  command: string;
  /** exitCode is set once it ended. */
  exitCode: number | undefined;
}

/** Options of executeSessionCommand (Daytona's SessionExecuteRequest). */
export interface SessionExecuteRequest {
  /** command is the shell text (multi-line and heredocs work; cd/export persist). */
  command: string;
  /** async (or Daytona's runAsync) returns at once with cmdId. */
  async?: boolean;
  /** runAsync is Daytona's name for async. */
  runAsync?: boolean;
  /** timeout in seconds; default 60 for synchronous commands, none for async ones. */
  timeout?: number;
}

/** The result of executeSessionCommand. */
export interface SessionExecuteResponse {
  /** cmdId identifies the command (for logs). */
  cmdId: string;
  /** exitCode is set for synchronous commands. */
  exitCode: number | undefined;
  /** output is stdout followed by stderr (Daytona's combined output). */
  output: string;
  /** stdout is the standard output. */
  stdout: string;
  /** stderr is the standard error. */
  stderr: string;
  /** timedOut is true when the timeout killed the command. */
  timedOut: boolean;
  /** sessionReset is true when the shell ended and a fresh one replaced it. */
  sessionReset: boolean;
}

/** Logs of a session command. */
export interface SessionCommandLogs {
  /** output is stdout followed by stderr. */
  output: string;
  /** stdout is the standard output. */
  stdout: string;
  /** stderr is the standard error. */
  stderr: string;
  /** exitCode is set when the command had ended. */
  exitCode: number | undefined;
}

/** The process API of one sandbox (sandbox.process). */
export class Process {
  constructor(
    private readonly toolbox: Toolbox,
    private readonly defaultLanguage: () => string | undefined,
  ) {}

  /**
   * executeCommand runs a shell command to completion. Accepts Daytona's positional form
   * (command, cwd?, env?, timeout?) as well as (command, options). The timeout (seconds,
   * default 60) kills the whole process tree and is reported as timedOut, not thrown.
   */
  async executeCommand(
    command: string,
    cwdOrOptions?: string | ExecuteOptions,
    env?: Record<string, string>,
    timeout?: number,
  ): Promise<ExecuteResponse> {
    const o: ExecuteOptions =
      typeof cwdOrOptions === "object" ? cwdOrOptions : { cwd: cwdOrOptions, env, timeout };
    const timeoutS = o.timeout ?? 60;
    const res = await this.toolbox.call(
      { idempotent: false, timeoutMs: deadlineFor(timeoutS), signal: o.signal },
      (a) =>
        this.toolbox.process.exec(
          {
            program: { case: "command", value: command },
            cwd: o.cwd ?? "",
            env: o.env ?? {},
            user: o.user ?? "",
            stdin: o.stdin === undefined ? new Uint8Array() : utf8(o.stdin),
            timeout: seconds(timeoutS),
            maxOutputBytes: BigInt(o.maxOutputBytes ?? 0),
          },
          a,
        ),
    );
    return executeResponse(res);
  }

  /**
   * codeRun runs a snippet in a fresh interpreter (python by default, or the language the
   * sandbox was created with) and returns its output; tracebacks land in stderr.
   */
  async codeRun(
    code: string,
    params: CodeRunOptions = {},
    timeout?: number,
  ): Promise<ExecuteResponse> {
    const timeoutS = params.timeout ?? timeout ?? 60;
    const res = await this.toolbox.call(
      { idempotent: false, timeoutMs: deadlineFor(timeoutS), signal: params.signal },
      (a) =>
        this.toolbox.process.codeRun(
          {
            language: languageOf(params.language ?? this.defaultLanguage()),
            code,
            argv: params.argv ?? [],
            env: params.env ?? {},
            cwd: params.cwd ?? "",
            timeout: seconds(timeoutS),
          },
          a,
        ),
    );
    return executeResponse(res);
  }

  /**
   * start starts a background process and resolves once it runs (its pid is known). Output
   * goes to the callbacks as it arrives; wait() resolves after the last chunk was delivered.
   */
  async start(command: string | string[], options: StartOptions = {}): Promise<ProcessHandle> {
    const request: MessageInitShape<typeof StartRequestSchema> = {
      program:
        typeof command === "string"
          ? { case: "command", value: command }
          : { case: "argv", value: { args: command } },
      cwd: options.cwd ?? "",
      env: options.env ?? {},
      user: options.user ?? "",
      tag: options.tag ?? "",
      openStdin: options.stdin !== undefined && options.stdin !== false,
      timeout: options.timeout ? seconds(options.timeout) : undefined,
      killOnDisconnect: options.killOnDisconnect ?? false,
    };
    const handle = new StreamedProcess(this.toolbox, options, options.tailBytes);
    await handle.begin((signal) =>
      this.toolbox.stream({ what: "process output", signal }, (a) =>
        this.toolbox.process.start(request, a),
      ),
    );
    if (typeof options.stdin === "string" || options.stdin instanceof Uint8Array) {
      await handle.sendInput(options.stdin);
      await handle.closeStdin();
    }
    return handle;
  }

  /**
   * startCode runs code like codeRun but as a background process with streamed output
   * (StartCodeRun); the handle works like start's.
   */
  async startCode(
    code: string,
    options: Omit<StartOptions, "user" | "killOnDisconnect"> & CodeRunOptions = {},
  ): Promise<ProcessHandle> {
    const handle = new StreamedProcess(this.toolbox, options, options.tailBytes);
    await handle.begin((signal) =>
      this.toolbox.stream({ what: "process output", signal }, (a) =>
        this.toolbox.process.startCodeRun(
          {
            language: languageOf(options.language ?? this.defaultLanguage()),
            code,
            argv: options.argv ?? [],
            env: options.env ?? {},
            cwd: options.cwd ?? "",
            tag: options.tag ?? "",
            openStdin: options.stdin !== undefined && options.stdin !== false,
            timeout: options.timeout ? seconds(options.timeout) : undefined,
          },
          a,
        ),
      ),
    );
    return handle;
  }

  /**
   * connect re-attaches to a running or recently exited process by pid or tag, replaying
   * output from fromOffset (default 0: all the daemon still holds), then live output.
   */
  async connect(pidOrTag: number | string, options: ConnectOptions = {}): Promise<ProcessHandle> {
    const from = options.fromOffset ?? 0;
    const offsets =
      from === "live"
        ? undefined
        : typeof from === "number"
          ? { stdout: from, stderr: from }
          : { stdout: from.stdout ?? 0, stderr: from.stderr ?? 0 };
    const handle = new StreamedProcess(this.toolbox, options, options.tailBytes, pidOrTag);
    if (offsets) {
      handle.sink.startAt("stdout", offsets.stdout);
      handle.sink.startAt("stderr", offsets.stderr);
      handle.sink.startAt("pty", offsets.stdout);
    } else {
      handle.sink.startLive();
    }
    await handle.begin((signal) => handle.openConnect(signal, offsets === undefined));
    return handle;
  }

  /** listProcesses lists processes started through start/startCode/pty (running and recent). */
  async listProcesses(options: { runningOnly?: boolean } = {}): Promise<ProcessDescription[]> {
    const res = await this.toolbox.call({ idempotent: true }, (a) =>
      this.toolbox.process.listProcesses({ runningOnly: options.runningOnly ?? false }, a),
    );
    return res.processes.map(describeProcess);
  }

  /** kill sends a signal (default SIGKILL) to a process by pid or tag. */
  async kill(pidOrTag: number | string, signal: SignalName = "SIGKILL"): Promise<void> {
    await this.toolbox.call({ idempotent: false }, (a) =>
      this.toolbox.process.sendSignal({ process: selector(pidOrTag), signal: signalOf(signal) }, a),
    );
  }

  /** createSession starts a persistent shell; cd, export and functions survive between commands. */
  async createSession(
    sessionId?: string,
    options: { cwd?: string; env?: Record<string, string> } = {},
  ): Promise<Session> {
    const res = await this.toolbox.call({ idempotent: false }, (a) =>
      this.toolbox.process.createSession(
        { sessionId: sessionId ?? "", cwd: options.cwd ?? "", env: options.env ?? {} },
        a,
      ),
    );
    return session(res.session, []);
  }

  /** getSession describes a session and its recent commands. */
  async getSession(sessionId: string): Promise<Session> {
    const res = await this.toolbox.call({ idempotent: true }, (a) =>
      this.toolbox.process.getSession({ sessionId }, a),
    );
    return session(res.session, res.commands);
  }

  /** listSessions lists every session. */
  async listSessions(): Promise<Session[]> {
    const res = await this.toolbox.call({ idempotent: true }, (a) =>
      this.toolbox.process.listSessions({}, a),
    );
    return res.sessions.map((s) => session(s, []));
  }

  /** deleteSession kills a session's shell and everything it started. */
  async deleteSession(sessionId: string): Promise<void> {
    await this.toolbox.call({ idempotent: true }, (a) =>
      this.toolbox.process.deleteSession({ sessionId }, a),
    );
  }

  /**
   * executeSessionCommand runs a command in a session's shell: synchronously (output and exit
   * code returned) or with async/runAsync (returns cmdId at once; read getSessionCommandLogs).
   */
  async executeSessionCommand(
    sessionId: string,
    req: SessionExecuteRequest,
    timeout?: number,
  ): Promise<SessionExecuteResponse> {
    const isAsync = req.async ?? req.runAsync ?? false;
    const t = req.timeout ?? timeout;
    const res = await this.toolbox.call(
      {
        idempotent: false,
        timeoutMs: isAsync ? undefined : deadlineFor(t ?? 60),
      },
      (a) =>
        this.toolbox.process.sessionExecute(
          {
            sessionId,
            command: req.command,
            async: isAsync,
            timeout: t === undefined ? undefined : seconds(t),
          },
          a,
        ),
    );
    const stdout = text(res.stdout);
    const stderr = text(res.stderr);
    return {
      cmdId: res.commandId,
      exitCode: res.exitCode,
      output: stdout + stderr,
      stdout,
      stderr,
      timedOut: res.timedOut,
      sessionReset: res.sessionReset,
    };
  }

  /** getSessionCommand describes one command of a session. */
  async getSessionCommand(sessionId: string, commandId: string): Promise<SessionCommandInfo> {
    const res = await this.toolbox.call({ idempotent: true }, (a) =>
      this.toolbox.process.getSessionCommand({ sessionId, commandId }, a),
    );
    return sessionCommand(res.command);
  }

  /**
   * getSessionCommandLogs returns a command's retained output; with callbacks it follows the
   * output live (streaming UTF-8 decoding per stream) and resolves when the command ends.
   */
  getSessionCommandLogs(sessionId: string, commandId: string): Promise<SessionCommandLogs>;
  getSessionCommandLogs(
    sessionId: string,
    commandId: string,
    onStdout: (chunk: string) => void,
    onStderr?: (chunk: string) => void,
  ): Promise<SessionCommandLogs>;
  async getSessionCommandLogs(
    sessionId: string,
    commandId: string,
    onStdout?: (chunk: string) => void,
    onStderr?: (chunk: string) => void,
  ): Promise<SessionCommandLogs> {
    const follow = onStdout !== undefined || onStderr !== undefined;
    const sink = new OutputSink({ onStdout, onStderr }, DEFAULT_TAIL_BYTES);
    let exitCode: number | undefined;
    const stream = this.toolbox.stream<GetSessionCommandLogsResponse>(
      { what: "session command logs" },
      (a) => this.toolbox.process.getSessionCommandLogs({ sessionId, commandId, follow }, a),
    );
    for await (const m of stream) {
      if (m.event.case === "data") {
        const out = m.event.value.output;
        if (out.case === "stdout" || out.case === "stderr") {
          await sink.push(out.case, out.value, Number(m.event.value.offset));
        }
      } else if (m.event.case === "end") {
        exitCode = m.event.value.exitCode;
      }
    }
    await sink.finish();
    const stdout = text(sink.tail("stdout").bytes);
    const stderr = text(sink.tail("stderr").bytes);
    return { output: stdout + stderr, stdout, stderr, exitCode };
  }

  /** sendSessionInput writes to the stdin of a session's running command. */
  async sendSessionInput(
    sessionId: string,
    commandId: string,
    data: string | Uint8Array,
    closeStdin = false,
  ): Promise<void> {
    await this.toolbox.call({ idempotent: false }, (a) =>
      this.toolbox.process.sendSessionInput(
        { sessionId, commandId, data: utf8(data), closeStdin },
        a,
      ),
    );
  }
}

/** A background process read through Start/StartCodeRun/Connect streams. */
class StreamedProcess implements ProcessHandle {
  pid = 0;
  tag: string | undefined;
  readonly sink: OutputSink;
  private readonly controller = new AbortController();
  private done: Promise<ProcessResult> | undefined;
  private end: ProcessEnd | undefined;

  constructor(
    private readonly toolbox: Toolbox,
    private readonly handlers: OutputHandlers & { recycleBytes?: number },
    tailBytes = DEFAULT_TAIL_BYTES,
    target?: number | string,
  ) {
    this.sink = new OutputSink(handlers, tailBytes);
    if (typeof target === "number") this.pid = target;
    if (typeof target === "string") this.tag = target;
  }

  get offsets() {
    return { stdout: this.sink.next.stdout, stderr: this.sink.next.stderr };
  }

  /** openConnect opens a Connect stream from the delivered offsets (or live). */
  openConnect(signal: AbortSignal, live = false): AsyncIterable<{ event?: ProcessEvent }> {
    const process = this.pid
      ? { case: "pid" as const, value: this.pid }
      : { case: "tag" as const, value: this.tag ?? "" };
    return this.toolbox.stream({ what: "process output", signal }, (a) =>
      this.toolbox.process.connect(
        {
          process: { selector: process },
          stdoutOffset: live ? undefined : BigInt(this.sink.next.pty || this.sink.next.stdout),
          stderrOffset: live ? undefined : BigInt(this.sink.next.stderr),
        },
        a,
      ),
    );
  }

  /**
   * begin opens the first stream and resolves once the start event arrived (or rejects with
   * the call's error); reading continues in the background until end.
   */
  begin(open: (signal: AbortSignal) => AsyncIterable<{ event?: ProcessEvent }>): Promise<void> {
    let started: () => void = () => {};
    let failed: (err: unknown) => void = () => {};
    const ready = new Promise<void>((resolve, reject) => {
      started = resolve;
      failed = reject;
    });
    let seenStart = false;
    let streams = 0;
    this.done = (async () => {
      await readResumable<{ event?: ProcessEvent }>({
        signal: this.controller.signal,
        onOpen: () => {
          streams++;
        },
        recycleBytes: this.handlers.recycleBytes,
        open: (reattach, signal) => (reattach ? this.openConnect(signal) : open(signal)),
        canReattach: () => seenStart && this.pid > 0,
        sizeOf: (m) =>
          m.event?.event.case === "data" ? (m.event.event.value.output.value?.length ?? 0) : 0,
        onMessage: async (m) => {
          const ev = m.event?.event;
          if (ev === undefined) return false;
          if (ev.case === "start") {
            this.pid = ev.value.pid;
            this.tag = ev.value.tag || this.tag;
            if (!seenStart) {
              seenStart = true;
              started();
            }
          } else if (ev.case === "data") {
            const out = ev.value.output;
            if (out.case !== undefined) {
              await this.sink.push(out.case, out.value, Number(ev.value.offset));
              // Connect-ES pins every message until the call ends; let go of the payload.
              out.value = EMPTY;
            }
          } else if (ev.case === "end") {
            this.end = ev.value;
            return true;
          }
          return false;
        },
      });
      await this.sink.finish();
      const end = this.end;
      if (end === undefined) {
        throw sdkError(Code.Canceled, `process ${this.pid}: disconnected before it ended`, {
          metadata: { pid: String(this.pid) },
        });
      }
      const stdout = text(this.sink.tail("stdout").bytes) || text(this.sink.tail("pty").bytes);
      return {
        exitCode: end.exitCode,
        signal: end.signal,
        status: end.status,
        timedOut: end.timedOut,
        error: end.error,
        stdout,
        stderr: text(this.sink.tail("stderr").bytes),
        result: stdout,
        stdoutBytes: Number(end.stdoutEndOffset),
        stderrBytes: Number(end.stderrEndOffset),
        lostBytes: this.sink.gapBytes,
        streams,
      };
    })();
    this.done.then(
      () => started(),
      (err) => failed(toCoveError(err)),
    );
    return ready;
  }

  wait(): Promise<ProcessResult> {
    if (!this.done) throw sdkError(Code.FailedPrecondition, "the process was not started");
    return this.done;
  }

  async kill(signal: SignalName = "SIGKILL"): Promise<void> {
    try {
      await this.toolbox.call({ idempotent: false }, (a) =>
        this.toolbox.process.sendSignal(
          { process: selector(this.pid), signal: signalOf(signal) },
          a,
        ),
      );
    } catch (err) {
      // Signalling a process that has just exited is not a failure of kill().
      if (!(err instanceof CoveNotFoundError && err.reason === "PROCESS_NOT_FOUND")) throw err;
    }
  }

  async sendInput(data: string | Uint8Array): Promise<void> {
    await this.toolbox.call({ idempotent: false }, (a) =>
      this.toolbox.process.sendInput({ process: selector(this.pid), data: utf8(data) }, a),
    );
  }

  async closeStdin(): Promise<void> {
    await this.toolbox.call({ idempotent: true }, (a) =>
      this.toolbox.process.closeStdin({ process: selector(this.pid) }, a),
    );
  }

  disconnect(): void {
    this.controller.abort();
  }
}

function selector(pidOrTag: number | string) {
  return {
    selector:
      typeof pidOrTag === "number"
        ? { case: "pid" as const, value: pidOrTag }
        : { case: "tag" as const, value: pidOrTag },
  };
}

function deadlineFor(timeoutSeconds: number): number {
  return (timeoutSeconds > 0 ? timeoutSeconds * 1000 : MAX_COMMAND_MS) + DEADLINE_MARGIN_MS;
}

function executeResponse(res: {
  exitCode: number;
  stdout: Uint8Array;
  stderr: Uint8Array;
  stdoutTruncated: boolean;
  stderrTruncated: boolean;
  timedOut: boolean;
  signal?: number;
  duration?: { seconds: bigint; nanos: number };
}): ExecuteResponse {
  const stdout = text(res.stdout);
  return {
    exitCode: res.exitCode,
    result: stdout,
    stdout,
    stderr: text(res.stderr),
    timedOut: res.timedOut,
    signal: res.signal ?? 0,
    durationMs: Math.round((durationSeconds(res.duration as never) ?? 0) * 1000),
    truncated: res.stdoutTruncated || res.stderrTruncated,
    artifacts: { stdout },
  };
}

function describeProcess(p: ProcessInfo): ProcessDescription {
  return {
    pid: p.pid,
    tag: p.tag,
    command: p.command,
    cwd: p.cwd,
    running: p.exitCode === undefined,
    exitCode: p.exitCode,
    startedAt: toDate(p.startTime),
  };
}

function sessionCommand(c: SessionCommand | undefined): SessionCommandInfo {
  return { id: c?.commandId ?? "", command: c?.command ?? "", exitCode: c?.exitCode };
}

function session(s: SessionMessage | undefined, commands: SessionCommand[]): Session {
  return {
    sessionId: s?.sessionId ?? "",
    cwd: s?.cwd ?? "",
    commands: commands.map(sessionCommand),
  };
}
