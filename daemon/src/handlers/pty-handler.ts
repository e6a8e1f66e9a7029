import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampFromDate } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { CoveError, invalidArgument, withKeepalive } from "@cove/common";
import { type PtyEventSchema, PtyExitReason } from "@cove/gen-ts/cove/toolbox/v1/pty_pb.js";
import {
  type ConnectPtyRequest,
  type CreatePtyRequest,
  type KillPtyRequest,
  PtyService,
  type ResizePtyRequest,
  type SendPtyInputRequest,
  type StreamPtyRequest,
} from "@cove/gen-ts/cove/toolbox/v1/pty_service_pb.js";
import type { DaemonContext, ServiceModule } from "../context.js";
import { readSandboxEnv } from "../domain/process-manager.js";
import { PtyManager, type PtyProgram, type PtyViewEvent } from "../domain/pty-manager.js";

type PtyEventInit = MessageInitShape<typeof PtyEventSchema>;

const exitReasons = {
  exited: PtyExitReason.EXITED,
  signaled: PtyExitReason.SIGNALED,
  killed: PtyExitReason.KILLED,
} as const;

/** PtyHandler serves cove.toolbox.v1.PtyService over a PtyManager. */
export class PtyHandler implements ServiceImpl<typeof PtyService> {
  constructor(
    private readonly ptys: PtyManager,
    private readonly keepaliveMs: number,
  ) {}

  async createPty(req: CreatePtyRequest) {
    const program: PtyProgram =
      req.program.case === "command"
        ? { command: req.program.value }
        : req.program.case === "argv"
          ? { argv: req.program.value.args }
          : { loginShell: true };
    return this.ptys.create({
      program,
      cwd: req.cwd,
      env: req.env,
      user: req.user,
      cols: req.size?.cols ?? 0,
      rows: req.size?.rows ?? 0,
    });
  }

  async *connectPty(req: ConnectPtyRequest, ctx: HandlerContext) {
    const events = this.ptys.attach(req.ptyId, toOffset(req.offset), ctx.signal);
    for await (const event of this.withKeepalive(events)) yield { event };
  }

  async sendPtyInput(req: SendPtyInputRequest) {
    this.ptys.write(req.ptyId, req.data);
    return {};
  }

  async resizePty(req: ResizePtyRequest) {
    if (req.size === undefined) throw invalidArgument("size", "is required");
    this.ptys.resize(req.ptyId, req.size.cols, req.size.rows);
    return {};
  }

  async killPty(req: KillPtyRequest) {
    await this.ptys.kill(req.ptyId);
    return {};
  }

  async listPtys() {
    return {
      ptys: this.ptys.list().map((p) => ({
        ptyId: p.ptyId,
        pid: p.pid,
        command: p.command,
        cwd: p.cwd,
        user: p.user,
        size: { cols: p.cols, rows: p.rows },
        viewerCount: p.viewerCount,
        createTime: timestampFromDate(p.createTime),
        exited: p.exited,
      })),
    };
  }

  async *streamPty(reqs: AsyncIterable<StreamPtyRequest>, ctx: HandlerContext) {
    const input = reqs[Symbol.asyncIterator]();
    const first = await input.next();
    if (first.done || first.value.message.case !== "attach") {
      throw invalidArgument("attach", "the first message must be attach");
    }
    const { ptyId, offset } = first.value.message.value;
    // The viewer ends when the client half-closes, cancels, or sends something invalid.
    const detach = new AbortController();
    const onCancel = () => detach.abort();
    ctx.signal.addEventListener("abort", onCancel);
    let inputError: unknown;
    try {
      const events = this.ptys.attach(ptyId, toOffset(offset), detach.signal);
      void (async () => {
        try {
          for (;;) {
            const next = await input.next();
            if (next.done) break;
            const message = next.value.message;
            if (message.case === "input") this.writeUnlessExited(ptyId, message.value);
            else if (message.case === "resize") {
              this.ptys.resize(ptyId, message.value.cols, message.value.rows);
            } else if (message.case === "attach") {
              throw invalidArgument("attach", "only the first message may be attach");
            }
          }
        } catch (err) {
          inputError = err;
        } finally {
          detach.abort();
        }
      })();
      for await (const event of this.withKeepalive(events)) yield { event };
      if (inputError !== undefined) throw inputError;
    } finally {
      ctx.signal.removeEventListener("abort", onCancel);
      detach.abort();
    }
  }

  /** writeUnlessExited drops input racing with the exit: the viewer gets exit, not an error. */
  private writeUnlessExited(ptyId: string, data: Uint8Array): void {
    try {
      this.ptys.write(ptyId, data);
    } catch (err) {
      if (!(err instanceof CoveError && err.reason === "PROCESS_NOT_RUNNING")) throw err;
    }
  }

  private withKeepalive(events: AsyncIterable<PtyViewEvent>): AsyncIterable<PtyEventInit> {
    return withKeepalive(mapEvents(events), this.keepaliveMs, () => ({
      event: { case: "keepalive", value: {} },
    }));
  }
}

async function* mapEvents(events: AsyncIterable<PtyViewEvent>): AsyncGenerator<PtyEventInit> {
  for await (const e of events) yield toProtoEvent(e);
}

function toProtoEvent(e: PtyViewEvent): PtyEventInit {
  switch (e.type) {
    case "attached":
      return {
        event: {
          case: "attached",
          value: {
            ptyId: e.ptyId,
            pid: e.pid,
            size: { cols: e.cols, rows: e.rows },
            bufferStartOffset: BigInt(e.bufferStartOffset),
          },
        },
      };
    case "data":
      return { event: { case: "data", value: { data: e.data, offset: BigInt(e.offset) } } };
    case "resized":
      return { event: { case: "resized", value: { cols: e.cols, rows: e.rows } } };
    case "exit":
      return {
        event: {
          case: "exit",
          value: {
            reason: exitReasons[e.reason],
            exitCode: e.exitCode,
            signal: e.signal,
            outputEndOffset: BigInt(e.outputEndOffset),
          },
        },
      };
  }
}

function toOffset(offset: bigint | undefined): number | undefined {
  return offset === undefined ? undefined : Number(offset);
}

/** createPtyModule mounts PtyService; close kills every PTY. */
export function createPtyModule(ctx: DaemonContext): ServiceModule {
  const ptys = new PtyManager(ctx, readSandboxEnv(ctx.config.sandboxEnvFile));
  return {
    service: PtyService,
    impl: new PtyHandler(ptys, ctx.config.limits.keepaliveMs),
    close: () => ptys.close(),
  };
}
