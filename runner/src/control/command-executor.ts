import type { MessageInitShape } from "@bufbuild/protobuf";
import { timestampDate, timestampNow } from "@bufbuild/protobuf/wkt";
import { CoveError, errorReasonValue, type Logger } from "@cove/common";
import { ErrorReason } from "@cove/gen-ts/cove/errors/v1/error_reason_pb.js";
import type {
  CommandProgressSchema,
  CommandResultSchema,
  RunnerCommand,
  SandboxReportSchema,
  SandboxSpec as SpecMessage,
} from "@cove/gen-ts/cove/runner/v1/runner_pb.js";
import {
  type NetworkPolicy,
  NetworkPolicyMode,
  SandboxState,
} from "@cove/gen-ts/cove/sandbox/v1/sandbox_pb.js";
import { isMarkedRetryable } from "../domain/retryable.js";
import type { SandboxDriver, SandboxObservation, SandboxSpec } from "../domain/sandbox-driver.js";
import { checkPolicy, type EgressMode, type EgressPolicy } from "../network/egress-policy.js";
import { createProgressReporter } from "./progress-reporter.js";
import { applyStateCommand, type StateServices } from "./state-commands.js";

/** A result or report the executor wants sent to the server. */
export type ExecutorOutput =
  | { kind: "ack"; commandId: string }
  | { kind: "result"; result: MessageInitShape<typeof CommandResultSchema> }
  | { kind: "report"; report: MessageInitShape<typeof SandboxReportSchema> }
  | { kind: "progress"; progress: MessageInitShape<typeof CommandProgressSchema> };

/** Finished results remembered for redelivered commands. */
const REMEMBERED_RESULTS = 1000;
/** Grace period for a stop when the command gives none, in ms. */
const DEFAULT_STOP_GRACE_MS = 10_000;

const states: Record<SandboxObservation["state"], SandboxState> = {
  created: SandboxState.STOPPED,
  started: SandboxState.STARTED,
  stopped: SandboxState.STOPPED,
  missing: SandboxState.DESTROYED,
  error: SandboxState.ERROR,
};

/** toReport builds a SandboxReport from what the driver observed. */
export function toReport(obs: SandboxObservation): MessageInitShape<typeof SandboxReportSchema> {
  return {
    sandboxId: obs.sandboxId,
    state: states[obs.state],
    errorReason: errorReasonValue(obs.errorReason),
    errorMessage: obs.errorMessage,
    imageDigest: obs.imageDigest,
    observeTime: timestampNow(),
  };
}

const egressModes: Partial<Record<NetworkPolicyMode, EgressMode>> = {
  [NetworkPolicyMode.UNSPECIFIED]: "block",
  [NetworkPolicyMode.BLOCK_ALL]: "block",
  [NetworkPolicyMode.ALLOW_ALL]: "allow-all",
  [NetworkPolicyMode.ALLOW_PUBLIC]: "allow-public",
  [NetworkPolicyMode.ALLOW_LIST]: "cidrs",
  [NetworkPolicyMode.ALLOW_DOMAINS]: "domains",
};

/** toEgress converts a protocol NetworkPolicy to the runner's (INVALID_ARGUMENT when malformed). */
export function toEgress(policy: NetworkPolicy | undefined): EgressPolicy {
  const mode = egressModes[policy?.mode ?? NetworkPolicyMode.UNSPECIFIED];
  if (!mode) {
    throw new CoveError(
      "invalidArgument",
      "INVALID_FIELD",
      `unknown network policy mode ${policy?.mode}`,
    );
  }
  return checkPolicy({
    mode,
    cidrs: policy?.allowCidrs ?? [],
    domains: policy?.allowDomains ?? [],
  });
}

function toSpec(spec: SpecMessage | undefined, enforcesEgress: boolean): SandboxSpec {
  if (!spec || spec.sandboxId === "")
    throw new CoveError("invalidArgument", "INVALID_FIELD", "spec.sandbox_id is required");
  const mode = spec.networkPolicy?.mode ?? NetworkPolicyMode.UNSPECIFIED;
  if (enforcesEgress) {
    return { ...specFields(spec), network: "none", egress: toEgress(spec.networkPolicy) };
  }
  if (
    mode !== NetworkPolicyMode.UNSPECIFIED &&
    mode !== NetworkPolicyMode.BLOCK_ALL &&
    mode !== NetworkPolicyMode.ALLOW_ALL
  ) {
    throw new CoveError(
      "failedPrecondition",
      "RUNTIME_UNAVAILABLE",
      "this runner enforces network policies BLOCK_ALL and ALLOW_ALL only (it runs without its sandbox network)",
    );
  }
  return { ...specFields(spec), network: mode === NetworkPolicyMode.ALLOW_ALL ? "all" : "none" };
}

function specFields(spec: SpecMessage): Omit<SandboxSpec, "network" | "egress"> {
  return {
    sandboxId: spec.sandboxId,
    organizationId: spec.organizationId,
    image: spec.image,
    cpuMillicores: spec.resources?.cpuMillicores ?? 0,
    memoryMib: spec.resources?.memoryMib ?? 0,
    diskMib: spec.resources?.diskMib ?? 0,
    env: spec.env,
    labels: spec.labels,
    osUser: spec.osUser,
    runtime: spec.runtimeClass,
    volumes: spec.volumes.map((v) => ({
      volumeId: v.volumeId,
      mountPath: v.mountPath,
      readOnly: v.readOnly,
      subPath: v.subPath,
    })),
  };
}

/**
 * CommandExecutor applies the server's commands to the driver: at most once at a time per
 * sandbox, idempotently by command id (a redelivered command that is running is only acked; a
 * finished one gets its result again), with a cap on concurrent commands, deadlines and
 * cancellation. Everything it has to say goes to `emit`.
 */
export class CommandExecutor {
  private readonly inFlight = new Map<string, AbortController>();
  private readonly finished = new Map<string, MessageInitShape<typeof CommandResultSchema>>();
  private readonly sandboxQueues = new Map<string, Promise<void>>();
  private active = 0;
  private readonly waiting: Array<() => void> = [];
  /** Most commands that run at once; the server's hello_ack may change it. */
  maxConcurrent = 16;

  constructor(
    private readonly driver: SandboxDriver,
    private readonly emit: (output: ExecutorOutput) => void,
    private readonly logger: Logger,
    private readonly services: StateServices = {},
  ) {}

  /** runningCommandIds lists commands still in flight (sent in hello after a reconnect). */
  runningCommandIds(): string[] {
    return [...this.inFlight.keys()];
  }

  /** handle accepts one command from the server. */
  handle(command: RunnerCommand): void {
    const id = command.commandId;
    this.emit({ kind: "ack", commandId: id });
    if (this.inFlight.has(id)) return;
    const done = this.finished.get(id);
    if (done) {
      this.emit({ kind: "result", result: done });
      return;
    }
    const abort = new AbortController();
    this.inFlight.set(id, abort);
    const sandboxId = sandboxOf(command);
    const run = async () => {
      await this.slot();
      try {
        return await this.apply(command, abort.signal);
      } finally {
        this.release();
      }
    };
    // Commands on one sandbox run in arrival order; different sandboxes run in parallel.
    const previous = this.sandboxQueues.get(sandboxId) ?? Promise.resolve();
    const current = previous.then(run).then(
      (outcome) => this.finish(id, { case: "success", value: outcome }),
      (err: unknown) => this.finish(id, { case: "error", value: toCommandError(err) }),
    );
    this.sandboxQueues.set(sandboxId, current);
    void current.finally(() => {
      if (this.sandboxQueues.get(sandboxId) === current) this.sandboxQueues.delete(sandboxId);
    });
  }

  /** cancel stops a queued command; one already running finishes and reports its real result. */
  cancel(commandId: string): void {
    this.inFlight.get(commandId)?.abort();
  }

  /** idle resolves when no command is in flight (for shutdown and tests). */
  async idle(): Promise<void> {
    while (this.sandboxQueues.size > 0) await Promise.allSettled([...this.sandboxQueues.values()]);
  }

  private finish(
    id: string,
    outcome: MessageInitShape<typeof CommandResultSchema>["outcome"],
  ): void {
    if (outcome?.case === "error") {
      this.logger.warn("command failed", {
        commandId: id,
        reason: outcome.value.reason,
        message: outcome.value.message,
      });
    }
    this.inFlight.delete(id);
    const result: MessageInitShape<typeof CommandResultSchema> = {
      commandId: id,
      finishTime: timestampNow(),
      outcome,
    };
    this.finished.set(id, result);
    if (this.finished.size > REMEMBERED_RESULTS) {
      const oldest = this.finished.keys().next().value;
      if (oldest !== undefined) this.finished.delete(oldest);
    }
    this.emit({ kind: "result", result });
  }

  private async apply(command: RunnerCommand, signal: AbortSignal) {
    if (signal.aborted)
      throw new CoveError(
        "aborted",
        "COMMAND_CANCELLED",
        "the command was cancelled before it started",
      );
    if (command.deadlineTime && timestampDate(command.deadlineTime).getTime() < Date.now()) {
      throw new CoveError(
        "deadlineExceeded",
        "COMMAND_DEADLINE_EXCEEDED",
        "the command's deadline passed before it started",
      );
    }
    const c = command.command;
    const report = (obs: SandboxObservation) => {
      this.emit({ kind: "report", report: toReport(obs) });
      return obs;
    };
    const sandboxResult = (obs: SandboxObservation) => ({
      payload: {
        case: "sandbox" as const,
        value: { sandbox: toReport(obs), daemonSocketPath: obs.daemonSocketPath },
      },
    });
    switch (c.case) {
      case "createSandbox": {
        const spec = toSpec(c.value.spec, this.services.network !== undefined);
        this.emit({
          kind: "report",
          report: {
            sandboxId: spec.sandboxId,
            state: SandboxState.CREATING,
            observeTime: timestampNow(),
          },
        });
        await this.driver.create(spec);
        this.emit({
          kind: "report",
          report: {
            sandboxId: spec.sandboxId,
            state: SandboxState.STARTING,
            observeTime: timestampNow(),
          },
        });
        return sandboxResult(report(await this.startOrReport(spec.sandboxId)));
      }
      case "startSandbox": {
        this.emit({
          kind: "report",
          report: {
            sandboxId: c.value.sandboxId,
            state: SandboxState.STARTING,
            observeTime: timestampNow(),
          },
        });
        return sandboxResult(report(await this.startOrReport(c.value.sandboxId)));
      }
      case "stopSandbox": {
        const grace = c.value.gracePeriod;
        const graceMs = grace
          ? Number(grace.seconds) * 1000 + grace.nanos / 1e6
          : DEFAULT_STOP_GRACE_MS;
        return sandboxResult(report(await this.driver.stop(c.value.sandboxId, graceMs)));
      }
      case "destroySandbox": {
        // Staging mounts go first: the sandbox's directory is deleted with everything in it.
        await this.services.volumes?.release(c.value.sandboxId);
        const destroyed = await this.driver.destroy(c.value.sandboxId);
        await this.services.archives?.forget(c.value.sandboxId);
        return sandboxResult(report(destroyed));
      }
      case "updateSandboxNetwork": {
        const network = this.services.network;
        if (!network) {
          throw new CoveError(
            "failedPrecondition",
            "RUNTIME_UNAVAILABLE",
            "this runner runs without its sandbox network and cannot change network policies",
          );
        }
        await network.update(c.value.sandboxId, toEgress(c.value.networkPolicy));
        return sandboxResult(report(await this.driver.inspect(c.value.sandboxId)));
      }
      case undefined:
        throw new CoveError(
          "invalidArgument",
          "RUNNER_PROTOCOL_VIOLATION",
          "the command names no operation",
        );
      default: {
        const progress = createProgressReporter(command.commandId, (p) =>
          this.emit({ kind: "progress", progress: p }),
        );
        try {
          const outcome = await applyStateCommand(command, this.services, {
            progress,
            toSpec: (cmd) =>
              toSpec(
                cmd.command.case === "restoreSandbox" ? cmd.command.value.spec : undefined,
                this.services.network !== undefined,
              ),
            start: async (id) => report(await this.startOrReport(id)),
            sandboxResult,
            reportState: (sandboxId, state) =>
              this.emit({
                kind: "report",
                report: { sandboxId, state: SandboxState[state], observeTime: timestampNow() },
              }),
          });
          if (outcome) return outcome;
        } finally {
          progress.close();
        }
        throw new CoveError(
          "unimplemented",
          "RUNTIME_UNAVAILABLE",
          `this runner does not implement ${c.case} yet`,
        );
      }
    }
  }

  private async startOrReport(sandboxId: string): Promise<SandboxObservation> {
    try {
      // Volume sub paths are bind-mounted for the engine only while it starts the container.
      const release = await this.services.volumes?.beforeStart(sandboxId);
      try {
        return await this.driver.start(sandboxId);
      } finally {
        await release?.();
      }
    } catch (err) {
      // The failure is a state too: the server must see ERROR with the reason, not just a failed command.
      const obs = await this.driver.inspect(sandboxId).catch(() => undefined);
      if (obs) {
        this.emit({
          kind: "report",
          report: toReport({
            ...obs,
            state: "error",
            errorReason:
              obs.errorReason || (err instanceof CoveError ? err.reason : "SANDBOX_START_FAILED"),
            errorMessage: obs.errorMessage || (err as Error).message,
          }),
        });
      }
      throw err;
    }
  }

  private async slot(): Promise<void> {
    if (this.active < this.maxConcurrent) {
      this.active++;
      return;
    }
    await new Promise<void>((resolve) => this.waiting.push(resolve));
    this.active++;
  }

  private release(): void {
    this.active--;
    this.waiting.shift()?.();
  }
}

function sandboxOf(command: RunnerCommand): string {
  const c = command.command;
  switch (c.case) {
    case "createSandbox":
    case "restoreSandbox":
      return c.value.spec?.sandboxId ?? "";
    case "startSandbox":
    case "stopSandbox":
    case "destroySandbox":
    case "commitSandbox":
    case "archiveSandbox":
    case "updateSandboxNetwork":
      return c.value.sandboxId;
    default:
      return `command:${command.commandId}`;
  }
}

function toCommandError(err: unknown) {
  if (err instanceof CoveError) {
    return {
      reason: errorReasonValue(err.reason),
      message: err.message,
      retryable:
        err.code === "unavailable" ||
        err.code === "resourceExhausted" ||
        err.code === "aborted" ||
        isMarkedRetryable(err),
    };
  }
  return {
    reason: ErrorReason.INTERNAL,
    message: (err as Error)?.message ?? String(err),
    retryable: true,
  };
}
