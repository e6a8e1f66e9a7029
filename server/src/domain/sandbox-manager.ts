/**
 * SandboxManager is the sandbox lifecycle of the API server: it validates and places new
 * sandboxes, drives them through the state machine (sandbox-states.ts) by writing commands to
 * the outbox in the same transaction as each state change, and applies what runners report
 * (it is the SandboxStateSink the runner hub calls). Every query a caller can reach filters on
 * the caller's organization; another organization's sandbox is NOT_FOUND.
 *
 * Decisions worth knowing:
 * - Quotas hold under concurrency: create, start and recover lock the organization's row
 *   (SELECT … FOR UPDATE) before counting. Sandboxes and disk count every sandbox not
 *   DESTROYING or DESTROYED; CPU and memory count sandboxes in running states.
 * - Reports and command outcomes are believed only when they move the sandbox along the way to
 *   its desired state (or into ERROR), come from the sandbox's own runner, and are not older
 *   than the last state change (reports) or superseded by a newer command (outcomes).
 * - Recover from ERROR re-sends the command that leads to the desired state: createSandbox for
 *   STARTED (runners reuse an existing container and start it), stopSandbox for STOPPED,
 *   destroySandbox for DESTROYED. It needs the sandbox's runner to be connected.
 * - A failed stop or destroy puts the sandbox in ERROR (recoverable); delete from ERROR always
 *   works. Delete goes straight to DESTROYED (still sending destroySandbox, which runners apply
 *   idempotently, and orphan reaping as a backstop) when no command ever reached the runner or
 *   the runner is not connected, so a lost runner never traps a sandbox.
 * - Archive and restore are not supported by runners yet: ArchiveSandbox on a STOPPED sandbox
 *   returns FAILED_PRECONDITION (ARCHIVE_FAILED) and nothing is ever ARCHIVED.
 */
import { createHash } from "node:crypto";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import {
  AsyncQueue,
  alreadyExists,
  CoveError,
  type ErrorCode,
  type ErrorReasonName,
  failedPrecondition,
  type Logger,
  notFound,
  parseErrorReasonName,
  resourceExhausted,
} from "@cove/common";
import { NetworkPolicyMode } from "@cove/gen-ts/cove/sandbox/v1/sandbox_pb.js";
import type { Knex } from "knex";
import { newSandboxId } from "../ids.js";
import type { EventBus } from "../shared/shared-state.js";
import {
  type AccessUrls,
  DEFAULT_ACCESS_URLS,
  mintAccessToken,
  previewUrl,
  revokeSandboxTokens,
  revokeSshTokens,
  signedPreviewUrl,
  tokenExpiryMs,
} from "./access-tokens.js";
import type {
  CommandDispatcher,
  CommandOutcome,
  OutboxCommand,
  SandboxReportData,
  SandboxStateName,
  SandboxStateSink,
} from "./lifecycle-ports.js";
import { type CommandBody, DEFAULT_COMMAND_DEADLINE_MS, enqueueCommand } from "./outbox.js";
import {
  publishAccessRevoked,
  publishSandboxEvent,
  type SandboxEvent,
  subscribeSandbox,
} from "./sandbox-events.js";
import {
  rowToSandbox,
  type Sandbox,
  type SandboxRow,
  type StateChange,
  stateChangeColumns,
} from "./sandbox-rows.js";
import {
  ALL_STATES,
  allowedStates,
  COMMAND_GOAL,
  type DesiredStateName,
  onPathTo,
  PERMANENT_ERROR_REASONS,
  RELEASED_STATES,
  RUNNING_STATES,
  STATE_TABLE,
  type StateRule,
} from "./sandbox-states.js";
import {
  type CreateSandboxInput,
  DEFAULT_AUTO_ARCHIVE_SECONDS,
  DEFAULT_AUTO_STOP_SECONDS,
  DEFAULT_WAIT_TIMEOUT_MS,
  INTERVAL_MAX_DAYS,
  intervalSeconds,
  type ValidatedCreate,
  Violations,
  validateCreate,
  validateLabels,
  waitTimeout,
} from "./sandbox-validation.js";
import { isRunnerLive, lockRunnerWithRoom, pickRunner } from "./scheduler.js";

/** Tunables of the lifecycle; every field has a default. */
export interface SandboxManagerOptions {
  /** Image used when a create names no source. Default "cove/sandbox:latest". */
  defaultImage: string;
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

/** Live command states in the outbox. */
const LIVE_COMMAND_STATES = ["PENDING", "SENT", "ACKED"];

const DEFAULT_OPTIONS: Omit<SandboxManagerOptions, "urls"> = {
  defaultImage: "cove/sandbox:latest",
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

function stateConflict(
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

function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new CoveError("aborted", "INTERNAL", "the call was cancelled");
}

/** The jsonb columns, serialized (pg would turn JS arrays into Postgres arrays). */
function json(value: unknown): string {
  return JSON.stringify(value);
}

/** SandboxManager: the sandbox lifecycle (see the file comment). */
export class SandboxManager implements SandboxStateSink {
  /** The effective options. */
  readonly options: SandboxManagerOptions;
  private readonly db: Knex;
  private readonly events: EventBus;
  private readonly dispatcher: CommandDispatcher;
  private readonly logger: Logger;
  private readonly watches = new Map<string, number>();

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
  }

  // ---------------------------------------------------------------- create, get, list

  /**
   * create validates the request, then in one transaction locks the organization, honours the
   * idempotency key, checks quotas, picks a runner, inserts the sandbox (CREATING, desired
   * STARTED) and enqueues createSandbox; with wait it returns once STARTED.
   */
  async create(
    organizationId: string,
    input: CreateSandboxInput,
    signal?: AbortSignal,
  ): Promise<Sandbox> {
    const outcome = await this.db.transaction(async (trx) => {
      const org = await trx("organizations")
        .where({ id: organizationId })
        .whereNull("delete_time")
        .forUpdate()
        .first();
      if (!org) {
        throw notFound("ORGANIZATION_NOT_FOUND", `organization ${organizationId} not found`, {
          organizationId,
        });
      }
      const spec = validateCreate(input, org, this.options.defaultImage);
      if (spec.idempotencyKey !== null) {
        const existing: SandboxRow | undefined = await trx("sandboxes")
          .where({ organization_id: organizationId, idempotency_key: spec.idempotencyKey })
          .first();
        if (existing) {
          const age = Date.now() - new Date(existing.create_time).getTime();
          if (age <= this.options.idempotencyWindowMs) {
            if (!sameSpec(existing, spec)) {
              throw alreadyExists(
                "IDEMPOTENCY_CONFLICT",
                `idempotency key ${spec.idempotencyKey} was used for a different request (sandbox ${existing.id})`,
                { idempotencyKey: spec.idempotencyKey, sandboxId: existing.id },
              );
            }
            return { row: existing, created: false, spec };
          }
          // Expired: the key may be used again.
          await trx("sandboxes").where({ id: existing.id }).update({ idempotency_key: null });
        }
      }
      await checkQuota(trx, org, {
        sandboxes: 1,
        cpuMillicores: spec.cpuMillicores,
        memoryMib: spec.memoryMib,
        diskMib: spec.diskMib,
      });
      const placement = await pickRunner(
        trx,
        {
          region: spec.region,
          runtimeClass: spec.runtimeClass,
          cpuMillicores: spec.cpuMillicores,
          memoryMib: spec.memoryMib,
          diskMib: spec.diskMib,
        },
        { heartbeatFreshMs: this.options.heartbeatFreshMs },
      );
      const now = new Date();
      const [row]: SandboxRow[] = await trx("sandboxes")
        .insert({
          id: newSandboxId(),
          organization_id: organizationId,
          runner_id: placement.runnerId,
          image: spec.image,
          snapshot_id: null,
          state: "CREATING",
          desired_state: "STARTED",
          labels: json(spec.labels),
          env: json(spec.env),
          os_user: spec.osUser,
          public: spec.public,
          cpu_millicores: spec.cpuMillicores,
          memory_mib: spec.memoryMib,
          disk_mib: spec.diskMib,
          network_policy: json(spec.networkPolicy),
          auto_stop_seconds: spec.autoStopSeconds,
          auto_archive_seconds: spec.autoArchiveSeconds,
          auto_delete_seconds: spec.autoDeleteSeconds,
          volumes: json([]),
          region: placement.region,
          runtime_class: placement.runtimeClass,
          idempotency_key: spec.idempotencyKey,
          version: 1,
          create_time: now,
          update_time: now,
          state_change_time: now,
          last_activity_time: now,
        })
        .returning("*");
      if (!row) throw new Error("insert returned no row");
      await enqueueCommand(trx, {
        runnerId: placement.runnerId,
        sandboxId: row.id,
        command: createCommand(row),
        deadlineMs: this.options.commandDeadlineMs,
      });
      return { row, created: true, spec };
    });
    const sandbox = rowToSandbox(outcome.row);
    if (outcome.created) {
      this.notify(sandbox.runnerId);
      await this.publish({ type: "sandbox", sandbox, previousState: sandbox.state });
      this.logger.info("sandbox created", {
        sandboxId: sandbox.id,
        organizationId,
        runnerId: sandbox.runnerId,
      });
    }
    if (!outcome.spec.wait) return sandbox;
    return this.waitFor(organizationId, sandbox.id, "STARTED", outcome.spec.waitTimeoutMs, signal);
  }

  /** get returns one sandbox of the organization, or NOT_FOUND. */
  async get(organizationId: string, sandboxId: string): Promise<Sandbox> {
    return rowToSandbox(await this.loadRow(organizationId, sandboxId));
  }

  /** list returns one page of the organization's sandboxes, newest first. */
  async list(
    organizationId: string,
    query: ListSandboxesQuery,
  ): Promise<{ sandboxes: Sandbox[]; nextPageToken: string }> {
    const v = new Violations();
    if (query.pageSize < 0) v.add("page_size", "must not be negative");
    validateLabels(query.labels, v, "labels");
    const states = [...new Set(query.states)];
    for (const state of states)
      if (!ALL_STATES.includes(state)) v.add("states", `unknown state ${state}`);
    const filterHash = createHash("sha256")
      .update(json({ labels: Object.entries(query.labels).sort(), states: [...states].sort() }))
      .digest("hex")
      .slice(0, 16);
    const cursor =
      query.pageToken === "" ? undefined : decodePageToken(query.pageToken, filterHash, v);
    v.throwIfAny();
    const pageSize = Math.min(query.pageSize === 0 ? 50 : query.pageSize, 500);
    const q = this.db("sandboxes")
      .where({ organization_id: organizationId })
      .select(
        "*",
        this.db.raw(
          `to_char(create_time at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as cursor_time`,
        ),
      );
    if (states.length > 0) q.whereIn("state", states);
    else q.whereNot("state", "DESTROYED");
    if (Object.keys(query.labels).length > 0)
      q.whereRaw("labels @> ?::jsonb", [json(query.labels)]);
    if (cursor) q.whereRaw("(create_time, id) < (?::timestamptz, ?)", [cursor.t, cursor.i]);
    const rows: Array<SandboxRow & { cursor_time: string }> = await q
      .orderBy([
        { column: "create_time", order: "desc" },
        { column: "id", order: "desc" },
      ])
      .limit(pageSize + 1);
    const page = rows.slice(0, pageSize);
    const last = page[page.length - 1];
    const nextPageToken =
      rows.length > pageSize && last
        ? Buffer.from(json({ t: last.cursor_time, i: last.id, f: filterHash })).toString(
            "base64url",
          )
        : "";
    return { sandboxes: page.map(rowToSandbox), nextPageToken };
  }

  // ---------------------------------------------------------------- state-changing calls

  /** start starts a STOPPED sandbox (STARTING + startSandbox); with wait (default) returns once STARTED. */
  async start(
    organizationId: string,
    sandboxId: string,
    options: WaitOptions = {},
    signal?: AbortSignal,
  ): Promise<Sandbox> {
    const timeout = this.waitTimeout(options, DEFAULT_WAIT_TIMEOUT_MS);
    const sandbox = await this.mutate(
      { organizationId, lockOrganization: true },
      sandboxId,
      async (row, trx, org) => {
        const action = STATE_TABLE[row.state as SandboxStateName].start;
        if (action === "asIs") return undefined;
        if (action === "unsupported") {
          throw failedPrecondition(
            "SANDBOX_STATE_CONFLICT",
            `sandbox ${sandboxId} is ARCHIVED and restoring is not supported yet; delete it instead`,
            { sandboxId, state: row.state, allowedStates: "STOPPED" },
          );
        }
        if (action === "conflict")
          throw stateConflict(rowState(row), "start", (r) => r.start !== "conflict");
        return this.decideStart(row, trx, org);
      },
    );
    if (options.wait === false) return sandbox;
    return this.waitFor(organizationId, sandboxId, "STARTED", timeout, signal);
  }

  /** stop stops a STARTED or STARTING sandbox (STOPPING + stopSandbox); with wait (default) returns once STOPPED. */
  async stop(
    organizationId: string,
    sandboxId: string,
    options: WaitOptions & { force?: boolean } = {},
    signal?: AbortSignal,
  ): Promise<Sandbox> {
    const timeout = this.waitTimeout(options, DEFAULT_WAIT_TIMEOUT_MS);
    const sandbox = await this.stopNow({ organizationId }, sandboxId, options.force ?? false);
    if (options.wait === false) return sandbox;
    return this.waitFor(organizationId, sandboxId, "STOPPED", timeout, signal);
  }

  /**
   * archive: runners cannot archive yet, so a STOPPED sandbox gets FAILED_PRECONDITION
   * (ARCHIVE_FAILED) and stays STOPPED; ARCHIVING/ARCHIVED (never reached today) are returned as is.
   */
  async archive(
    organizationId: string,
    sandboxId: string,
    options: WaitOptions = {},
    signal?: AbortSignal,
  ): Promise<Sandbox> {
    const timeout = this.waitTimeout(options, 5 * 60_000);
    const row = await this.loadRow(organizationId, sandboxId);
    const action = STATE_TABLE[row.state as SandboxStateName].archive;
    if (action === "unsupported") {
      throw failedPrecondition(
        "ARCHIVE_FAILED",
        `archiving is not supported yet (runners cannot archive); sandbox ${sandboxId} stays STOPPED with its filesystem on its runner`,
        { sandboxId },
      );
    }
    if (action === "conflict")
      throw stateConflict(rowState(row), "archive", (r) => r.archive !== "conflict");
    if (options.wait !== true) return rowToSandbox(row);
    return this.waitFor(organizationId, sandboxId, "ARCHIVED", timeout, signal);
  }

  /**
   * delete destroys a sandbox from any state: DESTROYING + destroySandbox, or DESTROYED at once
   * when no runner ever got it or its runner is not connected. Revokes its access tokens. With
   * wait (default false) returns once DESTROYED.
   */
  async delete(
    organizationId: string,
    sandboxId: string,
    options: WaitOptions = {},
    signal?: AbortSignal,
  ): Promise<Sandbox> {
    const timeout = this.waitTimeout(options, DEFAULT_WAIT_TIMEOUT_MS);
    const sandbox = await this.deleteNow({ organizationId }, sandboxId);
    if (options.wait !== true) return sandbox;
    return this.waitFor(organizationId, sandboxId, "DESTROYED", timeout, signal);
  }

  /**
   * recover re-drives a recoverable ERROR sandbox to its desired state: createSandbox (reusing
   * the container) for STARTED, stopSandbox for STOPPED, the delete path for DESTROYED. With
   * wait (default) returns once there.
   */
  async recover(
    organizationId: string,
    sandboxId: string,
    options: WaitOptions = {},
    signal?: AbortSignal,
  ): Promise<Sandbox> {
    const timeout = this.waitTimeout(options, DEFAULT_WAIT_TIMEOUT_MS);
    let target: DesiredStateName = "STARTED";
    const sandbox = await this.mutate(
      { organizationId, lockOrganization: true },
      sandboxId,
      async (row, trx, org) => {
        if (row.state !== "ERROR") throw stateConflict(rowState(row), "recover", (r) => r.recover);
        if (!row.recoverable) {
          throw failedPrecondition(
            "SANDBOX_NOT_RECOVERABLE",
            `sandbox ${sandboxId} cannot be recovered from ${row.error_reason || "its error"}; delete it`,
            { sandboxId, errorReason: row.error_reason },
          );
        }
        target = row.desired_state as DesiredStateName;
        switch (target) {
          case "STARTED":
            return this.decideStart(row, trx, org, true);
          case "STOPPED":
            if (!row.runner_id || !(await this.runnerLive(trx, row.runner_id)))
              throw runnerUnavailable(row);
            return {
              change: { state: "STOPPING" },
              cancelPending: true,
              commands: [{ case: "stopSandbox", value: { sandboxId } }],
            };
          case "DESTROYED":
            return this.decideDelete(row, trx);
          default:
            throw stateConflict(rowState(row), "recover", () => false);
        }
      },
    );
    if (options.wait === false) return sandbox;
    return this.waitFor(organizationId, sandboxId, target, timeout, signal);
  }

  /** update changes labels, public and the auto-* intervals (any state but DESTROYED). */
  async update(
    organizationId: string,
    sandboxId: string,
    input: UpdateSandboxInput,
  ): Promise<Sandbox> {
    const known = [
      "labels",
      "public",
      "auto_stop_interval",
      "auto_archive_interval",
      "auto_delete_interval",
    ];
    const v = new Violations();
    for (const path of input.paths)
      if (!known.includes(path))
        v.add("update_mask", `unknown path ${path}; allowed: ${known.join(", ")}`);
    const paths = new Set(input.paths);
    const all = paths.size === 0;
    const columns: Record<string, unknown> = {};
    if (paths.has("labels") || (all && Object.keys(input.labels).length > 0)) {
      validateLabels(input.labels, v);
      columns.labels = json(input.labels);
    }
    if (paths.has("public") || (all && input.public !== undefined))
      columns.public = input.public ?? false;
    const interval = (
      path: string,
      ms: number | undefined,
      column: string,
      fallback: number,
      maxDays: number,
    ) => {
      if (paths.has(path) || (all && ms !== undefined))
        columns[column] = intervalSeconds(path, ms, fallback, maxDays, v);
    };
    interval(
      "auto_stop_interval",
      input.autoStopMs,
      "auto_stop_seconds",
      DEFAULT_AUTO_STOP_SECONDS,
      INTERVAL_MAX_DAYS.autoStop,
    );
    interval(
      "auto_archive_interval",
      input.autoArchiveMs,
      "auto_archive_seconds",
      DEFAULT_AUTO_ARCHIVE_SECONDS,
      INTERVAL_MAX_DAYS.autoArchive,
    );
    interval(
      "auto_delete_interval",
      input.autoDeleteMs,
      "auto_delete_seconds",
      0,
      INTERVAL_MAX_DAYS.autoDelete,
    );
    v.throwIfAny();
    return this.mutate({ organizationId }, sandboxId, async (row) => {
      if (!STATE_TABLE[row.state as SandboxStateName].update)
        throw stateConflict(rowState(row), "update", (r) => r.update);
      if (Object.keys(columns).length === 0) return undefined;
      return { columns };
    });
  }

  // ---------------------------------------------------------------- waiting and watching

  /**
   * waitFor returns the sandbox once it reaches `target`. It throws the sandbox's error when it
   * falls into ERROR, FAILED_PRECONDITION when it is driven elsewhere meanwhile (or deleted),
   * DEADLINE_EXCEEDED (WAIT_TIMED_OUT) after timeoutMs, and the abort reason when `signal`
   * aborts. It listens on the event bus and re-reads the row, so no change is missed.
   */
  async waitFor(
    organizationId: string,
    sandboxId: string,
    target: DesiredStateName,
    timeoutMs: number,
    signal?: AbortSignal,
  ): Promise<Sandbox> {
    let wake: (() => void) | undefined;
    const unsubscribe = await subscribeSandbox(this.events, sandboxId, () => wake?.());
    const deadline = Date.now() + timeoutMs;
    try {
      for (;;) {
        if (signal?.aborted) throw abortError(signal);
        // Arm the wake-up before reading, so an event between the read and the sleep is not lost.
        const woken = new Promise<void>((resolve) => {
          wake = resolve;
        });
        const sandbox = rowToSandbox(await this.loadRow(organizationId, sandboxId));
        if (sandbox.state === target) return sandbox;
        if (sandbox.state === "ERROR") throw sandboxError(sandbox);
        if (sandbox.state === "DESTROYED" || sandbox.desiredState !== target) {
          throw failedPrecondition(
            "SANDBOX_STATE_CONFLICT",
            `sandbox ${sandboxId} is now ${sandbox.state} heading for ${sandbox.desiredState}; it will not become ${target}`,
            { sandboxId, state: sandbox.state, allowedStates: target },
          );
        }
        const left = deadline - Date.now();
        if (left <= 0) {
          throw new CoveError(
            "deadlineExceeded",
            "WAIT_TIMED_OUT",
            `sandbox ${sandboxId} did not become ${target} within ${Math.round(timeoutMs / 1000)}s (it is ${sandbox.state}); the operation continues`,
            { sandboxId, state: sandbox.state, targetState: target },
          );
        }
        let timer: NodeJS.Timeout | undefined;
        let onAbort: (() => void) | undefined;
        await Promise.race([
          woken,
          new Promise<void>((resolve) => {
            timer = setTimeout(resolve, Math.min(left, this.options.pollMs));
            onAbort = resolve;
            signal?.addEventListener("abort", onAbort, { once: true });
          }),
        ]);
        clearTimeout(timer);
        if (onAbort) signal?.removeEventListener("abort", onAbort);
      }
    } finally {
      await unsubscribe();
    }
  }

  /**
   * watch yields the sandbox as it is now, then one stateChange per change of state or desired
   * state (in order; quick intermediate states may be skipped), a keepalive after
   * watchKeepaliveMs of silence, and ends after DESTROYED, after maxWatchMs, or when `signal`
   * aborts (the client left). NOT_FOUND for an unknown sandbox; RESOURCE_EXHAUSTED
   * (STREAM_LIMIT_EXCEEDED) beyond maxWatchesPerOrganization concurrent watches on this replica.
   */
  async *watch(
    organizationId: string,
    sandboxId: string,
    signal?: AbortSignal,
  ): AsyncGenerator<WatchEvent> {
    const limit = this.options.maxWatchesPerOrganization;
    const count = this.watches.get(organizationId) ?? 0;
    if (count >= limit) {
      throw resourceExhausted(
        "STREAM_LIMIT_EXCEEDED",
        `at most ${limit} concurrent WatchSandbox streams per organization`,
        { limit: String(limit) },
      );
    }
    this.watches.set(organizationId, count + 1);
    // One queue carries events, poll ticks and keepalive ticks, so that closing it (client
    // gone, lifetime over) always ends the loop below promptly.
    const queue = new AsyncQueue<SandboxEvent | "poll" | "keepalive">();
    const close = () => queue.close();
    const poll = setInterval(() => queue.push("poll"), this.options.pollMs);
    const lifetime = setTimeout(close, this.options.maxWatchMs);
    let keepalive: NodeJS.Timeout | undefined;
    const armKeepalive = () => {
      clearTimeout(keepalive);
      keepalive = setTimeout(() => queue.push("keepalive"), this.options.watchKeepaliveMs);
    };
    signal?.addEventListener("abort", close, { once: true });
    let unsubscribe: (() => Promise<void>) | undefined;
    try {
      unsubscribe = await subscribeSandbox(this.events, sandboxId, (event) => queue.push(event));
      let last = rowToSandbox(await this.loadRow(organizationId, sandboxId));
      yield { kind: "initial", sandbox: last };
      if (last.state === "DESTROYED") return;
      armKeepalive();
      for await (const item of queue) {
        if (item === "keepalive") {
          yield { kind: "keepalive", time: new Date() };
          armKeepalive();
          continue;
        }
        let next: Sandbox;
        if (item === "poll") {
          const row = await this.db<SandboxRow>("sandboxes")
            .where({ id: sandboxId, organization_id: organizationId })
            .first();
          if (!row) return;
          next = rowToSandbox(row);
        } else {
          next = item.sandbox;
          if (next.organizationId !== organizationId) continue;
        }
        if (next.version <= last.version) continue;
        const changed = next.state !== last.state || next.desiredState !== last.desiredState;
        const previousState = last.state;
        last = next;
        if (!changed) continue;
        yield { kind: "stateChange", sandbox: next, previousState };
        if (next.state === "DESTROYED") return;
        armKeepalive();
      }
    } finally {
      clearInterval(poll);
      clearTimeout(lifetime);
      clearTimeout(keepalive);
      signal?.removeEventListener("abort", close);
      queue.close();
      await unsubscribe?.();
      const left = (this.watches.get(organizationId) ?? 1) - 1;
      if (left > 0) this.watches.set(organizationId, left);
      else this.watches.delete(organizationId);
    }
  }

  // ---------------------------------------------------------------- access

  /** createPreviewUrl mints a preview token for one port (1-65535) and builds the URLs. */
  async createPreviewUrl(
    organizationId: string,
    sandboxId: string,
    port: number,
    expiryMs?: number,
  ): Promise<PreviewUrlResult> {
    const v = new Violations();
    if (!Number.isInteger(port) || port < 1 || port > 65535) v.add("port", "must be 1-65535");
    const ms = tokenExpiryMs("preview", expiryMs, v);
    v.throwIfAny();
    const row = await this.tokenTarget(organizationId, sandboxId);
    const minted = await mintAccessToken(this.db, {
      kind: "preview",
      organizationId,
      sandboxId: row.id,
      port,
      expiryMs: ms,
    });
    const url = previewUrl(this.options.urls.previewUrlTemplate, port, row.id);
    return {
      url,
      token: minted.token,
      signedUrl: signedPreviewUrl(url, this.options.urls.signedUrlParam, minted.token),
      expireTime: minted.expireTime,
    };
  }

  /** createSshAccess mints an SSH token (the SSH user name). */
  async createSshAccess(
    organizationId: string,
    sandboxId: string,
    expiryMs?: number,
  ): Promise<SshAccessResult> {
    const v = new Violations();
    const ms = tokenExpiryMs("ssh", expiryMs, v);
    v.throwIfAny();
    const row = await this.tokenTarget(organizationId, sandboxId);
    const minted = await mintAccessToken(this.db, {
      kind: "ssh",
      organizationId,
      sandboxId: row.id,
      expiryMs: ms,
    });
    const { sshHost: host, sshPort: port } = this.options.urls;
    return {
      token: minted.token,
      sshCommand: `ssh ${minted.token}@${host} -p ${port}`,
      host,
      port,
      expireTime: minted.expireTime,
    };
  }

  /** revokeSshAccess revokes one SSH token (or all of the sandbox's when `token` is empty). */
  async revokeSshAccess(organizationId: string, sandboxId: string, token: string): Promise<void> {
    await this.loadRow(organizationId, sandboxId);
    const ids = await revokeSshTokens(this.db, organizationId, sandboxId, token);
    if (ids.length > 0) {
      await publishAccessRevoked(this.events, { organizationId, sandboxId, tokenIds: ids }).catch(
        (err) => this.logger.warn("could not publish revoked tokens", { err, sandboxId }),
      );
    }
  }

  /** createSandboxToken mints a bearer token for the sandbox's toolbox and previews. */
  async createSandboxToken(
    organizationId: string,
    sandboxId: string,
    expiryMs?: number,
  ): Promise<SandboxTokenResult> {
    const v = new Violations();
    const ms = tokenExpiryMs("sandbox", expiryMs, v);
    v.throwIfAny();
    const row = await this.tokenTarget(organizationId, sandboxId);
    const minted = await mintAccessToken(this.db, {
      kind: "sandbox",
      organizationId,
      sandboxId: row.id,
      expiryMs: ms,
    });
    return {
      token: minted.token,
      toolboxUrl: this.options.urls.toolboxUrl,
      expireTime: minted.expireTime,
    };
  }

  private async tokenTarget(organizationId: string, sandboxId: string): Promise<SandboxRow> {
    const row = await this.loadRow(organizationId, sandboxId);
    if (!STATE_TABLE[row.state as SandboxStateName].tokens)
      throw stateConflict(rowState(row), "grant access to", (r) => r.tokens);
    return row;
  }

  // ---------------------------------------------------------------- SandboxStateSink

  /** applyReport records what the sandbox's own runner observed (see observe for what is believed). */
  async applyReport(runnerId: string, report: SandboxReportData): Promise<void> {
    await this.mutate({}, report.sandboxId, async (row, trx) => {
      if (row.runner_id !== runnerId) return undefined;
      if (report.observeTime.getTime() < new Date(row.state_change_time).getTime())
        return undefined;
      return this.observe(row, trx, report);
    });
  }

  /**
   * applyCommandOutcome records a lifecycle command's result: success moves the sandbox to the
   * command's goal (STARTED also records the daemon socket path), failure to ERROR with the
   * runner's reason. Ignored for another runner's sandbox, a DESTROYED one, a command whose goal
   * is no longer the desired state, a command superseded by a newer one, and cancellations.
   */
  async applyCommandOutcome(command: OutboxCommand, outcome: CommandOutcome): Promise<void> {
    const goal = COMMAND_GOAL[command.kind];
    if (!command.sandboxId || !goal) return;
    await this.mutate({}, command.sandboxId, async (row, trx) => {
      if (row.runner_id !== command.runnerId || row.state === "DESTROYED") return undefined;
      if (row.desired_state !== goal) return undefined;
      if (await newerCommandExists(trx, row.id, command.id)) return undefined;
      if (outcome.ok) {
        const report = outcome.report;
        const columns: Record<string, unknown> = {};
        if (goal === "STARTED" && outcome.daemonSocketPath)
          columns.daemon_socket_path = outcome.daemonSocketPath;
        if (
          report &&
          report.state !== goal &&
          (report.state === "ERROR" || report.errorReason !== "")
        ) {
          if (row.state === "ERROR") return undefined;
          const reason = reasonName(report.errorReason, defaultReason(goal));
          return {
            change: {
              state: "ERROR",
              error: {
                reason,
                message: report.errorMessage || `${command.kind} ended in ${report.state}`,
                recoverable: !PERMANENT_ERROR_REASONS.has(reason),
              },
            },
            columns,
          };
        }
        if (row.state === goal && Object.keys(columns).length === 0) return undefined;
        return { change: row.state === goal ? undefined : { state: goal }, columns };
      }
      if (outcome.reason === "COMMAND_CANCELLED") return undefined;
      if (row.state === goal || row.state === "ERROR") return undefined;
      const reason = reasonName(outcome.reason, defaultReason(goal));
      return {
        change: {
          state: "ERROR",
          error: {
            reason,
            message: `${command.kind} failed: ${outcome.message || reason}`,
            recoverable: !PERMANENT_ERROR_REASONS.has(reason),
          },
        },
      };
    });
  }

  /**
   * reconcileInventory compares a runner's full inventory with the database. Rows in the
   * inventory get the report applied. Rows missing from it: DESTROYED when their desired state
   * is DESTROYED; left alone while a create or restore command for them is live, before any
   * container exists (PENDING_BUILD, BUILDING_SNAPSHOT, ARCHIVED) or when already in ERROR;
   * otherwise ERROR SANDBOX_EXITED ("container vanished", recoverable when desired STARTED).
   * Containers with no row, a DESTROYED row or another runner's row are returned as orphans.
   */
  async reconcileInventory(
    runnerId: string,
    inventory: SandboxReportData[],
  ): Promise<{ orphans: string[] }> {
    const present = new Map(
      inventory.filter((r) => r.state !== "DESTROYED").map((r) => [r.sandboxId, r] as const),
    );
    const rows: Array<{ id: string }> = await this.db("sandboxes")
      .where({ runner_id: runnerId })
      .whereNot("state", "DESTROYED")
      .select("id");
    for (const { id } of rows) {
      const report = present.get(id);
      try {
        if (report) await this.applyReport(runnerId, report);
        else await this.markVanished(runnerId, id);
      } catch (err) {
        this.logger.error("reconcile failed for a sandbox", { err, sandboxId: id, runnerId });
      }
    }
    const ids = [...present.keys()];
    const known: Array<{ id: string; state: string; runner_id: string | null }> =
      ids.length === 0
        ? []
        : await this.db("sandboxes").whereIn("id", ids).select("id", "state", "runner_id");
    const live = new Set(
      known.filter((r) => r.state !== "DESTROYED" && r.runner_id === runnerId).map((r) => r.id),
    );
    return { orphans: ids.filter((id) => !live.has(id)) };
  }

  private async markVanished(runnerId: string, sandboxId: string): Promise<void> {
    await this.mutate({}, sandboxId, async (row, trx) => {
      if (row.runner_id !== runnerId || row.state === "DESTROYED") return undefined;
      if (row.desired_state === "DESTROYED") return { change: { state: "DESTROYED" } };
      if (["PENDING_BUILD", "BUILDING_SNAPSHOT", "ARCHIVED", "ERROR"].includes(row.state))
        return undefined;
      const pendingCreate = await trx("runner_commands")
        .where({ sandbox_id: sandboxId })
        .whereIn("kind", ["createSandbox", "restoreSandbox"])
        .whereIn("state", LIVE_COMMAND_STATES)
        .first("id");
      if (pendingCreate) return undefined;
      return {
        change: {
          state: "ERROR",
          error: {
            reason: "SANDBOX_EXITED",
            message: `the sandbox's container vanished from runner ${runnerId}; its filesystem is lost`,
            recoverable: row.desired_state === "STARTED",
          },
        },
      };
    });
  }

  // ---------------------------------------------------------------- used by the timers

  /** autoStop stops an idle STARTED sandbox (no wait). Ignores sandboxes that moved on. */
  async autoStop(sandboxId: string): Promise<void> {
    await this.stopNow({}, sandboxId, false, true);
  }

  /** autoDelete deletes a sandbox whose auto-delete interval passed (no wait). */
  async autoDelete(sandboxId: string): Promise<void> {
    await this.deleteNow({}, sandboxId);
  }

  /**
   * failStuck puts a sandbox that made no progress in a transitional state (and has no live
   * command) into ERROR with reason COMMAND_DEADLINE_EXCEEDED, recoverable.
   */
  async failStuck(sandboxId: string, olderThan: Date): Promise<boolean> {
    let failed = false;
    await this.mutate({}, sandboxId, async (row, trx) => {
      const rule = STATE_TABLE[row.state as SandboxStateName];
      if (rule.kind !== "transitional") return undefined;
      if (new Date(row.state_change_time).getTime() >= olderThan.getTime()) return undefined;
      const live = await trx("runner_commands")
        .where({ sandbox_id: sandboxId })
        .whereIn("state", LIVE_COMMAND_STATES)
        .first("id");
      if (live) return undefined;
      failed = true;
      return {
        change: {
          state: "ERROR",
          error: {
            reason: "COMMAND_DEADLINE_EXCEEDED",
            message: `no progress while ${row.state} since ${new Date(row.state_change_time).toISOString()} and no command is outstanding`,
            recoverable: true,
          },
        },
      };
    });
    return failed;
  }

  // ---------------------------------------------------------------- internals

  private async stopNow(
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

  private async deleteNow(scope: { organizationId?: string }, sandboxId: string): Promise<Sandbox> {
    return this.mutate(scope, sandboxId, (row, trx) => this.decideDelete(row, trx));
  }

  private async decideDelete(
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
    const delivered =
      row.runner_id !== null &&
      (await trx("runner_commands")
        .where({ sandbox_id: row.id })
        .where((q) => q.whereNotNull("send_time").orWhereNotIn("state", ["PENDING", "FAILED"]))
        .first("id")) !== undefined;
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

  private async decideStart(
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
  private async observe(
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
      const pendingCreate = await trx("runner_commands")
        .where({ sandbox_id: row.id })
        .whereIn("kind", ["createSandbox", "restoreSandbox"])
        .whereIn("state", LIVE_COMMAND_STATES)
        .first("id");
      if (pendingCreate) return undefined;
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
  private async mutate(
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
        await trx("runner_commands").where({ sandbox_id: row.id, state: "PENDING" }).update({
          state: "FAILED",
          error_reason: "COMMAND_CANCELLED",
          error_message: "superseded by a newer request before it was sent",
          finish_time: now,
        });
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

  private async loadRow(organizationId: string, sandboxId: string): Promise<SandboxRow> {
    const row = await this.db<SandboxRow>("sandboxes")
      .where({ id: sandboxId, organization_id: organizationId })
      .first();
    if (!row) throw sandboxNotFound(sandboxId);
    return row;
  }

  private runnerLive(trx: Knex.Transaction, runnerId: string): Promise<boolean> {
    return isRunnerLive(trx, runnerId, { heartbeatFreshMs: this.options.heartbeatFreshMs });
  }

  private waitTimeout(options: WaitOptions, fallback: number): number {
    const v = new Violations();
    const ms = waitTimeout(options.waitTimeoutMs, fallback, v);
    v.throwIfAny();
    return ms;
  }

  private notify(runnerId: string | null): void {
    if (!runnerId) return;
    try {
      this.dispatcher.notify(runnerId);
    } catch (err) {
      // The hub also polls the outbox; a failed hint only delays delivery.
      this.logger.warn("dispatcher.notify failed", { err, runnerId });
    }
  }

  private async publish(event: SandboxEvent): Promise<void> {
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

function rowState(row: SandboxRow): { id: string; state: SandboxStateName } {
  return { id: row.id, state: row.state as SandboxStateName };
}

function runnerUnavailable(row: SandboxRow): CoveError {
  return new CoveError(
    "unavailable",
    "RUNNER_UNAVAILABLE",
    `the runner holding sandbox ${row.id} is not connected; retry later or delete the sandbox`,
    { runnerId: row.runner_id ?? "", sandboxId: row.id },
  );
}

function defaultReason(goal: DesiredStateName): ErrorReasonName {
  if (goal === "STARTED") return "SANDBOX_START_FAILED";
  if (goal === "ARCHIVED") return "ARCHIVE_FAILED";
  return "INTERNAL";
}

/** The createSandbox command for a row: SandboxSpec from what is stored. */
function createCommand(row: SandboxRow): CommandBody {
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
        networkPolicy: {
          mode: NetworkPolicyMode[policy.mode ?? "BLOCK_ALL"],
          allowCidrs: policy.allowCidrs ?? [],
        },
        volumes: [],
        runtimeClass: row.runtime_class,
      },
    },
  };
}

/** sameSpec says whether a stored sandbox was created from an equivalent request. */
function sameSpec(row: SandboxRow, spec: ValidatedCreate): boolean {
  const sameMap = (a: Record<string, string>, b: Record<string, string>) => {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => a[k] === b[k]);
  };
  const policy = row.network_policy ?? {};
  return (
    row.image === spec.image &&
    row.cpu_millicores === spec.cpuMillicores &&
    row.memory_mib === spec.memoryMib &&
    row.disk_mib === spec.diskMib &&
    sameMap(row.env ?? {}, spec.env) &&
    sameMap(row.labels ?? {}, spec.labels) &&
    row.os_user === spec.osUser &&
    row.public === spec.public &&
    (policy.mode ?? "BLOCK_ALL") === spec.networkPolicy.mode &&
    json(policy.allowCidrs ?? []) === json(spec.networkPolicy.allowCidrs) &&
    row.auto_stop_seconds === spec.autoStopSeconds &&
    row.auto_archive_seconds === spec.autoArchiveSeconds &&
    row.auto_delete_seconds === spec.autoDeleteSeconds &&
    (spec.region === "" || row.region === spec.region) &&
    (spec.runtimeClass === "" || row.runtime_class === spec.runtimeClass)
  );
}

/**
 * checkQuota counts the organization's usage (its row must be locked by the caller) and throws
 * RESOURCE_EXHAUSTED QUOTA_EXCEEDED naming the first quota the addition would break. Quotas of
 * zero are not limits.
 */
async function checkQuota(
  trx: Knex.Transaction,
  org: OrganizationRow,
  add: { sandboxes: number; cpuMillicores: number; memoryMib: number; diskMib: number },
): Promise<void> {
  const running = RUNNING_STATES.map((s) => `'${s}'`).join(",");
  const [usage] = await trx("sandboxes")
    .where({ organization_id: org.id })
    .whereNotIn("state", RELEASED_STATES as SandboxStateName[])
    .select(
      trx.raw("count(*) as sandboxes"),
      trx.raw(
        `coalesce(sum(case when state in (${running}) then cpu_millicores else 0 end), 0) as cpu`,
      ),
      trx.raw(
        `coalesce(sum(case when state in (${running}) then memory_mib else 0 end), 0) as memory`,
      ),
      trx.raw("coalesce(sum(disk_mib), 0) as disk"),
    );
  const checks: Array<[string, number, number, number]> = [
    ["max_sandboxes", org.max_sandboxes, Number(usage?.sandboxes ?? 0), add.sandboxes],
    ["total_cpu_millicores", org.max_cpu_millicores, Number(usage?.cpu ?? 0), add.cpuMillicores],
    ["total_memory_mib", org.max_memory_mib, Number(usage?.memory ?? 0), add.memoryMib],
    ["total_disk_mib", org.max_disk_mib, Number(usage?.disk ?? 0), add.diskMib],
  ];
  for (const [quota, limit, used, requested] of checks) {
    // A limit of zero means no limit (cove.iam.v1.Quota), as UpdateQuota stores it.
    if (requested > 0 && limit > 0 && used + requested > limit) {
      throw resourceExhausted(
        "QUOTA_EXCEEDED",
        `the organization's ${quota} quota (${limit}) is used up: ${used} in use, ${requested} requested`,
        { quota, limit: String(limit), used: String(used), requested: String(requested) },
      );
    }
  }
}

/** newerCommandExists says whether the sandbox got a command after `commandId`. */
async function newerCommandExists(
  trx: Knex.Transaction,
  sandboxId: string,
  commandId: string,
): Promise<boolean> {
  const row = await trx("runner_commands")
    .where({ sandbox_id: sandboxId })
    .whereNot({ id: commandId })
    .where(
      "create_time",
      ">",
      trx("runner_commands").where({ id: commandId }).select("create_time"),
    )
    .first("id");
  return row !== undefined;
}

/** decodePageToken reads an opaque page token, checking it belongs to the same filters. */
function decodePageToken(
  token: string,
  filterHash: string,
  v: Violations,
): { t: string; i: string } | undefined {
  try {
    const parsed = JSON.parse(Buffer.from(token, "base64url").toString("utf8")) as {
      t?: unknown;
      i?: unknown;
      f?: unknown;
    };
    if (
      typeof parsed.t !== "string" ||
      typeof parsed.i !== "string" ||
      Number.isNaN(Date.parse(parsed.t))
    )
      throw new Error("malformed");
    if (parsed.f !== filterHash) {
      v.add(
        "page_token",
        "was issued for different filters; keep labels and states unchanged between pages",
      );
      return undefined;
    }
    return { t: parsed.t, i: parsed.i };
  } catch {
    v.add("page_token", "is not a token this server issued");
    return undefined;
  }
}
