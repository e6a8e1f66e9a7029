// sandbox.pty: interactive terminals. Output arrives on a server stream (ConnectPty) and input,
// resize and kill are unary calls, so the same code works in browsers. The viewer stream is
// recycled and re-attached from its byte offset like process output (see resumable.ts).
import { Code } from "@connectrpc/connect";
import { PtyExitReason } from "@cove/gen-ts/cove/toolbox/v1/pty_pb.js";
import type { ConnectPtyResponse } from "@cove/gen-ts/cove/toolbox/v1/pty_service_pb.js";
import { utf8 } from "./convert.js";
import { CoveNotFoundError, sdkError, toCoveError } from "./errors.js";
import { readResumable } from "./resumable.js";
import type { Toolbox } from "./toolbox.js";

/** An empty payload put in place of delivered ones (see resumable.ts). */
const EMPTY = new Uint8Array(0);

/** Options of pty.create (Daytona's PtyCreateOptions). */
export interface PtyCreateOptions {
  /** cols is the width; default 80. */
  cols?: number;
  /** rows is the height; default 24. */
  rows?: number;
  /** cwd is the working directory. */
  cwd?: string;
  /** envs holds extra environment variables (Daytona's name; env works too). */
  envs?: Record<string, string>;
  /** env holds extra environment variables. */
  env?: Record<string, string>;
  /** command runs instead of the user's login shell. */
  command?: string;
  /** onData receives terminal output bytes as they arrive. */
  onData: (data: Uint8Array) => void | Promise<void>;
}

/** How a PTY ended. */
export interface PtyResult {
  /** exitCode is the exit status (128 + signal when killed). */
  exitCode: number;
  /** reason is "exited", "signaled" or "killed". */
  reason: string;
  /** error is set when the viewer stream failed instead. */
  error?: string;
}

/** A handle on a terminal. */
export interface PtyHandle {
  /** sessionId is the PTY's id (Daytona's name). */
  readonly sessionId: string;
  /** pid is the terminal's process id. */
  readonly pid: number;
  /** sendInput types data into the terminal. */
  sendInput(data: string | Uint8Array): Promise<void>;
  /** resize changes the terminal size. */
  resize(cols: number, rows: number): Promise<void>;
  /** kill ends the terminal (hang-up, then SIGKILL after 3 s). */
  kill(): Promise<void>;
  /** wait resolves when the process has exited and every output byte was delivered. */
  wait(): Promise<PtyResult>;
  /** disconnect stops viewing; the terminal keeps running. */
  disconnect(): void;
}

/** The terminal API of one sandbox (sandbox.pty). */
export class Pty {
  constructor(private readonly toolbox: Toolbox) {}

  /** create starts a terminal and attaches to it, resolving once the viewer is attached. */
  async create(options: PtyCreateOptions): Promise<PtyHandle> {
    const res = await this.toolbox.call({ idempotent: false }, (a) =>
      this.toolbox.pty.createPty(
        {
          program: options.command
            ? { case: "command", value: options.command }
            : { case: undefined },
          cwd: options.cwd ?? "",
          env: { ...options.envs, ...options.env },
          size: { cols: options.cols ?? 0, rows: options.rows ?? 0 },
        },
        a,
      ),
    );
    return this.connect(res.ptyId, { onData: options.onData, fromOffset: 0, pid: res.pid });
  }

  /** connect attaches to an existing terminal, replaying output from fromOffset (default 0). */
  async connect(
    ptyId: string,
    options: { onData: PtyCreateOptions["onData"]; fromOffset?: number; pid?: number },
  ): Promise<PtyHandle> {
    const viewer = new PtyViewer(
      this.toolbox,
      ptyId,
      options.pid ?? 0,
      options.onData,
      options.fromOffset ?? 0,
    );
    await viewer.begin();
    return viewer;
  }
}

class PtyViewer implements PtyHandle {
  private readonly controller = new AbortController();
  private done: Promise<PtyResult> | undefined;

  constructor(
    private readonly toolbox: Toolbox,
    readonly sessionId: string,
    public pid: number,
    private readonly onData: PtyCreateOptions["onData"],
    private offset: number,
  ) {}

  begin(): Promise<void> {
    let attached: () => void = () => {};
    let failed: (err: unknown) => void = () => {};
    const ready = new Promise<void>((resolve, reject) => {
      attached = resolve;
      failed = reject;
    });
    let seen = false;
    let exit: PtyResult | undefined;
    this.done = (async () => {
      await readResumable<ConnectPtyResponse>({
        signal: this.controller.signal,
        open: (_reattach, signal) =>
          this.toolbox.stream({ what: "terminal output", signal }, (a) =>
            this.toolbox.pty.connectPty({ ptyId: this.sessionId, offset: BigInt(this.offset) }, a),
          ),
        canReattach: () => seen,
        sizeOf: (m) => (m.event?.event.case === "data" ? m.event.event.value.data.length : 0),
        onMessage: async (m) => {
          const ev = m.event?.event;
          if (ev?.case === "attached") {
            this.pid = ev.value.pid;
            if (!seen) {
              seen = true;
              attached();
            }
            if (Number(ev.value.bufferStartOffset) > this.offset)
              this.offset = Number(ev.value.bufferStartOffset);
          } else if (ev?.case === "data") {
            let data = ev.value.data;
            const at = Number(ev.value.offset);
            if (at + data.length <= this.offset) return false;
            if (at < this.offset) data = data.subarray(this.offset - at);
            this.offset = Math.max(this.offset, at) + data.length;
            await this.onData(data);
            // Connect-ES pins every message until the call ends; let go of the payload.
            ev.value.data = EMPTY;
          } else if (ev?.case === "exit") {
            exit = {
              exitCode: ev.value.exitCode,
              reason: (PtyExitReason[ev.value.reason] ?? "unspecified").toLowerCase(),
            };
            return true;
          }
          return false;
        },
      });
      if (!exit)
        throw sdkError(Code.Canceled, `terminal ${this.sessionId}: disconnected before it exited`);
      return exit;
    })();
    this.done.then(
      () => attached(),
      (err) => failed(toCoveError(err)),
    );
    return ready;
  }

  async sendInput(data: string | Uint8Array): Promise<void> {
    await this.toolbox.call({ idempotent: false }, (a) =>
      this.toolbox.pty.sendPtyInput({ ptyId: this.sessionId, data: utf8(data) }, a),
    );
  }

  async resize(cols: number, rows: number): Promise<void> {
    await this.toolbox.call({ idempotent: true }, (a) =>
      this.toolbox.pty.resizePty({ ptyId: this.sessionId, size: { cols, rows } }, a),
    );
  }

  async kill(): Promise<void> {
    try {
      await this.toolbox.call({ idempotent: true }, (a) =>
        this.toolbox.pty.killPty({ ptyId: this.sessionId }, a),
      );
    } catch (err) {
      if (!(err instanceof CoveNotFoundError)) throw err;
    }
  }

  wait(): Promise<PtyResult> {
    if (!this.done) throw sdkError(Code.FailedPrecondition, "the terminal was not attached");
    return this.done;
  }

  disconnect(): void {
    this.controller.abort();
  }
}
