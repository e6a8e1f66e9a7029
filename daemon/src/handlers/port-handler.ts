import type { MessageInitShape } from "@bufbuild/protobuf";
import { type Duration, durationMs } from "@bufbuild/protobuf/wkt";
import type { HandlerContext, ServiceImpl } from "@connectrpc/connect";
import { invalidArgument, withKeepalive } from "@cove/common";
import {
  type CloseTunnelRequest,
  type OpenTunnelRequest,
  PortService,
  type SendTunnelDataRequest,
  type TunnelEventSchema,
  type TunnelRequest,
  type WaitForPortRequest,
} from "@cove/gen-ts/cove/toolbox/v1/port_service_pb.js";
import type { DaemonContext, ServiceModule } from "../context.js";
import { type ListeningSocket, listListeningPorts } from "../domain/ports.js";
import {
  CONNECT_TIMEOUT_MS,
  checkFrame,
  type Tunnel,
  TunnelRegistry,
  validatePort,
  validateTimeout,
  WAIT_FOR_PORT_MS,
  waitForPort,
} from "../domain/tunnel.js";

type TunnelEventInit = MessageInitShape<typeof TunnelEventSchema>;

/** PortHandler serves cove.toolbox.v1.PortService: listening ports and TCP tunnels. */
export class PortHandler implements ServiceImpl<typeof PortService> {
  constructor(
    private readonly tunnels: TunnelRegistry,
    private readonly keepaliveMs: number,
  ) {}

  async listPorts() {
    return { ports: (await listListeningPorts()).map(toListeningPort) };
  }

  async waitForPort(req: WaitForPortRequest, ctx: HandlerContext) {
    const port = validatePort(req.port);
    const timeoutMs = validateTimeout(toMs(req.timeout), WAIT_FOR_PORT_MS, "timeout", true);
    const found = await waitForPort(port, timeoutMs, ctx.signal);
    return { port: found === undefined ? undefined : toListeningPort(found) };
  }

  async *tunnel(reqs: AsyncIterable<TunnelRequest>, ctx: HandlerContext) {
    const input = reqs[Symbol.asyncIterator]();
    const first = await input.next();
    if (first.done || first.value.message.case !== "open") {
      throw invalidArgument("open", "the first message must be open");
    }
    const open = first.value.message.value;
    const port = validatePort(open.port, "open.port");
    const timeoutMs = validateTimeout(
      toMs(open.connectTimeout),
      CONNECT_TIMEOUT_MS,
      "open.connect_timeout",
    );
    const tunnel = await this.tunnels.open(port, timeoutMs, ctx.signal);
    let inputError: unknown;
    // Client → app: data until the client half-closes, which shuts down the app's read side.
    void (async () => {
      try {
        for (;;) {
          const next = await input.next();
          if (next.done) break;
          const message = next.value.message;
          if (message.case === "data") await tunnel.write(message.value);
          else if (message.case === "open") {
            throw invalidArgument("open", "only the first message may be open");
          }
        }
        tunnel.closeWrite();
      } catch (err) {
        inputError = err;
        tunnel.abort();
      }
    })();
    try {
      for await (const event of this.events(tunnel, ctx.signal)) yield { event };
      if (inputError !== undefined && !ctx.signal.aborted) throw inputError;
    } finally {
      this.tunnels.release(tunnel);
    }
  }

  async *openTunnel(req: OpenTunnelRequest, ctx: HandlerContext) {
    const port = validatePort(req.port);
    const timeoutMs = validateTimeout(
      toMs(req.connectTimeout),
      CONNECT_TIMEOUT_MS,
      "connect_timeout",
    );
    const tunnel = await this.tunnels.open(port, timeoutMs, ctx.signal);
    try {
      for await (const event of this.events(tunnel, ctx.signal)) yield { event };
    } finally {
      this.tunnels.release(tunnel);
    }
  }

  async sendTunnelData(req: SendTunnelDataRequest) {
    checkFrame(req.data);
    await this.tunnels.get(req.tunnelId).write(req.data);
    return {};
  }

  async closeTunnel(req: CloseTunnelRequest) {
    this.tunnels.close(req.tunnelId, req.abort);
    return {};
  }

  /** events is opened, then the app's data and eof, with keepalives in quiet periods. */
  private events(tunnel: Tunnel, signal: AbortSignal): AsyncIterable<TunnelEventInit> {
    async function* all(): AsyncGenerator<TunnelEventInit> {
      yield {
        event: {
          case: "opened",
          value: { tunnelId: tunnel.id, remoteAddress: tunnel.remoteAddress },
        },
      };
      for await (const e of tunnel.events(signal)) {
        yield e.type === "data"
          ? { event: { case: "data", value: e.data } }
          : { event: { case: "eof", value: {} } };
      }
    }
    return withKeepalive(all(), this.keepaliveMs, () => ({
      event: { case: "keepalive", value: {} },
    }));
  }
}

function toListeningPort(s: ListeningSocket) {
  return { port: s.port, address: s.address, pid: s.pid, processName: s.processName };
}

function toMs(duration: Duration | undefined): number | undefined {
  return duration === undefined ? undefined : durationMs(duration);
}

/** createPortModule mounts PortService; close closes every tunnel. */
export function createPortModule(ctx: DaemonContext): ServiceModule {
  const tunnels = new TunnelRegistry();
  return {
    service: PortService,
    impl: new PortHandler(tunnels, ctx.config.limits.keepaliveMs),
    close: async () => tunnels.closeAll(),
  };
}
