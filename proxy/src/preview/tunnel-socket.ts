import { Duplex } from "node:stream";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { CoveError, type ErrorCode, type Logger, parseErrorReasonName } from "@cove/common";
import {
  PortService,
  type TunnelRequestSchema,
} from "@cove/gen-ts/cove/toolbox/v1/port_service_pb.js";
import { ErrorInfoSchema } from "@cove/gen-ts/google/rpc/error_details_pb.js";

/** Largest data frame sent to the daemon; its limit is 1 MiB, 256 KiB keeps frames moving. */
const MAX_FRAME_BYTES = 256 * 1024;

/** Where a tunnel goes: the runner's gateway and the sandbox behind it. */
export interface TunnelTarget {
  /** The runner's toolbox gateway, e.g. http://10.0.0.7:3003. */
  gatewayUrl: string;
  /** The sandbox whose daemon dials the port. */
  sandboxId: string;
}

/** Options for createTunnelDialer. */
export interface TunnelDialerOptions {
  /** The runners' shared gateway secret (header cove-gateway-token). */
  gatewayToken: string;
  /** Where the dialer logs. */
  logger: Logger;
  /** How long the daemon may take to connect to the port. Default 5 s. */
  connectTimeoutMs?: number;
}

/** TunnelDialer opens byte streams to ports inside sandboxes, through their daemons. */
export interface TunnelDialer {
  /**
   * open connects to the port through PortService.Tunnel and resolves once the daemon has
   * connected (TunnelOpened), or rejects with a CoveError: UNAVAILABLE (reason PORT_CLOSED)
   * when nothing listens there, or the gateway's own refusal.
   */
  open(target: TunnelTarget, port: number): Promise<Duplex>;
  /** close forgets the transports (their sessions close when idle). */
  close(): void;
}

/**
 * createTunnelDialer makes the one way previews reach a sandbox: a bidirectional
 * PortService.Tunnel call to the sandbox's daemon, through the runner gateway the edge named.
 * The proxy never opens a TCP connection to anything a request names; the daemon dials
 * 127.0.0.1:<port> inside the sandbox.
 */
export function createTunnelDialer(options: TunnelDialerOptions): TunnelDialer {
  const transports = new Map<string, Transport>();
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000;

  const transportFor = (gatewayUrl: string): Transport => {
    const origin = new URL(gatewayUrl).origin;
    let transport = transports.get(origin);
    if (!transport) {
      transport = createGrpcTransport({ baseUrl: origin });
      transports.set(origin, transport);
    }
    return transport;
  };

  return {
    async open(target, port) {
      const socket = new TunnelSocket();
      const client = createClient(PortService, transportFor(target.gatewayUrl));
      const responses = client.tunnel(socket.requests(port, connectTimeoutMs), {
        headers: {
          "cove-gateway-token": options.gatewayToken,
          "cove-sandbox-id": target.sandboxId,
        },
        signal: socket.abort.signal,
      });
      await socket.run(responses, target.sandboxId, port);
      return socket;
    },
    close() {
      transports.clear();
    },
  };
}

type TunnelRequestInit = MessageInitShape<typeof TunnelRequestSchema>;

/**
 * TunnelSocket is a Duplex over one PortService.Tunnel call: what is written becomes data
 * messages (one in flight at a time, so the call's flow control pushes back on the writer),
 * what the app sends is pushed as it arrives (pausing the call while the reader is full),
 * end() half-closes the request stream (the app sees EOF), and destroy() cancels the call.
 * It offers the few net.Socket methods an HTTP client calls.
 */
class TunnelSocket extends Duplex {
  /** Cancels the call when the socket is destroyed. */
  readonly abort = new AbortController();
  private pending: { chunk: Buffer; done: (err?: Error | null) => void } | undefined;
  private ending = false;
  private wakeWriter: (() => void) | undefined;
  private wakeReader: (() => void) | undefined;

  constructor() {
    super({ allowHalfOpen: true });
  }

  /** requests yields open, then each written chunk, and returns on end(). */
  async *requests(port: number, connectTimeoutMs: number): AsyncGenerator<TunnelRequestInit> {
    yield {
      message: {
        case: "open",
        value: {
          port,
          connectTimeout: {
            seconds: BigInt(Math.floor(connectTimeoutMs / 1000)),
            nanos: (connectTimeoutMs % 1000) * 1e6,
          },
        },
      },
    };
    for (;;) {
      while (!this.pending && !this.ending && !this.abort.signal.aborted) {
        await new Promise<void>((resolve) => {
          this.wakeWriter = resolve;
        });
      }
      const pending = this.pending;
      if (!pending) return;
      this.pending = undefined;
      for (let at = 0; at < pending.chunk.length; at += MAX_FRAME_BYTES) {
        yield {
          message: { case: "data", value: pending.chunk.subarray(at, at + MAX_FRAME_BYTES) },
        };
      }
      pending.done();
    }
  }

  /** run waits for the tunnel to open, then relays the app's bytes in the background. */
  run(
    responses: AsyncIterable<{ event?: { event: { case: string | undefined; value?: unknown } } }>,
    sandboxId: string,
    port: number,
  ): Promise<void> {
    return new Promise((resolve, reject) => {
      let opened = false;
      const relay = async () => {
        try {
          for await (const res of responses) {
            const event = res.event?.event;
            if (event?.case === "opened") {
              opened = true;
              resolve();
            } else if (event?.case === "data") {
              if (!this.push(Buffer.from(event.value as Uint8Array))) {
                await new Promise<void>((wake) => {
                  this.wakeReader = wake;
                });
              }
            } else if (event?.case === "eof") {
              this.push(null);
            }
          }
          if (!opened) throw new Error("the tunnel ended before it opened");
          this.push(null);
        } catch (err) {
          const error = tunnelError(err, sandboxId, port);
          if (!opened) reject(error);
          else this.destroy(error);
        }
      };
      void relay();
    });
  }

  override _read(): void {
    const wake = this.wakeReader;
    this.wakeReader = undefined;
    wake?.();
  }

  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    done: (err?: Error | null) => void,
  ): void {
    this.pending = { chunk, done };
    this.wakeWriter?.();
  }

  override _final(done: (err?: Error | null) => void): void {
    this.ending = true;
    this.wakeWriter?.();
    done();
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.abort.abort();
    this.wakeWriter?.();
    this._read();
    done(err);
  }

  /** setTimeout is accepted for net.Socket compatibility; idle limits live elsewhere. */
  setTimeout(_ms: number, _callback?: () => void): this {
    return this;
  }

  /** setNoDelay is accepted for net.Socket compatibility. */
  setNoDelay(_noDelay?: boolean): this {
    return this;
  }

  /** setKeepAlive is accepted for net.Socket compatibility. */
  setKeepAlive(_enable?: boolean, _delay?: number): this {
    return this;
  }

  /** ref is accepted for net.Socket compatibility. */
  ref(): this {
    return this;
  }

  /** unref is accepted for net.Socket compatibility. */
  unref(): this {
    return this;
  }
}

const codeNames: Partial<Record<Code, ErrorCode>> = {
  [Code.InvalidArgument]: "invalidArgument",
  [Code.NotFound]: "notFound",
  [Code.FailedPrecondition]: "failedPrecondition",
  [Code.ResourceExhausted]: "resourceExhausted",
  [Code.PermissionDenied]: "permissionDenied",
  [Code.Unauthenticated]: "unavailable", // the gateway refused the proxy: not the user's fault
  [Code.Unavailable]: "unavailable",
  [Code.DeadlineExceeded]: "unavailable",
};

/** tunnelError says why a tunnel failed, for the preview's error page. */
function tunnelError(err: unknown, sandboxId: string, port: number): CoveError {
  if (err instanceof CoveError) return err;
  const connect = ConnectError.from(err);
  const reason = connect.findDetails(ErrorInfoSchema)[0]?.reason;
  if (reason === "PORT_CLOSED") {
    return new CoveError(
      "unavailable",
      "PORT_CLOSED",
      `port ${port} in sandbox ${sandboxId} is not listening: start a server on 0.0.0.0:${port} or 127.0.0.1:${port} inside the sandbox`,
      { sandboxId, port: String(port) },
    );
  }
  const known = parseErrorReasonName(reason) ?? "DAEMON_UNAVAILABLE";
  return new CoveError(
    codeNames[connect.code] ?? "unavailable",
    known,
    `sandbox ${sandboxId}: the connection to port ${port} failed (${connect.rawMessage})`,
    { sandboxId, port: String(port) },
  );
}
