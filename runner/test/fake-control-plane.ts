import type { MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, timestampNow } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError } from "@connectrpc/connect";
import { AsyncQueue, type GrpcServer, startGrpcServer } from "@cove/common";
import type {
  CommandProgress,
  CommandResult,
  RunnerCommandSchema,
  RunnerHello,
  SandboxReport,
} from "@cove/gen-ts/cove/runner/v1/runner_pb.js";
import {
  type ConnectRequest,
  type ConnectResponseSchema,
  RunnerService,
} from "@cove/gen-ts/cove/runner/v1/runner_service_pb.js";

type Outbound = MessageInitShape<typeof ConnectResponseSchema>;

/**
 * FakeControlPlane stands in for the API server in runner tests: a real Connect server that
 * accepts RunnerService.Connect, records what the runner says, and sends commands on demand.
 */
export class FakeControlPlane {
  /** Every hello received, in order (one per connection). */
  readonly hellos: RunnerHello[] = [];
  /** Every state report received. */
  readonly reports: SandboxReport[] = [];
  /** Acks received, by command id (count). */
  readonly acks = new Map<string, number>();
  /** Results received, by command id (last one wins; `resultCounts` counts them). */
  readonly results = new Map<string, CommandResult>();
  /** How many results arrived per command id. */
  readonly resultCounts = new Map<string, number>();
  /** Progress messages received, in order. */
  readonly progress: CommandProgress[] = [];
  /** Heartbeats received. */
  heartbeats = 0;
  private server: GrpcServer | undefined;
  private current: AsyncQueue<Outbound> | undefined;
  private waiters: Array<() => void> = [];

  constructor(
    private readonly token: string,
    private readonly heartbeatMs = 200,
  ) {}

  /** The URL the runner dials. */
  get url(): string {
    if (!this.server) throw new Error("not started");
    return this.server.url;
  }

  /** start listens on 127.0.0.1 (port 0 picks a free one; pass the old port to restart in place). */
  async start(port = 0): Promise<void> {
    this.server = await startGrpcServer(
      {
        services: [RunnerService],
        routes: (router) =>
          router.service(RunnerService, {
            connect: (requests, ctx) => {
              if (ctx.requestHeader.get("authorization") !== `Bearer ${this.token}`) {
                throw new ConnectError("bad runner token", Code.Unauthenticated);
              }
              return this.session(requests);
            },
          }),
      },
      { host: "127.0.0.1", port },
    );
  }

  /** port is the listening port (for restarting on the same one). */
  get port(): number {
    const address = this.server?.address;
    if (!address || !("port" in address)) throw new Error("not listening on TCP");
    return address.port;
  }

  /** kill closes the server and every stream at once, like a crashed API server. */
  async kill(): Promise<void> {
    this.current?.fail(new ConnectError("server going away", Code.Unavailable));
    await this.server?.close(0);
    this.server = undefined;
    this.current = undefined;
  }

  /** send delivers a command on the current stream (call connected() first). */
  send(command: MessageInitShape<typeof RunnerCommandSchema>): void {
    if (!this.current) throw new Error("no runner connected");
    this.current.push({
      message: { case: "command", value: { issueTime: timestampNow(), ...command } },
    });
  }

  /** cancel asks the runner to cancel a command. */
  cancel(commandId: string): void {
    this.current?.push({ message: { case: "cancelCommand", value: { commandId } } });
  }

  /** waitFor resolves once `check` holds, re-checking on every message (times out). */
  async waitFor(check: () => boolean, timeoutMs = 30_000, what = "condition"): Promise<void> {
    const until = Date.now() + timeoutMs;
    while (!check()) {
      const left = until - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(timer);
          resolve();
        });
      });
    }
  }

  /** result waits for a command's result. */
  async result(commandId: string, timeoutMs = 60_000): Promise<CommandResult> {
    await this.waitFor(() => this.results.has(commandId), timeoutMs, `the result of ${commandId}`);
    return this.results.get(commandId) as CommandResult;
  }

  /** connections waits until at least n hellos arrived. */
  async connections(n: number, timeoutMs = 30_000): Promise<void> {
    await this.waitFor(
      () => this.hellos.length >= n && this.current !== undefined,
      timeoutMs,
      `${n} connections`,
    );
  }

  private session(requests: AsyncIterable<ConnectRequest>): AsyncIterable<Outbound> {
    const queue = new AsyncQueue<Outbound>();
    this.current?.close();
    this.current = queue;
    // Like the real server, ping every interval: a runner that hears nothing for three
    // intervals gives the stream up and reconnects.
    let pings = 0;
    const pinger = setInterval(() => {
      queue.push({
        message: { case: "ping", value: { pingId: `p${++pings}`, serverTime: timestampNow() } },
      });
    }, this.heartbeatMs);
    void (async () => {
      try {
        for await (const req of requests) this.receive(req, queue);
      } catch {
        // the runner went away
      }
      clearInterval(pinger);
      if (this.current === queue) this.current = undefined;
      queue.close();
      this.wake();
    })();
    return queue;
  }

  private receive(req: ConnectRequest, queue: AsyncQueue<Outbound>): void {
    const m = req.message;
    switch (m.case) {
      case "hello":
        this.hellos.push(m.value);
        queue.push({
          message: {
            case: "helloAck",
            value: {
              runnerId: m.value.runnerId,
              serverTime: timestampNow(),
              heartbeatInterval: durationFromMs(this.heartbeatMs),
              maxConcurrentCommands: 8,
            },
          },
        });
        break;
      case "heartbeat":
        this.heartbeats++;
        break;
      case "ack":
        this.acks.set(m.value.commandId, (this.acks.get(m.value.commandId) ?? 0) + 1);
        break;
      case "result":
        this.results.set(m.value.commandId, m.value);
        this.resultCounts.set(
          m.value.commandId,
          (this.resultCounts.get(m.value.commandId) ?? 0) + 1,
        );
        break;
      case "sandboxState":
        this.reports.push(m.value);
        break;
      case "progress":
        this.progress.push(m.value);
        break;
    }
    this.wake();
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }
}
