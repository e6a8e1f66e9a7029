import * as os from "node:os";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampNow } from "@bufbuild/protobuf/wkt";
import { createClient, type Transport } from "@connectrpc/connect";
import { AsyncQueue, type Logger } from "@cove/common";
import type { ConnectRequestSchema } from "@cove/gen-ts/cove/runner/v1/runner_service_pb.js";
import { RunnerService } from "@cove/gen-ts/cove/runner/v1/runner_service_pb.js";
import type { SandboxDriver } from "../domain/sandbox-driver.js";
import { type CommandExecutor, type ExecutorOutput, toReport } from "./command-executor.js";

type Outbound = MessageInitShape<typeof ConnectRequestSchema>;

/** Who this runner is, as its hello says. */
export interface RunnerIdentity {
  /** Runner id. */
  runnerId: string;
  /** Display name. */
  name: string;
  /** Version of the runner software. */
  version: string;
  /** Region label. */
  region: string;
  /** Capacity offered to the scheduler. */
  capacity: { cpuMillicores: number; memoryMib: number; diskMib: number; maxSandboxes: number };
  /** The toolbox gateway's URL for the proxy. */
  toolboxGatewayUrl: string;
}

/** Timings of the stream; the server's hello_ack overrides the heartbeat interval. */
export interface ControlStreamTimings {
  /** Heartbeat interval until the server says otherwise, ms. Default 10 s. */
  heartbeatMs: number;
  /** First reconnect delay, ms (doubles up to maxBackoffMs, with jitter). Default 250 ms. */
  minBackoffMs: number;
  /** Longest reconnect delay, ms. Default 30 s. */
  maxBackoffMs: number;
}

const defaultTimings: ControlStreamTimings = {
  heartbeatMs: 10_000,
  minBackoffMs: 250,
  maxBackoffMs: 30_000,
};

/**
 * ControlStream keeps the runner's one bidirectional stream to the control plane alive: it
 * says hello with its full inventory on every (re)connect, heartbeats with usage, hands
 * commands to the executor and sends back acks, results and state reports. When the stream
 * drops it reconnects with jittered backoff; results not yet delivered are resent. It never
 * touches a sandbox because a connection dropped.
 */
export class ControlStream {
  private queue: AsyncQueue<Outbound> | undefined;
  private readonly undelivered = new Map<string, Outbound>();
  private stopped = false;
  private abort: AbortController | undefined;
  private heartbeatMs: number;
  private sequence = 0n;
  private connectedOnce: Promise<void>;
  private markConnected!: () => void;
  /** How many times the stream has (re)connected; for observability and tests. */
  connections = 0;

  constructor(
    private readonly transport: Transport,
    private readonly identity: RunnerIdentity,
    private readonly driver: SandboxDriver,
    private readonly executor: CommandExecutor,
    private readonly logger: Logger,
    private readonly timings: ControlStreamTimings = defaultTimings,
    /** The images the runner holds, for the hello (none reported when absent). */
    private readonly images?: () => Promise<
      Array<{ image: string; digest: string; sizeMib: number }>
    >,
  ) {
    this.heartbeatMs = timings.heartbeatMs;
    this.connectedOnce = new Promise((resolve) => {
      this.markConnected = resolve;
    });
  }

  /** deliver is the executor's output sink. */
  deliver(output: ExecutorOutput): void {
    let message: Outbound;
    switch (output.kind) {
      case "ack":
        message = { message: { case: "ack", value: { commandId: output.commandId } } };
        break;
      case "report":
        message = { message: { case: "sandboxState", value: output.report } };
        break;
      case "progress":
        message = { message: { case: "progress", value: output.progress } };
        break;
      case "result":
        message = { message: { case: "result", value: output.result } };
        // Kept until a later hello proves the stream it went out on was alive long enough.
        this.undelivered.set(output.result.commandId ?? "", message);
        break;
    }
    this.queue?.push(message);
  }

  /** run connects and keeps reconnecting until stop(); resolves after stop. */
  async run(): Promise<void> {
    let attempt = 0;
    while (!this.stopped) {
      const started = Date.now();
      try {
        await this.session();
      } catch (err) {
        if (!this.stopped)
          this.logger.warn("control stream ended", { err: String((err as Error)?.message ?? err) });
      }
      if (this.stopped) break;
      // A stream that lived a while resets the backoff.
      attempt = Date.now() - started > 10_000 ? 0 : attempt + 1;
      const cap = Math.min(
        this.timings.maxBackoffMs,
        this.timings.minBackoffMs * 2 ** Math.min(attempt, 10),
      );
      const delay = cap / 2 + Math.random() * (cap / 2);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  /** connected resolves after the first hello_ack. */
  connected(): Promise<void> {
    return this.connectedOnce;
  }

  /** stop ends the stream and the reconnect loop. Sandboxes keep running. */
  stop(): void {
    this.stopped = true;
    this.abort?.abort();
    this.queue?.close();
  }

  private async session(): Promise<void> {
    const queue = new AsyncQueue<Outbound>();
    const abort = new AbortController();
    this.queue = queue;
    this.abort = abort;
    const inventory = await this.driver.list();
    queue.push({
      message: {
        case: "hello",
        value: {
          ...this.identity,
          runtimes: await this.driver.runtimes(),
          images: this.images
            ? (await this.images().catch(() => [])).map(({ image, digest, sizeMib }) => ({
                image,
                digest,
                sizeMib,
              }))
            : [],
          sandboxes: inventory.map(toReport),
          runningCommandIds: this.executor.runningCommandIds(),
        },
      },
    });
    // Results the previous stream may have lost go out again; the server applies them idempotently.
    for (const message of this.undelivered.values()) queue.push(message);
    this.undelivered.clear();

    const client = createClient(RunnerService, this.transport);
    let lastHeard = Date.now();
    const beat = () => {
      if (Date.now() - lastHeard > 3 * this.heartbeatMs) {
        this.logger.warn("control plane silent for three heartbeat intervals; reconnecting");
        abort.abort();
        return;
      }
      void this.heartbeat(queue, "");
    };
    let heartbeat = setInterval(beat, this.heartbeatMs);
    try {
      for await (const res of client.connect(queue, { signal: abort.signal })) {
        lastHeard = Date.now();
        const m = res.message;
        switch (m.case) {
          case "helloAck": {
            this.connections++;
            const interval = m.value.heartbeatInterval;
            if (interval) {
              const ms = Number(interval.seconds) * 1000 + interval.nanos / 1e6;
              if (ms >= 100 && ms !== this.heartbeatMs) {
                this.heartbeatMs = ms;
                clearInterval(heartbeat);
                heartbeat = setInterval(beat, ms);
              }
            }
            if (m.value.maxConcurrentCommands > 0)
              this.executor.maxConcurrent = m.value.maxConcurrentCommands;
            this.logger.info("connected to the control plane", { runnerId: m.value.runnerId });
            this.markConnected();
            break;
          }
          case "command":
            this.executor.handle(m.value);
            break;
          case "cancelCommand":
            this.executor.cancel(m.value.commandId);
            break;
          case "ping":
            void this.heartbeat(queue, m.value.pingId);
            break;
        }
      }
    } finally {
      clearInterval(heartbeat);
      queue.close();
      if (this.queue === queue) this.queue = undefined;
    }
  }

  private async heartbeat(queue: AsyncQueue<Outbound>, pingId: string): Promise<void> {
    const inventory = await this.driver.list().catch(() => []);
    const memory = os.totalmem() - os.freemem();
    this.sequence++;
    queue.push({
      message: {
        case: "heartbeat",
        value: {
          sequence: this.sequence,
          sendTime: timestampNow(),
          pingId,
          metrics: {
            cpuUsedMillicores: Math.round((os.loadavg()[0] ?? 0) * 1000),
            memoryUsedMib: Math.round(memory / 1024 / 1024),
            sandboxes: inventory.length,
            startedSandboxes: inventory.filter((s) => s.state === "started").length,
            runningCommands: this.executor.runningCommandIds().length,
          },
        },
      },
    });
  }
}
