import { durationFromMs } from "@bufbuild/protobuf/wkt";
import {
  CoveError,
  type ErrorCode,
  type ErrorReasonName,
  failedPrecondition,
  type Logger,
  notFound,
  parseErrorReasonName,
} from "@cove/common";
import { NetworkPolicyMode } from "@cove/gen-ts/cove/sandbox/v1/sandbox_pb.js";
import type { Knex } from "knex";
import type { EventBus } from "../../shared/shared-state.js";
import {
  type CommandBody,
  cancelPendingCommands,
  DEFAULT_COMMAND_DEADLINE_MS,
  enqueueCommand,
  hasLiveCreate,
  wasEverDelivered,
} from "../outbox/runner-commands.js";
import { isRunnerLive, lockRunnerWithRoom } from "../runner/scheduler.js";
import { type AccessUrls, DEFAULT_ACCESS_URLS, revokeSandboxTokens } from "./access-tokens.js";
import { publishAccessRevoked, publishSandboxEvent, type SandboxEvent } from "./events.js";
import { createImagePolicy, type ImagePolicy } from "./image-policy.js";
import { checkQuota } from "./occupancy.js";
import type { CommandDispatcher, SandboxReportData, SandboxStateName } from "./ports.js";
import {
  type NetworkPolicyData,
  rowToSandbox,
  type Sandbox,
  type SandboxRow,
  type StateChange,
  stateChangeColumns,
} from "./rows.js";
import {
  allowedStates,
  COMMAND_GOAL,
  type DesiredStateName,
  onPathTo,
  PERMANENT_ERROR_REASONS,
  STATE_TABLE,
  type StateRule,
} from "./states.js";
import { type NetworkPolicyInput, Violations, waitTimeout } from "./validation.js";

/** Tunables of the lifecycle; every field has a default. */
export interface SandboxManagerOptions {
  /** Image used when a create names no source. Default "cove/sandbox:latest". */
  defaultImage: string;
  /** Public images besides the default (COVE_PUBLIC_IMAGES entries, see image-policy.ts). Default none. */
  publicImages: readonly string[];
  /** A runner whose last heartbeat is older than this is not used, ms. Default 30 s. */
  heartbeatFreshMs: number;
  /** Deadline of lifecycle commands, ms. Default DEFAULT_COMMAND_DEADLINE_MS (5 min). */
  commandDeadlineMs: number;
  /** WatchSandbox keepalive interval, ms. Default 15 s. */
  watchKeepaliveMs: number;
  /** WatchSandbox ends with OK after this long, ms. Default 1 hour. */
  maxWatchMs: number;
  /** Concurrent watches per organization (per replica). Default 100. */
  maxWatchesPerOrganization: number;
  /** Waits and watches re-read the database this often in case a pub/sub event was lost, ms. Default 2 s. */
  pollMs: number;
  /** How long an idempotency key is remembered, ms. Default 24 hours. */
  idempotencyWindowMs: number;
  /** Proxy addresses for toolbox, preview and SSH URLs. */
  urls: AccessUrls;
}

/** What SandboxManager needs. */
export interface SandboxManagerDeps {
  /** The database. */
  db: Knex;
  /** Pub/sub shared by replicas (sandbox events). */
  events: EventBus;
  /** Told after a command commits (the runner hub). */
  dispatcher: CommandDispatcher;
  /** Logger; silent when omitted. */
  logger?: Logger;
  /** Which images organizations may use; by default the default image and publicImages. */
  imagePolicy?: ImagePolicy;
  /** Overrides of the defaults. */
  options?: Partial<Omit<SandboxManagerOptions, "urls">> & { urls?: Partial<AccessUrls> };
}

/** How long a call with wait waits, and whether it waits at all. */
export interface WaitOptions {
  /** Wait for the target state (each call has its own default). */
  wait?: boolean;
  /** Wait timeout, ms (undefined or 0 = the call's default). */
  waitTimeoutMs?: number;
}

/** A ListSandboxes query. */
export interface ListSandboxesQuery {
  /** Page size (default 50, at most 500). */
  pageSize: number;
  /** Opaque token from the previous page, or "". */
  pageToken: string;
  /** Keep sandboxes with all these labels. */
  labels: Record<string, string>;
  /** Keep sandboxes in these states; empty = all but DESTROYED. */
  states: SandboxStateName[];
}

/** An UpdateSandbox request in domain terms. */
export interface UpdateSandboxInput {
  /** update_mask paths. */
  paths: string[];
  /** New labels. */
  labels: Record<string, string>;
  /** New public flag, when set. */
  public?: boolean;
  /** New auto-stop, ms, when set. */
  autoStopMs?: number;
  /** New auto-archive, ms, when set. */
  autoArchiveMs?: number;
  /** New auto-delete, ms, when set. */
  autoDeleteMs?: number;
  /** New network policy, when set (listed in the mask but unset: block all). */
  networkPolicy?: NetworkPolicyInput;
}

/** One WatchSandbox event. */
export type WatchEvent =
  | { kind: "initial"; sandbox: Sandbox }
  | { kind: "stateChange"; sandbox: Sandbox; previousState: SandboxStateName }
  | { kind: "keepalive"; time: Date };

/** The result of CreatePreviewUrl. */
export interface PreviewUrlResult {
  /** Preview URL. */
  url: string;
  /** Token for header cove-preview-token. */
  token: string;
  /** URL with the token embedded. */
  signedUrl: string;
  /** Expiry. */
  expireTime: Date;
}

/** The result of CreateSshAccess. */
export interface SshAccessResult {
  /** SSH user name. */
  token: string;
  /** Ready-to-run command. */
  sshCommand: string;
  /** Gateway host. */
  host: string;
  /** Gateway port. */
  port: number;
  /** Expiry. */
  expireTime: Date;
}

/** The result of CreateSandboxToken. */
export interface SandboxTokenResult {
  /** Bearer token. */
  token: string;
  /** Proxy toolbox URL. */
  toolboxUrl: string;
  /** Expiry. */
  expireTime: Date;
}

/** What a transaction decided to do to one sandbox row. */
interface Decision {
  /** A state change. */
  change?: StateChange;
  /** Other columns to set. */
  columns?: Record<string, unknown>;
  /** Commands for the sandbox's runner. */
  commands?: CommandBody[];
  /** Fail the sandbox's PENDING commands first (they are moot now). */
  cancelPending?: boolean;
  /** Revoked access token ids to announce. */
  revokedTokens?: string[];
}

const DEFAULT_OPTIONS: Omit<SandboxManagerOptions, "urls"> = {
  defaultImage: "cove/sandbox:latest",
  publicImages: [],
  heartbeatFreshMs: 30_000,
  commandDeadlineMs: DEFAULT_COMMAND_DEADLINE_MS,
  watchKeepaliveMs: 15_000,
  maxWatchMs: 3_600_000,
  maxWatchesPerOrganization: 100,
  pollMs: 2_000,
  idempotencyWindowMs: 24 * 3_600_000,
};

const silentLogger: Logger = {
  debug: () => {},
  info: () => {},
  warn: () => {},
  error: () => {},
  child: () => silentLogger,
};

/** The gRPC code a sandbox's error_reason is reported with when a wait ends in ERROR. */
const CODE_OF_REASON: Partial<Record<ErrorReasonName, ErrorCode>> = {
  IMAGE_NOT_FOUND: "notFound",
  IMAGE_PULL_FAILED: "unavailable",
  RUNNER_UNAVAILABLE: "unavailable",
  RESTORE_FAILED: "unavailable",
  ARCHIVE_FAILED: "unavailable",
  OUT_OF_MEMORY: "resourceExhausted",
  DISK_FULL: "resourceExhausted",
  COMMAND_DEADLINE_EXCEEDED: "deadlineExceeded",
};

/** reasonName returns `name` when it is an ErrorReason value name, else `fallback`. */
export function reasonName(name: string, fallback: ErrorReasonName): ErrorReasonName {
  return parseErrorReasonName(name) ?? fallback;
}

/** sandboxError is what a wait throws when the sandbox ended in ERROR. */
export function sandboxError(sandbox: Sandbox): CoveError {
  const reason = reasonName(sandbox.errorReason, "SANDBOX_START_FAILED");
  return new CoveError(
    CODE_OF_REASON[reason] ?? "failedPrecondition",
    reason,
    `sandbox ${sandbox.id} is in ERROR (${reason}): ${sandbox.errorMessage || "no details"}`,
    {
      sandboxId: sandbox.id,
      state: "ERROR",
      errorReason: reason,
      recoverable: String(sandbox.recoverable),
    },
  );
}

/** stateConflict builds FAILED_PRECONDITION SANDBOX_STATE_CONFLICT for a call from the wrong state. */
export function stateConflict(
  sandbox: { id: string; state: SandboxStateName },
  call: string,
  pick: (rule: StateRule) => boolean,
): CoveError {
  const allowed = allowedStates(pick);
  return failedPrecondition(
    "SANDBOX_STATE_CONFLICT",
    `cannot ${call} sandbox ${sandbox.id} while it is ${sandbox.state}; allowed in ${allowed.join(", ")}`,
    { sandboxId: sandbox.id, state: sandbox.state, allowedStates: allowed.join(",") },
  );
}

function sandboxNotFound(sandboxId: string): CoveError {
  return notFound("SANDBOX_NOT_FOUND", `sandbox ${sandboxId} not found`, { sandboxId });
}

/** The jsonb columns, serialized (pg would turn JS arrays into Postgres arrays). */
export function json(value: unknown): string {
  return JSON.stringify(value);
}

/** SandboxCore: what the lifecycle's callers share (see the file comment). */
export class SandboxCore {
  /** The effective options. */
  readonly options: SandboxManagerOptions;
  protected readonly db: Knex;
  protected readonly events: EventBus;
  protected readonly dispatcher: CommandDispatcher;
  protected readonly logger: Logger;
  protected readonly images: ImagePolicy;

  constructor(deps: SandboxManagerDeps) {
    this.db = deps.db;
    this.events = deps.events;
    this.dispatcher = deps.dispatcher;
    this.logger = deps.logger ?? silentLogger;
    const { urls, ...rest } = deps.options ?? {};
    this.options = {
      ...DEFAULT_OPTIONS,
      ...Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined)),
      urls: { ...DEFAULT_ACCESS_URLS, ...urls },
    };
    this.images =
      deps.imagePolicy ??
      createImagePolicy({
        defaultImage: this.options.defaultImage,
        publicImages: this.options.publicImages,
      });
  }

  // ---------------------------------------------------------------- internals

  protected async stopNow(
    scope: { organizationId?: string },
    sandboxId: string,
    force: boolean,
    onlyIfStarted = false,
  ): Promise<Sandbox> {
    return this.mutate(scope, sandboxId, async (row) => {
      if (onlyIfStarted && (row.state !== "STARTED" || row.desired_state !== "STARTED"))
        return undefined;
      const action = STATE_TABLE[row.state as SandboxStateName].stop;
      if (action === "asIs") return undefined;
      if (action === "conflict") {
        if (onlyIfStarted) return undefined;
        throw stateConflict(rowState(row), "stop", (r) => r.stop !== "conflict");
      }
      return {
        change: { state: "STOPPING", desiredState: "STOPPED" },
        commands: [
          {
            case: "stopSandbox",
            value: { sandboxId, gracePeriod: force ? durationFromMs(0) : undefined },
          },
        ],
      };
    });
  }

  protected async deleteNow(
    scope: { organizationId?: string },
    sandboxId: string,
  ): Promise<Sandbox> {
    return this.mutate(scope, sandboxId, (row, trx) => this.decideDelete(row, trx));
  }

  protected async decideDelete(
    row: SandboxRow,
    trx: Knex.Transaction,
  ): Promise<Decision | undefined> {
    if (row.state === "DESTROYED") return undefined;
    const live = row.runner_id !== null && (await this.runnerLive(trx, row.runner_id));
    if (row.state === "DESTROYING") {
      // Already on its way; only a lost runner makes us give up waiting for it.
      return live ? undefined : { change: { state: "DESTROYED" } };
    }
    const revokedTokens = await revokeSandboxTokens(trx, row.organization_id, row.id);
    const commands: CommandBody[] =
      row.runner_id === null ? [] : [{ case: "destroySandbox", value: { sandboxId: row.id } }];
    const delivered = row.runner_id !== null && (await wasEverDelivered(trx, row.id));
    // Never delivered (its create still waits in the outbox) or runner gone: nothing to wait for.
    // The destroy command still goes out, idempotent, in case the runner got it after all.
    const direct = !delivered || !live;
    return {
      change: { state: direct ? "DESTROYED" : "DESTROYING", desiredState: "DESTROYED" },
      cancelPending: true,
      commands,
      revokedTokens,
    };
  }

  protected async decideStart(
    row: SandboxRow,
    trx: Knex.Transaction,
    org: OrganizationRow | undefined,
    recreate = false,
  ): Promise<Decision> {
    if (!org) throw new Error("start needs the organization locked");
    if (!row.runner_id) throw runnerUnavailable(row);
    await checkQuota(trx, org, {
      sandboxes: 0,
      cpuMillicores: row.cpu_millicores,
      memoryMib: row.memory_mib,
      diskMib: 0,
    });
    await lockRunnerWithRoom(
      trx,
      row.runner_id,
      {
        id: row.id,
        cpuMillicores: row.cpu_millicores,
        memoryMib: row.memory_mib,
        diskMib: row.disk_mib,
      },
      { heartbeatFreshMs: this.options.heartbeatFreshMs },
    );
    return {
      change: { state: recreate ? "CREATING" : "STARTING", desiredState: "STARTED" },
      columns: { last_activity_time: new Date() },
      cancelPending: recreate,
      commands: [
        recreate ? createCommand(row) : { case: "startSandbox", value: { sandboxId: row.id } },
      ],
    };
  }

  /**
   * observe decides what a runner's observation of a sandbox changes. Believed: DESTROYED
   * while being destroyed; ERROR (unless being destroyed); states on the way to the desired
   * state (this also clears an ERROR). A container that stopped or vanished while it should run
   * becomes ERROR SANDBOX_EXITED. Everything else is stale and ignored.
   */
  protected async observe(
    row: SandboxRow,
    trx: Knex.Transaction,
    report: SandboxReportData,
  ): Promise<Decision | undefined> {
    const current = row.state as SandboxStateName;
    const desired = row.desired_state as DesiredStateName;
    const at = new Date(Math.min(report.observeTime.getTime(), Date.now()));
    if (current === "DESTROYED") return undefined;
    if (desired === "DESTROYED") {
      return report.state === "DESTROYED"
        ? { change: { state: "DESTROYED", stateChangeTime: at } }
        : undefined;
    }
    const error = (
      reason: string,
      message: string,
      recoverable?: boolean,
    ): Decision | undefined => {
      if (current === "ERROR") return undefined;
      const name = reasonName(reason, "SANDBOX_EXITED");
      return {
        change: {
          state: "ERROR",
          stateChangeTime: at,
          error: {
            reason: name,
            message,
            recoverable: recoverable ?? !PERMANENT_ERROR_REASONS.has(name),
          },
        },
      };
    };
    if (report.state === "ERROR") {
      return error(
        report.errorReason,
        report.errorMessage || "the runner reported the sandbox in ERROR",
      );
    }
    if (report.state === "DESTROYED") {
      if (["PENDING_BUILD", "BUILDING_SNAPSHOT", "ARCHIVED"].includes(current)) return undefined;
      if (await hasLiveCreate(trx, row.id)) return undefined;
      return error(
        "SANDBOX_EXITED",
        "the sandbox's container vanished from its runner; its filesystem is lost",
        desired === "STARTED",
      );
    }
    if (onPathTo(desired, report.state)) {
      if (report.state === current) return undefined;
      return { change: { state: report.state, stateChangeTime: at } };
    }
    if (report.state === "STOPPED" && desired === "STARTED" && current === "STARTED") {
      return error(
        report.errorReason || "SANDBOX_EXITED",
        report.errorMessage || "the sandbox stopped although nobody asked it to",
        true,
      );
    }
    return undefined;
  }

  /**
   * mutate runs `decide` on one sandbox row locked FOR UPDATE (after locking its organization
   * when asked), applies the decision, enqueues its commands, commits, then notifies the
   * dispatcher and publishes the change. With an organization the sandbox must belong to it
   * (NOT_FOUND otherwise); without one (runner and timer paths) a missing row is ignored.
   */
  protected async mutate(
    scope: { organizationId?: string; lockOrganization?: boolean },
    sandboxId: string,
    decide: (
      row: SandboxRow,
      trx: Knex.Transaction,
      org: OrganizationRow | undefined,
    ) => Promise<Decision | undefined>,
  ): Promise<Sandbox> {
    const result = await this.db.transaction(async (trx) => {
      let org: OrganizationRow | undefined;
      if (scope.organizationId !== undefined && scope.lockOrganization) {
        org = await trx("organizations").where({ id: scope.organizationId }).forUpdate().first();
        if (!org) throw sandboxNotFound(sandboxId);
      }
      const query = trx<SandboxRow>("sandboxes").where({ id: sandboxId });
      if (scope.organizationId !== undefined)
        query.where({ organization_id: scope.organizationId });
      const row = await query.forUpdate().first();
      if (!row) {
        if (scope.organizationId !== undefined) throw sandboxNotFound(sandboxId);
        return undefined;
      }
      const decision = await decide(row, trx, org);
      if (!decision || (!decision.change && !decision.columns && !decision.commands?.length)) {
        return { before: row, after: row, decision: undefined };
      }
      const now = new Date();
      const columns: Record<string, unknown> = {
        ...(decision.change
          ? stateChangeColumns(decision.change, now, row.version)
          : { update_time: now, version: row.version + 1 }),
        ...decision.columns,
      };
      if (decision.cancelPending) {
        // Lifecycle commands only: a pending network update still has to reach the runner.
        await cancelPendingCommands(trx, row.id, now, Object.keys(COMMAND_GOAL));
      }
      const [after] = await trx<SandboxRow>("sandboxes").where({ id: row.id }).update(columns, "*");
      if (!after) throw new Error("update returned no row");
      for (const command of decision.commands ?? []) {
        if (!row.runner_id) continue;
        await enqueueCommand(trx, {
          runnerId: row.runner_id,
          sandboxId: row.id,
          command,
          deadlineMs: this.options.commandDeadlineMs,
        });
      }
      return { before: row, after: after as SandboxRow, decision };
    });
    if (!result) throw sandboxNotFound(sandboxId);
    const sandbox = rowToSandbox(result.after);
    const decision = result.decision;
    if (decision) {
      if (decision.commands?.length) this.notify(result.after.runner_id);
      await this.publish({
        type: "sandbox",
        sandbox,
        previousState: result.before.state as SandboxStateName,
      });
      if (decision.revokedTokens?.length) {
        await publishAccessRevoked(this.events, {
          organizationId: sandbox.organizationId,
          sandboxId: sandbox.id,
          tokenIds: decision.revokedTokens,
        }).catch((err) => this.logger.warn("could not publish revoked tokens", { err, sandboxId }));
      }
      if (decision.change && decision.change.state !== result.before.state) {
        this.logger.info("sandbox state changed", {
          sandboxId,
          from: result.before.state,
          to: sandbox.state,
          desired: sandbox.desiredState,
          errorReason: sandbox.errorReason || undefined,
        });
      }
    }
    return sandbox;
  }

  protected async loadRow(organizationId: string, sandboxId: string): Promise<SandboxRow> {
    const row = await this.db<SandboxRow>("sandboxes")
      .where({ id: sandboxId, organization_id: organizationId })
      .first();
    if (!row) throw sandboxNotFound(sandboxId);
    return row;
  }

  protected runnerLive(trx: Knex.Transaction, runnerId: string): Promise<boolean> {
    return isRunnerLive(trx, runnerId, { heartbeatFreshMs: this.options.heartbeatFreshMs });
  }

  protected waitTimeout(options: WaitOptions, fallback: number): number {
    const v = new Violations();
    const ms = waitTimeout(options.waitTimeoutMs, fallback, v);
    v.throwIfAny();
    return ms;
  }

  protected notify(runnerId: string | null): void {
    if (!runnerId) return;
    try {
      this.dispatcher.notify(runnerId);
    } catch (err) {
      // The hub also polls the outbox; a failed hint only delays delivery.
      this.logger.warn("dispatcher.notify failed", { err, runnerId });
    }
  }

  protected async publish(event: SandboxEvent): Promise<void> {
    try {
      await publishSandboxEvent(this.events, event);
    } catch (err) {
      // Waiters and watchers also poll the database; a lost event only delays them.
      this.logger.warn("could not publish a sandbox event", { err, sandboxId: event.sandbox.id });
    }
  }
}

/** The organization columns the lifecycle reads. */
interface OrganizationRow {
  id: string;
  max_sandboxes: number;
  max_cpu_millicores: number;
  max_memory_mib: number;
  max_disk_mib: number;
  max_sandbox_cpu_millicores: number;
  max_sandbox_memory_mib: number;
  max_sandbox_disk_mib: number;
}

/** rowState is a row's id and state, for stateConflict. */
export function rowState(row: SandboxRow): { id: string; state: SandboxStateName } {
  return { id: row.id, state: row.state as SandboxStateName };
}

/** runnerUnavailable builds UNAVAILABLE when the sandbox's runner is not connected. */
export function runnerUnavailable(row: SandboxRow): CoveError {
  return new CoveError(
    "unavailable",
    "RUNNER_UNAVAILABLE",
    `the runner holding sandbox ${row.id} is not connected; retry later or delete the sandbox`,
    { runnerId: row.runner_id ?? "", sandboxId: row.id },
  );
}

/** defaultReason is the error reason of a failed command towards `goal`. */
export function defaultReason(goal: DesiredStateName): ErrorReasonName {
  if (goal === "STARTED") return "SANDBOX_START_FAILED";
  if (goal === "ARCHIVED") return "ARCHIVE_FAILED";
  return "INTERNAL";
}

/** policyMessage is a stored policy as a NetworkPolicy message. */
export function policyMessage(policy: NetworkPolicyData) {
  return {
    mode: NetworkPolicyMode[policy.mode],
    allowCidrs: policy.allowCidrs,
    allowDomains: policy.allowDomains,
  };
}

/** The createSandbox command for a row: SandboxSpec from what is stored. */
export function createCommand(row: SandboxRow): CommandBody {
  const policy = row.network_policy ?? {};
  return {
    case: "createSandbox",
    value: {
      spec: {
        sandboxId: row.id,
        organizationId: row.organization_id,
        image: row.image,
        resources: {
          cpuMillicores: row.cpu_millicores,
          memoryMib: row.memory_mib,
          diskMib: row.disk_mib,
        },
        env: row.env ?? {},
        labels: row.labels ?? {},
        osUser: row.os_user,
        networkPolicy: policyMessage({
          mode: policy.mode ?? "BLOCK_ALL",
          allowCidrs: policy.allowCidrs ?? [],
          allowDomains: policy.allowDomains ?? [],
        }),
        volumes: [],
        runtimeClass: row.runtime_class,
      },
    },
  };
}
