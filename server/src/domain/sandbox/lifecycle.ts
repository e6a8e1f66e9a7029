/**
 * SandboxLifecycle serves the SandboxService lifecycle calls (create, get, list, start, stop,
 * archive, delete, recover, update, watch) for the API handler, each in the caller's
 * organization (another organization's sandbox is NOT_FOUND), waiting when asked.
 */
import { createHash } from "node:crypto";
import {
  AsyncQueue,
  alreadyExists,
  CoveError,
  failedPrecondition,
  notFound,
  resourceExhausted,
} from "@cove/common";
import { newSandboxId } from "../../ids.js";
import {
  type CommandBody,
  commandStatus,
  enqueueCommand,
  latestCommandId,
} from "../outbox/runner-commands.js";
import { pickRunner } from "../runner/scheduler.js";
import {
  createCommand,
  json,
  type ListSandboxesQuery,
  policyMessage,
  reasonName,
  rowState,
  runnerUnavailable,
  SandboxCore,
  sandboxError,
  stateConflict,
  type UpdateSandboxInput,
  type WaitOptions,
  type WatchEvent,
} from "./core.js";
import { type SandboxEvent, subscribeSandbox } from "./events.js";
import { checkQuota } from "./occupancy.js";
import type { SandboxStateName } from "./ports.js";
import { type NetworkPolicyData, rowToSandbox, type Sandbox, type SandboxRow } from "./rows.js";
import { ALL_STATES, type DesiredStateName, STATE_TABLE } from "./states.js";
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
  validateNetwork,
} from "./validation.js";

/** How long UpdateSandbox waits for the runner to enforce a new network policy. */
const NETWORK_APPLY_TIMEOUT_MS = 30_000;

/** SandboxLifecycle: see the file comment. */
/**
 * withCreatedSandbox adds the id of a sandbox that a failed create did make to the error's
 * metadata, as "sandbox_id" (what the SDKs read to delete it) and "sandboxId".
 */
function withCreatedSandbox(err: unknown, sandboxId: string): unknown {
  if (!(err instanceof CoveError)) return err;
  return new CoveError(
    err.code,
    err.reason,
    err.message,
    { ...err.metadata, sandboxId, sandbox_id: sandboxId },
    err.violations,
  );
}

export class SandboxLifecycle extends SandboxCore {
  private readonly watches = new Map<string, number>();

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
      // Before anything is written: a refused image leaves nothing behind.
      await this.images.check(organizationId, spec.image);
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
    try {
      return await this.waitFor(
        organizationId,
        sandbox.id,
        "STARTED",
        outcome.spec.waitTimeoutMs,
        signal,
      );
    } catch (err) {
      throw withCreatedSandbox(err, sandbox.id);
    }
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
      "network_policy",
    ];
    const v = new Violations();
    for (const path of input.paths)
      if (!known.includes(path))
        v.add(
          "update_mask",
          `unknown path ${JSON.stringify(path.slice(0, 64))}; allowed: ${known.join(", ")}`,
        );
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
    let policy: NetworkPolicyData | undefined;
    if (paths.has("network_policy") || (all && input.networkPolicy !== undefined)) {
      policy = validateNetwork(
        input.networkPolicy ?? { mode: "UNSPECIFIED", allowCidrs: [], allowDomains: [] },
        v,
      );
      columns.network_policy = json(policy);
    }
    v.throwIfAny();
    let before: { state: string; policy: unknown } | undefined;
    const updated = await this.mutate({ organizationId }, sandboxId, async (row) => {
      if (!STATE_TABLE[row.state as SandboxStateName].update)
        throw stateConflict(rowState(row), "update", (r) => r.update);
      if (Object.keys(columns).length === 0) return undefined;
      before = { state: row.state, policy: row.network_policy ?? {} };
      // The runner holding a container gets the policy; a later create or start carries it otherwise.
      const commands: CommandBody[] =
        policy && row.state !== "ARCHIVED"
          ? [
              {
                case: "updateSandboxNetwork",
                value: { sandboxId, networkPolicy: policyMessage(policy) },
              },
            ]
          : [];
      return { columns, commands };
    });
    if (!policy || before?.state !== "STARTED" || !updated.runnerId) return updated;
    return this.awaitNetworkPolicy(organizationId, sandboxId, before.policy, policy);
  }

  /**
   * awaitNetworkPolicy waits for the runner to answer the newest network update of a STARTED
   * sandbox: the sandbox once enforced; the runner's refusal (with the previous policy put back)
   * as FAILED_PRECONDITION; UNAVAILABLE RUNNER_UNAVAILABLE when it does not answer in time.
   */
  private async awaitNetworkPolicy(
    organizationId: string,
    sandboxId: string,
    previous: unknown,
    policy: NetworkPolicyData,
  ): Promise<Sandbox> {
    const deadline = Date.now() + NETWORK_APPLY_TIMEOUT_MS;
    const commandId = await latestCommandId(this.db, sandboxId, "updateSandboxNetwork");
    while (commandId) {
      const row = await commandStatus(this.db, commandId);
      if (row?.state === "DONE") return rowToSandbox(await this.loadRow(organizationId, sandboxId));
      if (row?.state === "FAILED" && row.error_reason !== "COMMAND_DEADLINE_EXCEEDED") {
        await this.db("sandboxes")
          .where({ id: sandboxId, organization_id: organizationId })
          .whereRaw("network_policy = ?::jsonb", [json(policy)])
          .update({ network_policy: json(previous), update_time: new Date() });
        const reason = reasonName(row.error_reason, "RUNTIME_UNAVAILABLE");
        throw failedPrecondition(
          reason,
          `the runner refused the network policy; the previous one stays: ${row.error_message}`,
          { sandboxId },
        );
      }
      if (Date.now() > deadline || row?.state === "FAILED") break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new CoveError(
      "unavailable",
      "RUNNER_UNAVAILABLE",
      `the runner did not confirm the new network policy within ${NETWORK_APPLY_TIMEOUT_MS / 1000} s; it is kept and applied when the runner answers`,
      { sandboxId },
    );
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
    json(policy.allowDomains ?? []) === json(spec.networkPolicy.allowDomains) &&
    row.auto_stop_seconds === spec.autoStopSeconds &&
    row.auto_archive_seconds === spec.autoArchiveSeconds &&
    row.auto_delete_seconds === spec.autoDeleteSeconds &&
    (spec.region === "" || row.region === spec.region) &&
    (spec.runtimeClass === "" || row.runtime_class === spec.runtimeClass)
  );
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

/** abortError is what a cancelled wait throws. */
function abortError(signal: AbortSignal): unknown {
  return signal.reason ?? new CoveError("aborted", "INTERNAL", "the call was cancelled");
}
