import type { MessageInitShape } from "@bufbuild/protobuf";
import { ConnectError } from "@connectrpc/connect";
import { AsyncQueue, type Logger } from "@cove/common";
import { Signal } from "@cove/gen-ts/cove/toolbox/v1/process_pb.js";
import type { StreamInputRequestSchema } from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import type { StreamPtyRequestSchema } from "@cove/gen-ts/cove/toolbox/v1/pty_service_pb.js";
import type { AcceptConnection, PseudoTtyInfo, ServerChannel, Session, SFTPWrapper } from "ssh2";
import { ByteFeed } from "./byte-feed.js";
import { ChannelOutput } from "./channel-output.js";
import { type SandboxClients, UNARY_TIMEOUT_MS } from "./sandbox-clients.js";
import { serveSftp } from "./sftp-bridge.js";

/** What a session channel needs from its connection. */
export interface SessionContext {
  /** Clients for the connection's sandbox. */
  clients: SandboxClients;
  /** The OS user commands run as ("" = the sandbox's default user). */
  osUser: string;
  /** Where the session logs. */
  logger: Logger;
  /** touch marks the connection as active (idle timeout, auto-stop activity). */
  touch(): void;
  /** Variables a client may set with `env` requests, at most. */
  maxEnvVars: number;
  /** Open SFTP handles per SFTP session, at most. */
  maxSftpHandles: number;
  /** Aborted when the SSH connection has closed. */
  connectionClosed: AbortSignal;
}

/** A running session channel, as the connection sees it. */
export interface SessionHandle {
  /** notify writes a line to the session's stderr, if it runs a command or shell. */
  notify(message: string): void;
  /** closed resolves when the session channel has closed. */
  closed: Promise<void>;
}

/** Input waiting between the client and the sandbox, per channel, before the channel pauses. */
const INPUT_HIGH_WATER = 1024 * 1024;
/**
 * Output the proxy holds per channel beyond the client's SSH window before it stops reading
 * the daemon (which then pauses the command's pipe).
 */
const OUTPUT_BUDGET = 1024 * 1024;
/** The exit status reported when output was dropped: ssh's own "something failed" code. */
const LOST_OUTPUT_EXIT = 255;
/** Idle client streams get a keepalive this often (the daemon cuts them after 60 s). */
const KEEPALIVE_MS = 20_000;
/** Terminal sizes the daemon accepts. */
const MAX_TERMINAL = 1000;
/** Environment variable names a client may set. */
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,255}$/;
/** The largest value of one variable set through `env`. */
const MAX_ENV_VALUE = 32 * 1024;
/** A shell session without a terminal runs the user's login shell, reading commands from stdin. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: shell syntax, expanded by the remote shell.
const PLAIN_SHELL = 'exec "${SHELL:-/bin/sh}" -l';

/** Signal numbers the sandbox may report, by the names SSH uses (RFC 4254 §6.10). */
const SIGNAL_NAMES: Record<number, string> = {
  1: "HUP",
  2: "INT",
  3: "QUIT",
  4: "ILL",
  6: "ABRT",
  8: "FPE",
  9: "KILL",
  10: "USR1",
  11: "SEGV",
  12: "USR2",
  13: "PIPE",
  14: "ALRM",
  15: "TERM",
};

/** Signals a client may send with a `signal` request, by SSH name. */
const CLIENT_SIGNALS: Record<string, Signal> = {
  HUP: Signal.SIGHUP,
  INT: Signal.SIGINT,
  QUIT: Signal.SIGQUIT,
  KILL: Signal.SIGKILL,
  TERM: Signal.SIGTERM,
  USR1: Signal.SIGUSR1,
  USR2: Signal.SIGUSR2,
};

/** How a command or shell ended, for exit-status / exit-signal. */
interface Outcome {
  exitCode: number;
  signal: number;
}

/** A command running for a session channel. */
interface Running {
  resize(cols: number, rows: number): void;
  signal(name: string): void;
}

/**
 * handleSession accepts a session channel and serves its requests: `pty-req`, `env`,
 * `window-change` and `signal` as state or control, `shell` and `exec` on a PTY (PtyService)
 * when a terminal was requested and as a plain process (ProcessService) otherwise, and the
 * `sftp` subsystem. X11, agent forwarding and other subsystems are refused by having no
 * handler (ssh2 answers failure).
 */
export function handleSession(
  acceptSession: AcceptConnection<Session>,
  ctx: SessionContext,
): SessionHandle {
  const session = acceptSession();
  const abort = new AbortController();
  const env: Record<string, string> = {};
  let terminal: { term: string; cols: number; rows: number } | undefined;
  let running: Running | undefined;
  let output: ChannelOutput | undefined;
  let started = false;
  // ssh2 emits "close" on the session only when the client closes the channel, not when the
  // whole connection drops, so the connection's end counts too.
  const closed = new Promise<void>((resolve) => {
    const end = () => {
      abort.abort();
      resolve();
    };
    session.once("close", end);
    if (ctx.connectionClosed.aborted) end();
    else ctx.connectionClosed.addEventListener("abort", end, { once: true });
  });

  session.on("pty", (accept, reject, info: PseudoTtyInfo) => {
    if (started) return reject?.();
    terminal = { term: info.term, cols: clampSize(info.cols, 80), rows: clampSize(info.rows, 24) };
    accept?.();
  });
  session.on("env", (accept, reject, info: { key: string; val: string }) => {
    const fits = Object.keys(env).length < ctx.maxEnvVars || info.key in env;
    if (started || !ENV_NAME.test(info.key) || info.val.length > MAX_ENV_VALUE || !fits) {
      return reject?.();
    }
    if (info.val.includes("\0")) return reject?.();
    env[info.key] = info.val;
    accept?.();
  });
  session.on("window-change", (accept, _reject, info: { cols: number; rows: number }) => {
    if (terminal !== undefined) {
      terminal.cols = clampSize(info.cols, terminal.cols);
      terminal.rows = clampSize(info.rows, terminal.rows);
      running?.resize(terminal.cols, terminal.rows);
    }
    accept?.();
  });
  session.on("signal", (accept, reject, info: { name: string }) => {
    if (running === undefined || CLIENT_SIGNALS[info.name] === undefined) return reject?.();
    running.signal(info.name);
    accept?.();
  });

  const start = (channel: ServerChannel, command: string | undefined) => {
    started = true;
    channel.once("close", () => abort.abort());
    // A channel is a stream: a write after the client went away is an "error" event, which
    // without a listener would end the whole proxy.
    channel.on("error", (err: Error) => {
      ctx.logger.debug("ssh channel error", { err: err.message });
      abort.abort();
    });
    const out = new ChannelOutput(channel, OUTPUT_BUDGET, abort.signal);
    output = out;
    const run =
      terminal !== undefined
        ? runOnPty(channel, out, command, terminal, env, ctx, abort.signal, (r) => {
            running = r;
          })
        : runPlain(channel, out, command ?? PLAIN_SHELL, env, ctx, abort.signal, (r) => {
            running = r;
          });
    run.catch(async (err: unknown) => {
      if (abort.signal.aborted) return;
      ctx.logger.warn("ssh command failed", { err });
      const message = err instanceof ConnectError ? err.rawMessage : "internal error";
      out.write(true, `cove: ${message}\r\n`);
      await out.drained();
      channel.end();
    });
  };
  session.on("shell", (accept) => start(accept(), undefined));
  session.on("exec", (accept, _reject, info: { command: string }) => start(accept(), info.command));
  session.on("sftp", (accept) => {
    started = true;
    const sftp: SFTPWrapper = accept();
    sftp.once("close", () => abort.abort());
    sftp.on("error", (err: Error) => {
      ctx.logger.debug("sftp channel error", { err: err.message });
      abort.abort();
    });
    serveSftp(sftp, {
      fs: ctx.clients.fs,
      logger: ctx.logger,
      maxHandles: ctx.maxSftpHandles,
      touch: ctx.touch,
      signal: abort.signal,
    });
  });

  return {
    notify(message) {
      output?.write(true, `\r\n${message}\r\n`);
    },
    closed,
  };
}

/** runOnPty runs a login shell (command unset) or a command on a PTY for the channel. */
async function runOnPty(
  channel: ServerChannel,
  out: ChannelOutput,
  command: string | undefined,
  terminal: { term: string; cols: number; rows: number },
  env: Record<string, string>,
  ctx: SessionContext,
  signal: AbortSignal,
  setRunning: (running: Running) => void,
): Promise<void> {
  const pty = ctx.clients.pty;
  const size = { cols: terminal.cols, rows: terminal.rows };
  const { ptyId, pid } = await pty.createPty(
    {
      program: command === undefined ? { case: undefined } : { case: "command", value: command },
      env: { ...env, TERM: terminal.term || "xterm-256color" },
      user: ctx.osUser,
      size,
    },
    { signal, timeoutMs: UNARY_TIMEOUT_MS },
  );
  let exited = false;
  const requests = new AsyncQueue<MessageInitShape<typeof StreamPtyRequestSchema>>();
  requests.push({ message: { case: "attach", value: { ptyId, offset: 0n } } });
  setRunning({
    resize: (cols, rows) => requests.push({ message: { case: "resize", value: { cols, rows } } }),
    signal: (name) => void sendSignal(ctx, pid, name),
  });
  if (terminal.cols !== size.cols || terminal.rows !== size.rows) {
    // The window changed while the terminal was being created.
    requests.push({
      message: { case: "resize", value: { cols: terminal.cols, rows: terminal.rows } },
    });
  }
  channel.on("data", (chunk: Buffer) => {
    ctx.touch();
    requests.push({ message: { case: "input", value: chunk } });
  });
  const keepalive = setInterval(
    () => requests.push({ message: { case: "keepalive", value: {} } }),
    KEEPALIVE_MS,
  );
  signal.addEventListener("abort", () => {
    clearInterval(keepalive);
    requests.close();
    // The client went away: hang up the terminal as sshd does.
    if (!exited) {
      pty.killPty({ ptyId }, { timeoutMs: UNARY_TIMEOUT_MS }).catch(() => {});
    }
  });
  let outcome: Outcome | undefined;
  try {
    for await (const response of pty.streamPty(requests, { signal })) {
      const event = response.event?.event;
      if (event?.case === "data") {
        ctx.touch();
        out.write(false, event.value.data);
        await out.room();
      } else if (event?.case === "exit") {
        exited = true;
        outcome = { exitCode: event.value.exitCode, signal: event.value.signal };
      }
    }
  } finally {
    clearInterval(keepalive);
    requests.close();
  }
  await finish(channel, out, outcome, signal);
}

/** runPlain runs a command with pipes: stdout, stderr apart, stdin from the channel. */
async function runPlain(
  channel: ServerChannel,
  out: ChannelOutput,
  command: string,
  env: Record<string, string>,
  ctx: SessionContext,
  signal: AbortSignal,
  setRunning: (running: Running) => void,
): Promise<void> {
  const process = ctx.clients.process;
  const input = new ByteFeed<MessageInitShape<typeof StreamInputRequestSchema>>(
    INPUT_HIGH_WATER,
    () => channel.resume(),
  );
  channel.on("data", (chunk: Buffer) => {
    ctx.touch();
    if (!input.push({ message: { case: "data", value: chunk } }, chunk.length)) channel.pause();
  });
  channel.on("end", () => input.close());
  const keepalive = setInterval(
    () => input.push({ message: { case: "keepalive", value: {} } }, 0),
    KEEPALIVE_MS,
  );
  const stdinAbort = new AbortController();
  const stopStdin = () => {
    clearInterval(keepalive);
    input.close();
    stdinAbort.abort();
  };
  signal.addEventListener("abort", stopStdin);
  let outcome: Outcome | undefined;
  const next = { stdout: 0, stderr: 0 };
  let lost = 0;
  try {
    const events = process.start(
      {
        program: { case: "command", value: command },
        env,
        user: ctx.osUser,
        openStdin: true,
        killOnDisconnect: true,
      },
      { signal },
    );
    for await (const response of events) {
      const event = response.event?.event;
      switch (event?.case) {
        case "start": {
          const pid = event.value.pid;
          setRunning({ resize: () => {}, signal: (name) => void sendSignal(ctx, pid, name) });
          pumpStdin(ctx, pid, input, stdinAbort.signal);
          break;
        }
        case "data": {
          ctx.touch();
          const output = event.value.output;
          if (output.case === undefined) break;
          const stream = output.case === "stderr" ? "stderr" : "stdout";
          const offset = Number(event.value.offset);
          if (offset > next[stream]) {
            // The daemon keeps a bounded ring per stream and skips a reader that falls behind:
            // say so rather than pass the hole off as the command's output.
            if (lost === 0) {
              out.write(
                true,
                `cove: ${stream} output was dropped because the client read too slowly; the exit status will be ${LOST_OUTPUT_EXIT}\n`,
              );
            }
            lost += offset - next[stream];
          }
          next[stream] = offset + output.value.length;
          out.write(stream === "stderr", output.value);
          await out.room();
          break;
        }
        case "end":
          outcome = { exitCode: event.value.exitCode, signal: event.value.signal };
          break;
      }
    }
  } finally {
    stopStdin();
  }
  if (lost > 0 && outcome !== undefined) {
    ctx.logger.warn("ssh command output was dropped", { lostBytes: lost });
    out.write(true, `cove: ${lost} bytes of output were dropped in all\n`);
    outcome = { exitCode: LOST_OUTPUT_EXIT, signal: 0 };
  }
  await finish(channel, out, outcome, signal);
}

/** pumpStdin streams the channel's input to the process's stdin; EOF closes stdin. */
function pumpStdin(
  ctx: SessionContext,
  pid: number,
  input: ByteFeed<MessageInitShape<typeof StreamInputRequestSchema>>,
  signal: AbortSignal,
): void {
  async function* requests() {
    yield {
      message: {
        case: "start" as const,
        value: {
          process: { selector: { case: "pid" as const, value: pid } },
          closeStdinOnEnd: true,
        },
      },
    };
    yield* input;
  }
  ctx.clients.process.streamInput(requests(), { signal }).catch((err: unknown) => {
    // The process may exit while input is still arriving; that is not the session's failure.
    if (!signal.aborted) ctx.logger.debug("ssh stdin ended early", { err });
  });
}

/** sendSignal delivers a client's signal request to the process group. */
async function sendSignal(ctx: SessionContext, pid: number, name: string): Promise<void> {
  const signal = CLIENT_SIGNALS[name];
  if (signal === undefined) return;
  await ctx.clients.process
    .sendSignal(
      { process: { selector: { case: "pid", value: pid } }, signal },
      { timeoutMs: UNARY_TIMEOUT_MS },
    )
    .catch((err: unknown) => ctx.logger.debug("ssh signal not delivered", { err, name }));
}

/**
 * finish waits until the channel has sent every byte of output, reports how the command ended
 * (exit-status, or exit-signal when a known signal killed it) and closes the channel.
 */
async function finish(
  channel: ServerChannel,
  out: ChannelOutput,
  outcome: Outcome | undefined,
  signal: AbortSignal,
): Promise<void> {
  await out.drained();
  if (signal.aborted) return;
  if (outcome !== undefined) {
    const name = outcome.signal !== 0 ? SIGNAL_NAMES[outcome.signal] : undefined;
    if (name !== undefined) channel.exit(name, false, "");
    else channel.exit(outcome.exitCode);
  }
  channel.end();
}

function clampSize(value: number, fallback: number): number {
  if (!Number.isInteger(value) || value < 1) return fallback;
  return Math.min(value, MAX_TERMINAL);
}
