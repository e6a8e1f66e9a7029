import { fromBinary, type MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs, timestampDate, timestampNow } from "@bufbuild/protobuf/wkt";
import { AsyncQueue, aborted, CoveError, errorReasonName, type Logger } from "@cove/common";
import {
  type CancelCommandSchema,
  type CommandAck,
  type CommandProgress,
  type CommandResult,
  type HelloAckSchema,
  type PingSchema,
  type RunnerCommand,
  RunnerCommandSchema,
  type RunnerHeartbeat,
  type RunnerHello,
  type SandboxReport,
} from "@cove/gen-ts/cove/runner/v1/runner_pb.js";
import { SandboxState } from "@cove/gen-ts/cove/sandbox/v1/sandbox_pb.js";
import type { Knex } from "knex";
import {
  claimCommands,
  FINISHED_COMMAND_STATES,
  findCommand,
  finishCommand,
  markAcked,
} from "../domain/outbox/runner-commands.js";
import {
  DEFAULT_ORPHAN_GRACE_MS,
  type OrphanEntry,
  OrphanReaper,
} from "../domain/runner/orphan-reaper.js";
import {
  DEFAULT_HEARTBEAT_INTERVAL_MS,
  HEARTBEAT_MISSES_ALLOWED,
  isValidRunnerId,
  type RunnerMetricsData,
  RunnerRegistry,
  type StreamStamp,
} from "../domain/runner/registry.js";
import type {
  CommandDispatcher,
  CommandOutcome,
  OutboxCommand,
  SandboxReportData,
  SandboxStateName,
  SandboxStateSink,
} from "../domain/sandbox/ports.js";
import { newId, randomId } from "../ids.js";
import type { EventBus, LockManager } from "../shared/shared-state.js";

/** One message from a runner: the ConnectRequest oneof, decoded by the handler. */
export type RunnerInbound =
  | { case: "hello"; value: RunnerHello }
  | { case: "heartbeat"; value: RunnerHeartbeat }
  | { case: "sandboxState"; value: SandboxReport }
  | { case: "ack"; value: CommandAck }
  | { case: "progress"; value: CommandProgress }
  | { case: "result"; value: CommandResult }
  | { case: undefined; value?: undefined };

/** One message to a runner: the ConnectResponse oneof, encoded by the handler. */
export type RunnerOutbound =
  | { case: "helloAck"; value: MessageInitShape<typeof HelloAckSchema> }
  | { case: "command"; value: RunnerCommand }
  | { case: "cancelCommand"; value: MessageInitShape<typeof CancelCommandSchema> }
  | { case: "ping"; value: MessageInitShape<typeof PingSchema> };

/** Default number of commands kept in flight per runner (HelloAck.max_concurrent_commands). */
export const DEFAULT_MAX_CONCURRENT_COMMANDS = 16;

/** Default interval of the outbox poll that backs up notify(), ms. */
export const DEFAULT_COMMAND_POLL_MS = 1_000;

/** Longest interval between two heartbeat writes of one runner, ms. */
const HEARTBEAT_WRITE_MAX_MS = 5_000;

/** Longest error message kept from a runner, characters. */
const MAX_ERROR_MESSAGE = 4096;
/** Longest sandbox report message kept from a runner, characters. */
const MAX_REPORT_MESSAGE = 1024;

/** runnerChannel is the EventBus channel of one runner (notify and supersede events). */
export function runnerChannel(runnerId: string): string {
  return `runner:${runnerId}`;
}

/** Events on a runner's channel. */
type RunnerEvent =
  | { type: "notify" }
  | { type: "cancel"; commandId: string }
  | { type: "superseded"; streamId: string; connectTimeMs: number };

/** What the hub is built from. */
export interface RunnerHubDeps {
  /** Postgres: runners and the runner_commands outbox. */
  db: Knex;
  /** The lifecycle side that records what runners report. */
  sink: SandboxStateSink;
  /** Pub/sub shared by every replica: notify and supersede events travel on `runner:<id>`. */
  events: EventBus;
  /** Locks shared by every replica: a result is applied by one holder at a time. */
  locks: LockManager;
  /** Logger. */
  logger: Logger;
  /** This replica's id, stored as runners.connected_server. Default a fresh "srv_…" id. */
  serverId?: string;
  /** Version sent in hello_ack. Default "0.1.0". */
  serverVersion?: string;
  /** Heartbeat interval given to runners, ms; also the ping interval. Default 10 s. */
  heartbeatIntervalMs?: number;
  /** How long an orphaned container lives before it is destroyed, ms. Default 10 min. */
  orphanGracePeriodMs?: number;
  /** Commands in flight per runner. Default 16. */
  maxConcurrentCommands?: number;
  /** Outbox poll interval per connected runner, ms. Default 1 s. */
  pollIntervalMs?: number;
  /** How often the orphan reaper and the silent-runner check run, ms. Default min(grace/4, 30 s). */
  sweepIntervalMs?: number;
}

/**
 * RunnerHub is the server's side of RunnerService.Connect. It registers runners on hello,
 * keeps exactly one stream per runner (a newer stream closes the older with ABORTED
 * RUNNER_SUPERSEDED, across replicas through the EventBus), reconciles inventories, delivers
 * outbox commands at least once in creation order (redelivering everything without a result on
 * every connect), records acks and results exactly once into the SandboxStateSink, forwards
 * state reports, records heartbeats, pings and closes idle streams, and reaps orphans after
 * their grace period. It implements CommandDispatcher: notify() reaches the replica holding
 * the runner's stream.
 */
export class RunnerHub implements CommandDispatcher {
  /** The runners table, as the hub uses it (shared with the admin handler if wanted). */
  readonly registry: RunnerRegistry;
  /** This replica's id. */
  readonly serverId: string;
  /** Heartbeat (and ping) interval, ms. */
  readonly heartbeatMs: number;
  /** Commands kept in flight per runner. */
  readonly maxConcurrent: number;
  /** Outbox poll interval per stream, ms. */
  readonly pollMs: number;
  /** Version sent in hello_ack. */
  readonly serverVersion: string;
  /** Orphan grace period, ms. */
  readonly orphanGraceMs: number;
  private readonly reaper: OrphanReaper;
  private readonly sessions = new Map<string, RunnerSession>();
  private readonly closing = new Set<Promise<void>>();
  private sweepTimer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(readonly deps: RunnerHubDeps) {
    this.serverId = deps.serverId ?? newId("srv");
    this.serverVersion = deps.serverVersion ?? "0.1.0";
    this.heartbeatMs = deps.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
    this.orphanGraceMs = deps.orphanGracePeriodMs ?? DEFAULT_ORPHAN_GRACE_MS;
    this.maxConcurrent = deps.maxConcurrentCommands ?? DEFAULT_MAX_CONCURRENT_COMMANDS;
    this.pollMs = deps.pollIntervalMs ?? DEFAULT_COMMAND_POLL_MS;
    this.registry = new RunnerRegistry(deps.db, { heartbeatIntervalMs: this.heartbeatMs });
    this.reaper = new OrphanReaper({
      db: deps.db,
      logger: deps.logger,
      gracePeriodMs: this.orphanGraceMs,
      isConnectedHere: (runnerId) => this.sessions.has(runnerId),
      onEnqueued: (runnerId) => this.notify(runnerId),
    });
  }

  /** start runs the orphan reaper and the silent-runner check in the background. */
  start(): void {
    if (this.sweepTimer || this.stopped) return;
    const every =
      this.deps.sweepIntervalMs ?? Math.max(50, Math.min(this.orphanGraceMs / 4, 30_000));
    this.sweepTimer = setInterval(() => void this.sweep(), every);
    this.sweepTimer.unref();
  }

  /**
   * stop closes every stream with UNAVAILABLE (runners reconnect to another replica), marks
   * their runners DISCONNECTED and stops the background work.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    for (const session of [...this.sessions.values()]) {
      session.shutdown(
        new CoveError(
          "unavailable",
          "RUNNER_UNAVAILABLE",
          "the server is shutting down; reconnect",
          {
            runnerId: session.runnerId,
          },
        ),
      );
    }
    await Promise.allSettled([...this.closing]);
    this.reaper.clear();
  }

  /** notify tells whichever replica holds the runner's stream to look at the outbox now. */
  notify(runnerId: string): void {
    this.sessions.get(runnerId)?.wake();
    const event: RunnerEvent = { type: "notify" };
    this.deps.events.publish(runnerChannel(runnerId), event).catch((err: unknown) => {
      // The poll still delivers; notify is only a hint.
      this.deps.logger.warn("runner notify not published", { runnerId, err });
    });
  }

  /**
   * cancel asks the runner to abort a command, wherever its stream is held. The runner answers
   * with a result as usual (COMMAND_CANCELLED, or the real one if the command already ended).
   */
  cancel(runnerId: string, commandId: string): void {
    const event: RunnerEvent = { type: "cancel", commandId };
    this.deps.events.publish(runnerChannel(runnerId), event).catch((err: unknown) => {
      this.deps.logger.warn("runner cancel not published", { runnerId, commandId, err });
    });
  }

  /** connectedRunners lists the runners whose stream this replica holds. */
  connectedRunners(): string[] {
    return [...this.sessions.keys()];
  }

  /** orphans lists the orphaned containers this replica remembers for a runner. */
  orphans(runnerId: string): OrphanEntry[] {
    return this.reaper.orphans(runnerId);
  }

  /** sweep runs the orphan reaper and marks runners that went silent DISCONNECTED. Never throws. */
  async sweep(now = new Date()): Promise<void> {
    await this.reaper.sweep(now);
    try {
      const silent = await this.registry.markSilentDisconnected(now);
      if (silent.length > 0)
        this.deps.logger.warn("runners missed their heartbeats", { runnerIds: silent });
    } catch (err) {
      this.deps.logger.warn("silent-runner check skipped: the database did not answer", { err });
    }
  }

  /**
   * serve runs one Connect stream. `tokenRunnerId` is the runner id bound to the caller's token,
   * or "" for the shared registration token. It yields what to send until the stream ends;
   * errors are CoveErrors (INVALID_ARGUMENT RUNNER_PROTOCOL_VIOLATION, UNAUTHENTICATED
   * RUNNER_TOKEN_INVALID, ABORTED RUNNER_SUPERSEDED, UNAVAILABLE RUNNER_UNAVAILABLE).
   */
  async *serve(
    tokenRunnerId: string,
    inbound: AsyncIterable<RunnerInbound>,
    signal?: AbortSignal,
  ): AsyncGenerator<RunnerOutbound> {
    if (this.stopped)
      throw new CoveError("unavailable", "RUNNER_UNAVAILABLE", "the server is shutting down");
    const iterator = inbound[Symbol.asyncIterator]();
    const first = await this.firstMessage(iterator, signal);
    if (first?.case !== "hello")
      throw protocolViolation("the first message on the stream must be hello");
    const runnerId = resolveRunnerId(tokenRunnerId, first.value.runnerId);
    const session = new RunnerSession(this, runnerId, iterator);
    const finished = session.finished;
    this.closing.add(finished);
    void finished.finally(() => this.closing.delete(finished));
    try {
      await session.open(tokenRunnerId, first.value, signal);
      yield* session.outbound;
    } finally {
      session.shutdown(undefined);
      await finished;
    }
  }

  /** isCurrent says whether `session` is the stream this replica holds for its runner. */
  isCurrent(session: RunnerSession): boolean {
    return this.sessions.get(session.runnerId) === session;
  }

  /** adopt makes `session` its runner's stream here, closing any older one. */
  adopt(session: RunnerSession): void {
    const old = this.sessions.get(session.runnerId);
    this.sessions.set(session.runnerId, session);
    if (old && old !== session) old.shutdown(superseded(session.runnerId));
  }

  /** release forgets `session` if it is still its runner's stream here. */
  release(session: RunnerSession): void {
    if (this.isCurrent(session)) this.sessions.delete(session.runnerId);
  }

  /** trackOrphans hands a reconciliation's orphans to the reaper. */
  trackOrphans(runnerId: string, orphans: string[]): void {
    this.reaper.track(runnerId, orphans);
  }

  /** orphanGone tells the reaper a container went away. */
  orphanGone(runnerId: string, sandboxId: string): void {
    this.reaper.forget(runnerId, sandboxId);
  }

  /** destroyFinished tells the reaper a destroySandbox ended. */
  destroyFinished(runnerId: string, sandboxId: string, ok: boolean): void {
    this.reaper.destroyFinished(runnerId, sandboxId, ok);
  }

  private async firstMessage(
    iterator: AsyncIterator<RunnerInbound>,
    signal: AbortSignal | undefined,
  ): Promise<RunnerInbound | undefined> {
    let timer: NodeJS.Timeout | undefined;
    const limit = HEARTBEAT_MISSES_ALLOWED * this.heartbeatMs;
    const timeout = new Promise<"timeout">((resolve) => {
      timer = setTimeout(() => resolve("timeout"), limit);
    });
    try {
      const next = await Promise.race([
        iterator.next(),
        timeout,
        aborted(signal).then(() => "aborted" as const),
      ]);
      if (next === "timeout")
        throw new CoveError("unavailable", "RUNNER_UNAVAILABLE", `no hello within ${limit} ms`);
      if (next === "aborted") return undefined;
      return next.done ? undefined : next.value;
    } finally {
      clearTimeout(timer);
    }
  }
}

/** One runner's stream on this replica. */
class RunnerSession {
  readonly streamId = randomId(12);
  readonly outbound = new AsyncQueue<RunnerOutbound>();
  readonly finished: Promise<void>;
  private markFinished!: () => void;
  private stamp: StreamStamp | undefined;
  private readonly logger: Logger;
  /** Commands sent on this stream that have no result yet. */
  private readonly sent = new Set<string>();
  /** Commands whose result could not be applied, held back from redelivery until the time. */
  private readonly holdUntil = new Map<string, number>();
  private lastHeard = Date.now();
  private lastHeartbeatWrite = 0;
  private processing = false;
  private dirty = false;
  private pumping = false;
  private closed = false;
  private timers: NodeJS.Timeout[] = [];
  private unsubscribe: (() => Promise<void>) | undefined;
  private holdFailures = new Map<string, number>();

  constructor(
    private readonly hub: RunnerHub,
    readonly runnerId: string,
    private readonly inbound: AsyncIterator<RunnerInbound>,
  ) {
    this.logger = hub.deps.logger.child({ runnerId, streamId: this.streamId });
    this.finished = new Promise((resolve) => {
      this.markFinished = resolve;
    });
  }

  private get db(): Knex {
    return this.hub.deps.db;
  }

  /** open registers the runner, answers hello_ack, reconciles, then starts delivery. */
  async open(tokenRunnerId: string, hello: RunnerHello, signal: AbortSignal | undefined) {
    const stamp: StreamStamp = { serverId: this.hub.serverId, connectTime: new Date() };
    try {
      await this.hub.registry.registerConnection(
        this.runnerId,
        tokenRunnerId,
        {
          name: hello.name,
          version: hello.version,
          region: hello.region,
          capacity: {
            cpuMillicores: hello.capacity?.cpuMillicores ?? 0,
            memoryMib: hello.capacity?.memoryMib ?? 0,
            diskMib: hello.capacity?.diskMib ?? 0,
            maxSandboxes: hello.capacity?.maxSandboxes ?? 0,
          },
          runtimes: hello.runtimes,
          toolboxGatewayUrl: hello.toolboxGatewayUrl,
        },
        stamp,
      );
    } catch (err) {
      if (err instanceof CoveError) throw err;
      this.logger.error("runner not registered: the database did not answer", { err });
      throw new CoveError(
        "unavailable",
        "RUNNER_UNAVAILABLE",
        "the server cannot register the runner now; retry",
        {
          runnerId: this.runnerId,
        },
      );
    }
    this.stamp = stamp;
    if (this.closed) return;
    this.hub.adopt(this);
    if (signal?.aborted) {
      this.shutdown(undefined);
      return;
    }
    signal?.addEventListener("abort", () => this.shutdown(undefined), { once: true });

    try {
      this.unsubscribe = await this.hub.deps.events.subscribe(runnerChannel(this.runnerId), (e) =>
        this.onEvent(e),
      );
    } catch (err) {
      this.logger.warn("runner channel not subscribed; commands arrive by polling only", { err });
    }
    const event: RunnerEvent = {
      type: "superseded",
      streamId: this.streamId,
      connectTimeMs: stamp.connectTime.getTime(),
    };
    this.hub.deps.events.publish(runnerChannel(this.runnerId), event).catch((err: unknown) => {
      this.logger.warn("supersede event not published", { err });
    });
    if (this.closed) return;

    this.outbound.push({
      case: "helloAck",
      value: {
        runnerId: this.runnerId,
        serverVersion: this.hub.serverVersion,
        serverTime: timestampNow(),
        heartbeatInterval: durationFromMs(this.hub.heartbeatMs),
        orphanGracePeriod: durationFromMs(this.hub.orphanGraceMs),
        maxConcurrentCommands: this.hub.maxConcurrent,
      },
    });
    this.logger.info("runner connected", {
      version: hello.version,
      sandboxes: hello.sandboxes.length,
      runningCommands: hello.runningCommandIds.length,
    });

    await this.reconcile(hello.sandboxes);
    if (this.closed) return;

    this.timers.push(setInterval(() => this.tick(), this.hub.heartbeatMs));
    this.timers.push(setInterval(() => this.wake(), this.hub.pollMs));
    this.lastHeard = Date.now();
    void this.read();
    this.wake();
  }

  /** wake asks the delivery loop to look at the outbox. */
  wake(): void {
    if (this.closed || !this.stamp) return;
    this.dirty = true;
    if (this.pumping) return;
    this.pumping = true;
    void this.pump();
  }

  /**
   * shutdown ends the stream: with `error` (sent to the runner) or cleanly. Idempotent; the
   * bookkeeping (DISCONNECTED if still current) finishes in the background (see `finished`).
   */
  shutdown(error: CoveError | undefined): void {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    this.timers = [];
    const wasCurrent = this.hub.isCurrent(this);
    this.hub.release(this);
    if (error) this.outbound.fail(error);
    else this.outbound.close();
    void this.inbound.return?.().catch(() => {});
    void this.cleanup(wasCurrent).finally(() => this.markFinished());
  }

  private async cleanup(wasCurrent: boolean): Promise<void> {
    try {
      await this.unsubscribe?.();
    } catch (err) {
      this.logger.warn("runner channel not unsubscribed", { err });
    }
    if (!wasCurrent || !this.stamp) return;
    try {
      if (await this.hub.registry.markDisconnected(this.runnerId, this.stamp))
        this.logger.info("runner disconnected");
    } catch (err) {
      this.logger.warn("runner not marked disconnected: the database did not answer", { err });
    }
  }

  private onEvent(raw: unknown): void {
    const event = raw as Partial<RunnerEvent> | undefined;
    if (event?.type === "notify") {
      this.wake();
      return;
    }
    if (event?.type === "cancel") {
      const commandId = (event as Extract<RunnerEvent, { type: "cancel" }>).commandId;
      if (!this.closed && typeof commandId === "string" && commandId !== "")
        this.outbound.push({ case: "cancelCommand", value: { commandId } });
      return;
    }
    if (event?.type === "superseded") {
      const e = event as Extract<RunnerEvent, { type: "superseded" }>;
      const mine = this.stamp?.connectTime.getTime() ?? 0;
      if (e.streamId !== this.streamId && e.connectTimeMs >= mine)
        this.shutdown(superseded(this.runnerId));
    }
  }

  private tick(): void {
    if (this.closed) return;
    const limit = HEARTBEAT_MISSES_ALLOWED * this.hub.heartbeatMs;
    if (!this.processing && Date.now() - this.lastHeard > limit) {
      this.logger.warn("runner silent for three heartbeat intervals; closing its stream");
      this.shutdown(
        new CoveError("unavailable", "RUNNER_UNAVAILABLE", `nothing received for ${limit} ms`, {
          runnerId: this.runnerId,
        }),
      );
      return;
    }
    this.outbound.push({
      case: "ping",
      value: { pingId: randomId(10), serverTime: timestampNow() },
    });
  }

  private async reconcile(reports: SandboxReport[]): Promise<void> {
    const inventory: SandboxReportData[] = [];
    for (const report of reports) {
      if (report.sandboxId === "") continue;
      inventory.push(
        toReportData(report) ?? {
          sandboxId: report.sandboxId,
          state: "ERROR",
          errorReason: "",
          errorMessage: "the runner reported no state for this sandbox",
          observeTime: new Date(),
        },
      );
    }
    try {
      const { orphans } = await this.hub.deps.sink.reconcileInventory(this.runnerId, inventory);
      this.hub.trackOrphans(this.runnerId, orphans);
      if (orphans.length > 0) this.logger.info("orphaned containers found", { orphans });
    } catch (err) {
      // Fail closed: no orphans are remembered from an inventory that was not reconciled.
      this.logger.error("inventory not reconciled", { err });
    }
  }

  private async read(): Promise<void> {
    try {
      for (;;) {
        const next = await this.inbound.next();
        if (next.done || this.closed) break;
        this.lastHeard = Date.now();
        this.processing = true;
        try {
          await this.handle(next.value);
        } finally {
          this.processing = false;
          this.lastHeard = Date.now();
        }
      }
      this.shutdown(undefined);
    } catch (err) {
      if (err instanceof CoveError) this.shutdown(err);
      else {
        if (!this.closed) this.logger.info("runner stream broke", { err: String(err) });
        this.shutdown(undefined);
      }
    }
  }

  private async handle(message: RunnerInbound): Promise<void> {
    switch (message.case) {
      case "hello":
        throw protocolViolation("hello may be sent only once per stream");
      case "heartbeat":
        return this.onHeartbeat(message.value);
      case "sandboxState":
        return this.onReport(message.value);
      case "ack":
        return this.onAck(message.value.commandId);
      case "result":
        return this.onResult(message.value);
      case "progress":
        this.logger.debug("command progress", {
          commandId: message.value.commandId,
          stage: message.value.stage,
        });
        return;
      default:
        // A message kind newer than this server: ignored for compatibility.
        return;
    }
  }

  private async onHeartbeat(heartbeat: RunnerHeartbeat): Promise<void> {
    const now = Date.now();
    const every = Math.min(HEARTBEAT_WRITE_MAX_MS, this.hub.heartbeatMs);
    if (!this.stamp || now - this.lastHeartbeatWrite < every) return;
    this.lastHeartbeatWrite = now;
    const m = heartbeat.metrics;
    const metrics: RunnerMetricsData | undefined = m && {
      cpuUsedMillicores: m.cpuUsedMillicores,
      memoryUsedMib: m.memoryUsedMib,
      diskUsedMib: m.diskUsedMib,
      diskFreeMib: m.diskFreeMib,
      startedSandboxes: m.startedSandboxes,
      sandboxes: m.sandboxes,
      runningCommands: m.runningCommands,
    };
    try {
      const current = await this.hub.registry.recordHeartbeat(
        this.runnerId,
        this.stamp,
        new Date(now),
        metrics,
      );
      // Another stream took the row (a newer connection elsewhere, or the runner was deleted).
      if (!current) this.shutdown(superseded(this.runnerId));
    } catch (err) {
      this.logger.warn("heartbeat not recorded: the database did not answer", { err });
    }
  }

  private async onReport(report: SandboxReport): Promise<void> {
    const data = toReportData(report);
    if (!data || data.sandboxId === "") {
      this.logger.warn("sandbox report without sandbox id or state ignored", {
        sandboxId: report.sandboxId,
      });
      return;
    }
    if (data.state === "DESTROYED") this.hub.orphanGone(this.runnerId, data.sandboxId);
    try {
      await this.hub.deps.sink.applyReport(this.runnerId, data);
    } catch (err) {
      this.logger.error("sandbox report not applied", { sandboxId: data.sandboxId, err });
    }
  }

  private async onAck(commandId: string): Promise<void> {
    try {
      await markAcked(this.db, this.runnerId, commandId);
    } catch (err) {
      this.logger.warn("ack not recorded", { commandId, err });
    }
  }

  /**
   * onResult finishes a command exactly once: under a shared lock it skips a command already
   * finished, hands the outcome to the sink, then marks the command DONE or FAILED. When the
   * sink or the database fails the command stays unfinished and is redelivered later; the
   * runner answers a redelivered finished command with its result again.
   */
  private async onResult(result: CommandResult): Promise<void> {
    const commandId = result.commandId;
    if (commandId === "") {
      this.logger.warn("result without command id ignored");
      return;
    }
    let lock: Awaited<ReturnType<LockManager["acquire"]>>;
    try {
      lock = await this.hub.deps.locks.acquire(`runner-command:${commandId}`, 60_000, 10_000);
    } catch (err) {
      this.logger.warn("result not applied: the lock store did not answer", { commandId, err });
      this.holdBack(commandId);
      return;
    }
    if (!lock) {
      this.logger.warn("result not applied: another holder has the command", { commandId });
      this.holdBack(commandId);
      return;
    }
    try {
      const row = await findCommand(this.db, this.runnerId, commandId);
      if (!row) {
        this.logger.warn("result for an unknown command ignored", { commandId });
        this.settled(commandId);
        return;
      }
      if (FINISHED_COMMAND_STATES.includes(row.state)) {
        this.settled(commandId);
        return;
      }
      const outcome = toOutcome(result);
      const command: OutboxCommand = {
        id: row.id,
        runnerId: row.runner_id,
        sandboxId: row.sandbox_id,
        kind: row.kind,
      };
      await this.hub.deps.sink.applyCommandOutcome(command, outcome);
      await finishCommand(
        this.db,
        commandId,
        outcome,
        result.finishTime ? timestampDate(result.finishTime) : new Date(),
      );
      if (row.kind === "destroySandbox" && row.sandbox_id)
        this.hub.destroyFinished(this.runnerId, row.sandbox_id, outcome.ok);
      this.settled(commandId);
    } catch (err) {
      this.logger.error("command result not applied; it will be redelivered", { commandId, err });
      this.holdBack(commandId);
    } finally {
      await lock.release().catch(() => {});
    }
  }

  /** settled frees a command's delivery slot. */
  private settled(commandId: string): void {
    this.sent.delete(commandId);
    this.holdUntil.delete(commandId);
    this.holdFailures.delete(commandId);
    this.wake();
  }

  /** holdBack frees a command's slot but redelivers it only after a growing pause. */
  private holdBack(commandId: string): void {
    const failures = (this.holdFailures.get(commandId) ?? 0) + 1;
    this.holdFailures.set(commandId, failures);
    this.sent.delete(commandId);
    this.holdUntil.set(commandId, Date.now() + Math.min(60_000, 1_000 * 2 ** failures));
  }

  private async pump(): Promise<void> {
    try {
      while (this.dirty && !this.closed) {
        this.dirty = false;
        try {
          await this.deliver();
        } catch (err) {
          this.logger.warn("commands not delivered: the database did not answer", { err });
          return;
        }
      }
    } finally {
      this.pumping = false;
    }
  }

  /**
   * deliver sends the oldest unfinished commands not yet sent on this stream, up to the
   * in-flight cap: new ones, and ones sent on an earlier stream (redeliveries, attempt + 1).
   */
  private async deliver(): Promise<void> {
    const room = this.hub.maxConcurrent - this.sent.size;
    if (room <= 0) return;
    const now = Date.now();
    const excluded = [...this.sent];
    for (const [id, until] of this.holdUntil) {
      if (until > now) excluded.push(id);
      else this.holdUntil.delete(id);
    }
    if (this.closed) return;
    const claimed = await claimCommands(this.db, this.runnerId, excluded, room);
    for (const row of claimed) {
      if (this.closed) return;
      let command: RunnerCommand;
      try {
        command = fromBinary(RunnerCommandSchema, new Uint8Array(row.payload));
      } catch (err) {
        this.logger.error("undecodable command in the outbox skipped", { commandId: row.id, err });
        continue;
      }
      command.commandId = row.id;
      command.attempt = row.attempt;
      this.sent.add(row.id);
      this.outbound.push({ case: "command", value: command });
    }
    if (claimed.length >= room) this.dirty = true;
  }
}

function resolveRunnerId(tokenRunnerId: string, helloRunnerId: string): string {
  if (tokenRunnerId !== "") {
    if (helloRunnerId !== "" && helloRunnerId !== tokenRunnerId)
      throw new CoveError(
        "unauthenticated",
        "RUNNER_TOKEN_INVALID",
        "the token was issued for another runner",
      );
    return tokenRunnerId;
  }
  if (!isValidRunnerId(helloRunnerId))
    throw new CoveError(
      "invalidArgument",
      "RUNNER_PROTOCOL_VIOLATION",
      "hello.runner_id: must be 1-63 characters of [a-z0-9-]",
      { field: "hello.runner_id" },
      [{ field: "hello.runner_id", description: "must be 1-63 characters of [a-z0-9-]" }],
    );
  return helloRunnerId;
}

function protocolViolation(message: string): CoveError {
  return new CoveError("invalidArgument", "RUNNER_PROTOCOL_VIOLATION", message);
}

function superseded(runnerId: string): CoveError {
  return new CoveError(
    "aborted",
    "RUNNER_SUPERSEDED",
    "the runner opened a newer stream; this one is closed",
    { runnerId },
  );
}

/** toReportData converts a runner's SandboxReport; undefined when it names no known state. */
export function toReportData(report: SandboxReport): SandboxReportData | undefined {
  if (report.state === SandboxState.UNSPECIFIED) return undefined;
  const state = SandboxState[report.state] as SandboxStateName | undefined;
  if (!state) return undefined;
  return {
    sandboxId: report.sandboxId,
    state,
    errorReason: errorReasonName(report.errorReason) ?? "",
    errorMessage: report.errorMessage.slice(0, MAX_REPORT_MESSAGE),
    observeTime: report.observeTime ? timestampDate(report.observeTime) : new Date(),
  };
}

/** toOutcome converts a runner's CommandResult to what the sink records. */
export function toOutcome(result: CommandResult): CommandOutcome {
  const outcome = result.outcome;
  switch (outcome.case) {
    case "success": {
      const payload = outcome.value.payload;
      if (payload.case === "sandbox") {
        return {
          ok: true,
          report: payload.value.sandbox ? toReportData(payload.value.sandbox) : undefined,
          daemonSocketPath: payload.value.daemonSocketPath,
        };
      }
      return { ok: true, report: undefined, daemonSocketPath: "" };
    }
    case "error":
      return {
        ok: false,
        reason: errorReasonName(outcome.value.reason) ?? "INTERNAL",
        message: outcome.value.message.slice(0, MAX_ERROR_MESSAGE),
        retryable: outcome.value.retryable,
      };
    default:
      return {
        ok: false,
        reason: "RUNNER_PROTOCOL_VIOLATION",
        message: "the runner's result named neither success nor error",
        retryable: false,
      };
  }
}
