import type { MessageInitShape } from "@bufbuild/protobuf";
import type { ServiceImpl } from "@connectrpc/connect";
import { invalidArgument, resourceExhausted, withKeepalive } from "@cove/common";
import { CodeLanguage } from "@cove/gen-ts/cove/toolbox/v1/language_pb.js";
import type {
  ProcessEventSchema,
  ProcessInfoSchema,
} from "@cove/gen-ts/cove/toolbox/v1/process_pb.js";
import { ProcessState, Signal } from "@cove/gen-ts/cove/toolbox/v1/process_pb.js";
import {
  type CloseStdinRequest,
  type CodeRunRequest,
  type ConnectRequest,
  type CreateSessionRequest,
  type DeleteSessionRequest,
  type ExecRequest,
  type GetSessionCommandLogsRequest,
  type GetSessionCommandLogsResponseSchema,
  type GetSessionCommandRequest,
  type GetSessionRequest,
  type ListProcessesRequest,
  ProcessService,
  type SendInputRequest,
  type SendSessionInputRequest,
  type SendSignalRequest,
  type SessionExecuteRequest,
  type StartCodeRunRequest,
  type StartRequest,
  type StreamInputRequest,
} from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import { type DaemonContext, runAsRules, type ServiceModule } from "../context.js";
import { limitClientStream } from "../domain/client-stream.js";
import { type CodeLanguage as Language, prepareCode } from "../domain/code-runner.js";
import type { ManagedProcess } from "../domain/managed-process.js";
import { MAX_CHUNK_BYTES, type ProcessEventData, processEvents } from "../domain/process-events.js";
import {
  ProcessManager,
  type ProcessSelector,
  type Program,
  readSandboxEnv,
} from "../domain/process-manager.js";
import { type RunAs, runAs, workingDirectory } from "../domain/run-as.js";
import { type Session, SessionManager } from "../domain/session-manager.js";
import { byteLimit, durationFromMs, timeoutMs, timestamp } from "./convert.js";

/** Default timeout of Exec, CodeRun and synchronous session commands, in ms. */
const DEFAULT_RUN_TIMEOUT_MS = 60_000;
/** Default and largest output kept per stream by Exec, CodeRun and session commands. */
const DEFAULT_OUTPUT_BYTES = 1024 * 1024;
const MAX_OUTPUT_BYTES = 8 * 1024 * 1024;
/** Largest stdin for Exec and largest SendInput payload. */
const MAX_EXEC_STDIN_BYTES = 8 * 1024 * 1024;
const MAX_INPUT_BYTES = 1024 * 1024;

const signalNames: Record<Signal, NodeJS.Signals | undefined> = {
  [Signal.UNSPECIFIED]: undefined,
  [Signal.SIGTERM]: "SIGTERM",
  [Signal.SIGKILL]: "SIGKILL",
  [Signal.SIGINT]: "SIGINT",
  [Signal.SIGHUP]: "SIGHUP",
  [Signal.SIGQUIT]: "SIGQUIT",
  [Signal.SIGUSR1]: "SIGUSR1",
  [Signal.SIGUSR2]: "SIGUSR2",
  [Signal.SIGSTOP]: "SIGSTOP",
  [Signal.SIGCONT]: "SIGCONT",
};

const languages: Partial<Record<CodeLanguage, Language>> = {
  [CodeLanguage.PYTHON]: "python",
  [CodeLanguage.JAVASCRIPT]: "javascript",
  [CodeLanguage.TYPESCRIPT]: "typescript",
};

type EventInit = MessageInitShape<typeof ProcessEventSchema>;

/** toEvent maps a domain process event to the ProcessEvent message. */
export function toEvent(event: ProcessEventData): EventInit {
  switch (event.kind) {
    case "start":
      return { event: { case: "start", value: { pid: event.pid, tag: event.tag } } };
    case "data":
      return {
        event: {
          case: "data",
          value: {
            output: { case: event.stream, value: event.data },
            offset: BigInt(event.offset),
          },
        },
      };
    case "end":
      return {
        event: {
          case: "end",
          value: {
            exitCode: event.exit.exitCode,
            signal: event.exit.signal,
            status: event.exit.status,
            timedOut: event.exit.timedOut,
            error: event.exit.error,
            stdoutEndOffset: BigInt(event.stdoutEndOffset),
            stderrEndOffset: BigInt(event.stderrEndOffset),
            endTime: timestamp(event.exit.endTime),
          },
        },
      };
  }
}

const keepalive = (): EventInit => ({ event: { case: "keepalive", value: {} } });

function program(req: { program: ExecRequest["program"] | StartRequest["program"] }): Program {
  switch (req.program.case) {
    case "command":
      if (req.program.value.trim() === "") throw invalidArgument("command", "must not be empty");
      return { command: req.program.value };
    case "argv":
      if (req.program.value.args.length === 0)
        throw invalidArgument("argv.args", "must name a program");
      return { argv: req.program.value.args };
    default:
      throw invalidArgument("program", "set either command or argv");
  }
}

function selector(
  sel:
    | {
        selector:
          | { case: "pid"; value: number }
          | { case: "tag"; value: string }
          | { case: undefined; value?: undefined };
      }
    | undefined,
): ProcessSelector {
  switch (sel?.selector.case) {
    case "pid":
      return { pid: sel.selector.value };
    case "tag":
      return { tag: sel.selector.value };
    default:
      throw invalidArgument("process", "name a process by pid or tag");
  }
}

function processInfo(proc: ManagedProcess): MessageInitShape<typeof ProcessInfoSchema> {
  return {
    pid: proc.pid,
    tag: proc.description.tag,
    command: proc.description.command,
    cwd: proc.description.cwd,
    user: proc.description.user,
    pty: proc.description.pty,
    state: proc.running ? ProcessState.RUNNING : ProcessState.EXITED,
    startTime: timestamp(proc.startTime),
    endTime: timestamp(proc.exit?.endTime),
    exitCode: proc.exit?.exitCode,
    signal: proc.exit?.signal ?? 0,
    timedOut: proc.exit?.timedOut ?? false,
  };
}

/** ProcessHandler implements ProcessService over the process and session managers. */
export class ProcessHandler implements ServiceImpl<typeof ProcessService> {
  constructor(
    private readonly ctx: DaemonContext,
    private readonly processes: ProcessManager,
    private readonly sessions: SessionManager,
  ) {}

  private runAs(name: string): RunAs {
    return runAs(runAsRules(this.ctx), name);
  }

  /** runToEnd waits for a process and collects its output; a cancelled call kills it. */
  private async runToEnd(proc: ManagedProcess, signal: AbortSignal) {
    // A cancelled call (client gone, deadline passed) must not leave the command running.
    const onAbort = () => proc.kill("SIGKILL");
    signal.addEventListener("abort", onAbort, { once: true });
    const exit = await proc.done.finally(() => signal.removeEventListener("abort", onAbort));
    const stdout = proc.stdout.tail();
    const stderr = proc.stderr.tail();
    return {
      exitCode: exit.exitCode,
      signal: exit.signal,
      stdout: stdout.data,
      stderr: stderr.data,
      stdoutTruncated: stdout.truncated,
      stderrTruncated: stderr.truncated,
      timedOut: exit.timedOut,
      duration: durationFromMs(exit.endTime.getTime() - proc.startTime.getTime()),
    };
  }

  async exec(req: ExecRequest, ctx: { signal: AbortSignal }) {
    if (req.stdin.length > MAX_EXEC_STDIN_BYTES) {
      throw resourceExhausted("PAYLOAD_TOO_LARGE", "stdin must be at most 8 MiB", {
        limit: String(MAX_EXEC_STDIN_BYTES),
      });
    }
    const { user, home } = this.runAs(req.user);
    const proc = await this.processes.start({
      program: program(req),
      cwd: workingDirectory(req.cwd, home),
      env: req.env,
      user,
      tag: "",
      timeoutMs: timeoutMs(req.timeout, DEFAULT_RUN_TIMEOUT_MS),
      openStdin: false,
      stdin: req.stdin,
      bufferBytes: byteLimit(
        req.maxOutputBytes,
        DEFAULT_OUTPUT_BYTES,
        MAX_OUTPUT_BYTES,
        "max_output_bytes",
      ),
      retain: false,
    });
    return this.runToEnd(proc, ctx.signal);
  }

  async *start(req: StartRequest, ctx: { signal: AbortSignal }) {
    if (req.pty)
      throw invalidArgument("pty", "PTY processes are started with PtyService.CreatePty");
    const { user, home } = this.runAs(req.user);
    const proc = await this.processes.start({
      program: program(req),
      cwd: workingDirectory(req.cwd, home),
      env: req.env,
      user,
      tag: req.tag,
      timeoutMs: timeoutMs(req.timeout, undefined),
      openStdin: req.openStdin,
      bufferBytes: this.ctx.config.limits.outputBufferBytes,
      retain: true,
    });
    yield* this.stream(proc, { stdout: 0, stderr: 0 }, ctx.signal, req.killOnDisconnect);
  }

  private async *stream(
    proc: ManagedProcess,
    from: { stdout: number | undefined; stderr: number | undefined },
    signal: AbortSignal,
    killOnDisconnect = false,
  ) {
    const events = processEvents(proc, from, signal);
    let ended = false;
    // The disconnect may come while this generator waits on a write that never completes (the
    // client stopped reading): the abort, not the generator's finally, is what always runs.
    const onDisconnect = () => {
      if (!ended && killOnDisconnect) proc.kill("SIGKILL");
    };
    if (signal.aborted) onDisconnect();
    else signal.addEventListener("abort", onDisconnect, { once: true });
    try {
      for await (const event of withKeepalive(
        events,
        this.ctx.config.limits.keepaliveMs,
        () => null,
      )) {
        if (event === null) {
          yield { event: keepalive() };
          continue;
        }
        if (event.kind === "end") ended = true;
        yield { event: toEvent(event) };
      }
    } finally {
      signal.removeEventListener("abort", onDisconnect);
      onDisconnect();
    }
  }

  async *connect(req: ConnectRequest, ctx: { signal: AbortSignal }) {
    const proc = this.processes.get(selector(req.process));
    const from = {
      stdout: req.stdoutOffset === undefined ? undefined : Number(req.stdoutOffset),
      stderr: req.stderrOffset === undefined ? undefined : Number(req.stderrOffset),
    };
    yield* this.stream(proc, from, ctx.signal);
  }

  async sendInput(req: SendInputRequest) {
    if (req.data.length > MAX_INPUT_BYTES) {
      throw resourceExhausted("PAYLOAD_TOO_LARGE", "data must be at most 1 MiB per call", {
        limit: String(MAX_INPUT_BYTES),
      });
    }
    await this.processes.get(selector(req.process)).write(req.data);
    return {};
  }

  async closeStdin(req: CloseStdinRequest) {
    this.processes.get(selector(req.process)).closeStdin();
    return {};
  }

  async sendSignal(req: SendSignalRequest) {
    const name = signalNames[req.signal];
    if (!name) throw invalidArgument("signal", "name a signal");
    const proc = this.processes.getRunning(selector(req.process));
    if (name === "SIGKILL") proc.kill("SIGKILL");
    else proc.signal(name);
    return {};
  }

  async listProcesses(req: ListProcessesRequest) {
    return { processes: this.processes.list(req.runningOnly).map(processInfo) };
  }

  async streamInput(requests: AsyncIterable<StreamInputRequest>) {
    let proc: ManagedProcess | undefined;
    let closeOnEnd = false;
    let written = 0;
    for await (const req of limitClientStream(
      requests,
      this.ctx.config.limits.clientStreamIdleMs,
    )) {
      const message = req.message;
      if (message.case === "start") {
        if (proc) throw invalidArgument("start", "must be sent once, first");
        proc = this.processes.get(selector(message.value.process));
        closeOnEnd = message.value.closeStdinOnEnd;
      } else if (message.case === "data") {
        if (!proc) throw invalidArgument("start", "must come before any data");
        await proc.write(message.value);
        written += message.value.length;
      }
    }
    if (!proc) throw invalidArgument("start", "the stream named no process");
    if (closeOnEnd) proc.closeStdin();
    return { writtenBytes: BigInt(written) };
  }

  // --- sessions ---

  private sessionProto(session: Session) {
    const last = session.commands.at(-1);
    return {
      sessionId: session.id,
      cwd: this.sessions.cwd(session),
      user: session.user?.name ?? "",
      runningCommandId: session.running?.id ?? "",
      commandCount: BigInt(session.commandCount),
      createTime: timestamp(session.createTime),
      lastCommandTime: timestamp(last?.startTime),
    };
  }

  private commandProto(command: Session["commands"][number]) {
    return {
      commandId: command.id,
      command: command.command,
      exitCode: command.exitCode,
      timedOut: command.timedOut,
      startTime: timestamp(command.startTime),
      endTime: timestamp(command.endTime),
      duration: command.endTime
        ? durationFromMs(command.endTime.getTime() - command.startTime.getTime())
        : undefined,
    };
  }

  async createSession(req: CreateSessionRequest) {
    const { user, home } = this.runAs(req.user);
    const session = this.sessions.create(
      req.sessionId,
      workingDirectory(req.cwd, home),
      req.env,
      user,
    );
    return { session: this.sessionProto(session) };
  }

  async getSession(req: GetSessionRequest) {
    const session = this.sessions.get(req.sessionId);
    return {
      session: this.sessionProto(session),
      commands: session.commands.slice(-100).map((c) => this.commandProto(c)),
    };
  }

  async listSessions() {
    return { sessions: this.sessions.list().map((s) => this.sessionProto(s)) };
  }

  async deleteSession(req: DeleteSessionRequest) {
    this.sessions.delete(req.sessionId);
    return {};
  }

  async sessionExecute(req: SessionExecuteRequest, ctx: { signal: AbortSignal }) {
    const session = this.sessions.get(req.sessionId);
    const command = await this.sessions.execute(session, {
      command: req.command,
      openStdin: req.openStdin,
      timeoutMs: timeoutMs(req.timeout, req.async ? undefined : DEFAULT_RUN_TIMEOUT_MS),
      bufferBytes: byteLimit(
        req.maxOutputBytes,
        DEFAULT_OUTPUT_BYTES,
        MAX_OUTPUT_BYTES,
        "max_output_bytes",
      ),
    });
    const proc = command.process as ManagedProcess;
    if (req.async) return { commandId: command.id };
    const result = await this.runToEnd(proc, ctx.signal);
    return {
      commandId: command.id,
      exitCode: result.exitCode,
      stdout: result.stdout,
      stderr: result.stderr,
      stdoutTruncated: result.stdoutTruncated,
      stderrTruncated: result.stderrTruncated,
      timedOut: result.timedOut,
      sessionReset: result.timedOut,
    };
  }

  async getSessionCommand(req: GetSessionCommandRequest) {
    const session = this.sessions.get(req.sessionId);
    return { command: this.commandProto(this.sessions.command(session, req.commandId)) };
  }

  async *getSessionCommandLogs(
    req: GetSessionCommandLogsRequest,
    ctx: { signal: AbortSignal },
  ): AsyncGenerator<MessageInitShape<typeof GetSessionCommandLogsResponseSchema>> {
    const session = this.sessions.get(req.sessionId);
    const command = this.sessions.command(session, req.commandId);
    const proc = command.process;
    if (!proc) {
      // Output of old commands is no longer held; report how it ended.
      yield {
        event: {
          case: "end",
          value: { exitCode: command.exitCode ?? -1, timedOut: command.timedOut },
        },
      };
      return;
    }
    if (!req.follow) {
      // Without follow: what is held now, and the end only if the command has finished.
      const finished = proc.exit;
      for (const stream of ["stdout", "stderr"] as const) {
        const log = proc[stream];
        for (let offset = log.startOffset; offset < log.endOffset; ) {
          const chunk = log.read(offset, MAX_CHUNK_BYTES);
          yield {
            event: {
              case: "data",
              value: { output: { case: stream, value: chunk.data }, offset: BigInt(chunk.offset) },
            },
          };
          offset = chunk.offset + chunk.data.length;
        }
      }
      if (finished)
        yield {
          event: {
            case: "end",
            value: { exitCode: finished.exitCode, timedOut: finished.timedOut },
          },
        };
      return;
    }
    const events = processEvents(proc, { stdout: 0, stderr: 0 }, ctx.signal);
    for await (const event of withKeepalive(
      events,
      this.ctx.config.limits.keepaliveMs,
      () => null,
    )) {
      if (event === null) {
        yield { event: { case: "keepalive", value: {} } };
      } else if (event.kind === "data") {
        yield {
          event: {
            case: "data",
            value: {
              output: { case: event.stream, value: event.data },
              offset: BigInt(event.offset),
            },
          },
        };
      } else if (event.kind === "end") {
        yield {
          event: {
            case: "end",
            value: { exitCode: event.exit.exitCode, timedOut: event.exit.timedOut },
          },
        };
        return;
      }
    }
  }

  async sendSessionInput(req: SendSessionInputRequest) {
    const session = this.sessions.get(req.sessionId);
    const command = this.sessions.command(session, req.commandId);
    const proc = command.process;
    if (!proc) throw invalidArgument("command_id", "that command's process is no longer held");
    if (req.data.length > 0) await proc.write(req.data);
    if (req.closeStdin) proc.closeStdin();
    return {};
  }

  // --- code ---

  private async startCode(
    req: {
      language: CodeLanguage;
      code: string;
      argv: string[];
      env: Record<string, string>;
      cwd: string;
    },
    options: {
      timeoutMs: number | undefined;
      tag: string;
      openStdin: boolean;
      bufferBytes: number;
      retain: boolean;
    },
  ) {
    // An unset language means Python, as the contract says.
    const language = req.language === CodeLanguage.UNSPECIFIED ? "python" : languages[req.language];
    if (!language) throw invalidArgument("language", "choose PYTHON, JAVASCRIPT or TYPESCRIPT");
    const { user, home } = this.runAs("");
    const env = { ...this.processes.baseEnv(user), ...req.env };
    const prepared = prepareCode(language, req.code, req.argv, user, env.PATH);
    try {
      const proc = await this.processes.start({
        program: { argv: prepared.argv },
        cwd: workingDirectory(req.cwd, home),
        env: req.env,
        user,
        ...options,
      });
      void proc.done.then(() => prepared.remove());
      return proc;
    } catch (err) {
      prepared.remove();
      throw err;
    }
  }

  async codeRun(req: CodeRunRequest, ctx: { signal: AbortSignal }) {
    const proc = await this.startCode(req, {
      timeoutMs: timeoutMs(req.timeout, DEFAULT_RUN_TIMEOUT_MS),
      tag: "",
      openStdin: false,
      bufferBytes: byteLimit(
        req.maxOutputBytes,
        DEFAULT_OUTPUT_BYTES,
        MAX_OUTPUT_BYTES,
        "max_output_bytes",
      ),
      retain: false,
    });
    const { signal: _signal, ...result } = await this.runToEnd(proc, ctx.signal);
    return result;
  }

  async *startCodeRun(req: StartCodeRunRequest, ctx: { signal: AbortSignal }) {
    const proc = await this.startCode(req, {
      timeoutMs: timeoutMs(req.timeout, undefined),
      tag: req.tag,
      openStdin: req.openStdin,
      bufferBytes: this.ctx.config.limits.outputBufferBytes,
      retain: true,
    });
    yield* this.stream(proc, { stdout: 0, stderr: 0 }, ctx.signal);
  }
}

/** createProcessModule mounts ProcessService with its own process and session managers. */
export function createProcessModule(ctx: DaemonContext): ServiceModule {
  const processes = new ProcessManager(
    ctx.config.limits,
    readSandboxEnv(ctx.config.sandboxEnvFile),
    ctx.config.initPath,
  );
  const sessions = new SessionManager(processes);
  return {
    service: ProcessService,
    impl: new ProcessHandler(ctx, processes, sessions),
    async close() {
      sessions.close();
      await processes.close();
    },
  };
}
