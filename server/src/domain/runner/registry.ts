import {
  alreadyExists,
  CoveError,
  failedPrecondition,
  invalidArgument,
  notFound,
} from "@cove/common";
import type { Knex } from "knex";
import { deleteRunnerCommands } from "../outbox/runner-commands.js";
import { occupancyOf, RUNNER_BOUND_STATES } from "../sandbox/occupancy.js";
import type { SandboxStateName } from "../sandbox/ports.js";
import { newRunnerToken } from "./tokens.js";

/** A runner state as stored in runners.state: a cove.runner.v1.RunnerState name without prefix. */
export type RunnerStateName = "PENDING" | "CONNECTED" | "DISCONNECTED";

/** Default interval between runner heartbeats, ms (HelloAck.heartbeat_interval). */
export const DEFAULT_HEARTBEAT_INTERVAL_MS = 10_000;

/** A runner counts as alive while its last heartbeat is at most this many intervals old. */
export const HEARTBEAT_MISSES_ALLOWED = 3;

/** The runners table's row as knex returns it. */
export interface RunnerRow {
  id: string;
  name: string;
  version: string;
  region: string;
  token_hash: string | null;
  state: string;
  draining: boolean;
  cpu_millicores: number;
  memory_mib: number;
  disk_mib: number;
  max_sandboxes: number;
  metrics: Record<string, number> | string;
  runtimes: string[];
  toolbox_gateway_url: string;
  connected_server: string;
  create_time: Date;
  connect_time: Date | null;
  last_heartbeat_time: Date | null;
}

/** An amount of runner resources. */
export interface RunnerResources {
  /** CPU in thousandths of a core. */
  cpuMillicores: number;
  /** Memory in MiB. */
  memoryMib: number;
  /** Disk in MiB. */
  diskMib: number;
  /** A number of sandboxes. */
  maxSandboxes: number;
}

/** A runner's last reported measurements (cove.runner.v1.RunnerMetrics field names). */
export interface RunnerMetricsData {
  cpuUsedMillicores: number;
  memoryUsedMib: number;
  diskUsedMib: number;
  diskFreeMib: number;
  startedSandboxes: number;
  sandboxes: number;
  runningCommands: number;
}

/** A runner as the domain sees it. */
export interface RunnerRecord {
  /** Stable id. */
  runnerId: string;
  /** Display name. */
  name: string;
  /** Runner software version. */
  version: string;
  /** Region; "" is the default region. */
  region: string;
  /** Whether it is connected. */
  state: RunnerStateName;
  /** True when no new sandboxes are placed on it. */
  draining: boolean;
  /** What it offers. */
  capacity: RunnerResources;
  /** What its sandboxes were given. */
  allocated: RunnerResources;
  /** Last reported measurements. */
  metrics: RunnerMetricsData;
  /** OCI runtimes it offers. */
  runtimes: string[];
  /** Where the proxy reaches its toolbox gateway. */
  toolboxGatewayUrl: string;
  /** When it was registered. */
  createTime: Date;
  /** When its current (or last) stream opened. */
  connectTime: Date | null;
  /** When its last heartbeat was recorded. */
  lastHeartbeatTime: Date | null;
}

const RUNNER_ID = /^[a-z0-9-]{1,63}$/;

/** isValidRunnerId says whether `id` is 1–63 characters of [a-z0-9-]. */
export function isValidRunnerId(id: string): boolean {
  return RUNNER_ID.test(id);
}

/** The fields isRunnerReady looks at (a runners row has them all). */
export type RunnerHealthFields = Pick<RunnerRow, "state" | "draining" | "last_heartbeat_time">;

/**
 * isRunnerAlive says whether a runner holds a stream somewhere: CONNECTED, with a heartbeat
 * recorded within HEARTBEAT_MISSES_ALLOWED intervals of `now`.
 */
export function isRunnerAlive(
  row: RunnerHealthFields,
  now: Date,
  heartbeatIntervalMs = DEFAULT_HEARTBEAT_INTERVAL_MS,
): boolean {
  if (row.state !== "CONNECTED" || !row.last_heartbeat_time) return false;
  const age = now.getTime() - new Date(row.last_heartbeat_time).getTime();
  return age <= HEARTBEAT_MISSES_ALLOWED * heartbeatIntervalMs;
}

/**
 * isRunnerReady says whether the scheduler may place a new sandbox on a runner: alive (see
 * isRunnerAlive) and not draining.
 */
export function isRunnerReady(
  row: RunnerHealthFields,
  now: Date,
  heartbeatIntervalMs = DEFAULT_HEARTBEAT_INTERVAL_MS,
): boolean {
  return !row.draining && isRunnerAlive(row, now, heartbeatIntervalMs);
}

/**
 * whereRunnerReady narrows a query on `runners` (optionally aliased) to the runners
 * isRunnerReady accepts, for a scheduler that picks in SQL.
 */
export function whereRunnerReady<Q extends Knex.QueryBuilder>(
  query: Q,
  now: Date,
  heartbeatIntervalMs = DEFAULT_HEARTBEAT_INTERVAL_MS,
  table = "runners",
): Q {
  const oldest = new Date(now.getTime() - HEARTBEAT_MISSES_ALLOWED * heartbeatIntervalMs);
  return query
    .where(`${table}.state`, "CONNECTED")
    .where(`${table}.draining`, false)
    .where(`${table}.last_heartbeat_time`, ">=", oldest) as Q;
}

function metricsOf(value: RunnerRow["metrics"]): RunnerMetricsData {
  const raw = (typeof value === "string" ? JSON.parse(value) : value) as Record<string, unknown>;
  const n = (key: keyof RunnerMetricsData) => {
    const v = raw?.[key];
    return typeof v === "number" && Number.isFinite(v) ? v : 0;
  };
  return {
    cpuUsedMillicores: n("cpuUsedMillicores"),
    memoryUsedMib: n("memoryUsedMib"),
    diskUsedMib: n("diskUsedMib"),
    diskFreeMib: n("diskFreeMib"),
    startedSandboxes: n("startedSandboxes"),
    sandboxes: n("sandboxes"),
    runningCommands: n("runningCommands"),
  };
}

const noResources: RunnerResources = {
  cpuMillicores: 0,
  memoryMib: 0,
  diskMib: 0,
  maxSandboxes: 0,
};

function toRecord(row: RunnerRow, allocated: RunnerResources = noResources): RunnerRecord {
  return {
    runnerId: row.id,
    name: row.name,
    version: row.version,
    region: row.region,
    state: (["PENDING", "CONNECTED", "DISCONNECTED"].includes(row.state)
      ? row.state
      : "DISCONNECTED") as RunnerStateName,
    draining: row.draining,
    capacity: {
      cpuMillicores: row.cpu_millicores,
      memoryMib: row.memory_mib,
      diskMib: row.disk_mib,
      maxSandboxes: row.max_sandboxes,
    },
    allocated,
    metrics: metricsOf(row.metrics),
    runtimes: row.runtimes ?? [],
    toolboxGatewayUrl: row.toolbox_gateway_url,
    createTime: row.create_time,
    connectTime: row.connect_time,
    lastHeartbeatTime: row.last_heartbeat_time,
  };
}

/** What a runner says about itself in hello, as stored on its row. */
export interface RunnerHelloData {
  /** Display name; "" keeps the stored one. */
  name: string;
  /** Software version. */
  version: string;
  /** Region; "" keeps the stored one. */
  region: string;
  /** What it offers. */
  capacity: RunnerResources;
  /** OCI runtimes. */
  runtimes: string[];
  /** Toolbox gateway URL. */
  toolboxGatewayUrl: string;
}

/** Identifies one stream of a runner on its row: which replica holds it, and when it opened. */
export interface StreamStamp {
  /** The replica's id (runners.connected_server). */
  serverId: string;
  /** When the stream opened (runners.connect_time). */
  connectTime: Date;
}

/** Default and largest ListRunners page. */
const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 500;

function encodePageToken(lastId: string): string {
  return Buffer.from(`runner:${lastId}`, "utf8").toString("base64url");
}

function decodePageToken(token: string): string {
  const text = Buffer.from(token, "base64url").toString("utf8");
  const id = text.startsWith("runner:") ? text.slice("runner:".length) : "";
  if (!isValidRunnerId(id)) throw invalidArgument("page_token", "not a token this server issued");
  return id;
}

/**
 * RunnerRegistry keeps the runners table: registration and administration for operators, and
 * the connection bookkeeping the runner hub does on hello, heartbeat and disconnect.
 */
export class RunnerRegistry {
  constructor(
    private readonly db: Knex,
    private readonly options: { heartbeatIntervalMs?: number } = {},
  ) {}

  private get heartbeatMs(): number {
    return this.options.heartbeatIntervalMs ?? DEFAULT_HEARTBEAT_INTERVAL_MS;
  }

  /** create registers a runner in PENDING and returns it with its token (shown only once). */
  async create(input: {
    runnerId: string;
    name: string;
    region: string;
  }): Promise<{ runner: RunnerRecord; token: string }> {
    if (!isValidRunnerId(input.runnerId))
      throw invalidArgument("runner_id", "must be 1-63 characters of [a-z0-9-]");
    if (input.name.length > 200) throw invalidArgument("name", "at most 200 characters");
    if (input.region.length > 63) throw invalidArgument("region", "at most 63 characters");
    const { token, hash } = newRunnerToken();
    const rows = await this.db("runners")
      .insert({
        id: input.runnerId,
        name: input.name || input.runnerId,
        region: input.region,
        token_hash: hash,
        state: "PENDING",
      })
      .onConflict("id")
      .ignore()
      .returning<RunnerRow[]>("*");
    const row = rows[0];
    if (!row)
      throw alreadyExists("RUNNER_ALREADY_EXISTS", `runner ${input.runnerId} already exists`, {
        runnerId: input.runnerId,
      });
    return { runner: toRecord(row), token };
  }

  /** get returns one runner; NOT_FOUND (RUNNER_NOT_FOUND) when there is none. */
  async get(runnerId: string): Promise<RunnerRecord> {
    const row = await this.db("runners").where({ id: runnerId }).first<RunnerRow | undefined>();
    if (!row) throw runnerNotFound(runnerId);
    const allocated = await this.allocated([row.id]);
    return toRecord(row, allocated.get(row.id));
  }

  /** list returns one page of runners by id, filtered by region and states. */
  async list(input: {
    pageSize: number;
    pageToken: string;
    region: string;
    states: RunnerStateName[];
  }): Promise<{ runners: RunnerRecord[]; nextPageToken: string }> {
    if (input.pageSize < 0) throw invalidArgument("page_size", "must not be negative");
    const size = Math.min(input.pageSize || DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE);
    const query = this.db("runners")
      .orderBy("id")
      .limit(size + 1);
    if (input.pageToken !== "") query.where("id", ">", decodePageToken(input.pageToken));
    if (input.region !== "") query.where("region", input.region);
    if (input.states.length > 0) query.whereIn("state", input.states);
    const rows = (await query) as RunnerRow[];
    const page = rows.slice(0, size);
    const allocated = await this.allocated(page.map((r) => r.id));
    const last = page[page.length - 1];
    return {
      runners: page.map((row) => toRecord(row, allocated.get(row.id))),
      nextPageToken: rows.length > size && last ? encodePageToken(last.id) : "",
    };
  }

  /** setDraining drains (true) or undrains (false) a runner and returns it. */
  async setDraining(runnerId: string, draining: boolean): Promise<RunnerRecord> {
    const updated = await this.db("runners").where({ id: runnerId }).update({ draining });
    if (updated === 0) throw runnerNotFound(runnerId);
    return this.get(runnerId);
  }

  /**
   * delete unregisters a runner, revoking its token. FAILED_PRECONDITION (RUNNER_NOT_EMPTY)
   * while it is connected or holds sandboxes in RUNNER_BOUND_STATES (not DESTROYED or ARCHIVED). Its finished
   * commands go with it; released sandbox rows keep their history without the runner.
   */
  async delete(runnerId: string, now = new Date()): Promise<void> {
    await this.db.transaction(async (trx) => {
      const row = await trx("runners")
        .where({ id: runnerId })
        .forUpdate()
        .first<RunnerRow | undefined>();
      if (!row) throw runnerNotFound(runnerId);
      if (isRunnerAlive(row, now, this.heartbeatMs))
        throw failedPrecondition("RUNNER_NOT_EMPTY", `runner ${runnerId} is connected`, {
          runnerId,
        });
      const held = await trx("sandboxes")
        .where({ runner_id: runnerId })
        .whereIn("state", RUNNER_BOUND_STATES as SandboxStateName[])
        .count<{ count: string }[]>({ count: "*" });
      const count = Number(held[0]?.count ?? 0);
      if (count > 0)
        throw failedPrecondition(
          "RUNNER_NOT_EMPTY",
          `runner ${runnerId} still holds ${count} sandbox(es); destroy or archive them first`,
          { runnerId, sandboxCount: String(count) },
        );
      await trx("sandboxes").where({ runner_id: runnerId }).update({ runner_id: null });
      await deleteRunnerCommands(trx, runnerId);
      await trx("runners").where({ id: runnerId }).delete();
    });
  }

  /** allocated sums what the given runners' sandboxes occupy (see Runner.allocated, sandbox/occupancy.ts). */
  async allocated(runnerIds: string[]): Promise<Map<string, RunnerResources>> {
    const out = new Map<string, RunnerResources>();
    for (const [id, o] of await occupancyOf(this.db, "runner_id", runnerIds))
      out.set(id, {
        cpuMillicores: o.cpuMillicores,
        memoryMib: o.memoryMib,
        diskMib: o.diskMib,
        maxSandboxes: o.onRunner,
      });
    return out;
  }

  /**
   * registerConnection records a runner's hello: CONNECTED on this replica from `stamp`, with
   * what it offers. `tokenRunnerId` is the id bound to the caller's token, or "" for the shared
   * registration token, which registers new runners but may not take over one that has its
   * own token. UNAUTHENTICATED (RUNNER_TOKEN_INVALID) otherwise.
   */
  async registerConnection(
    runnerId: string,
    tokenRunnerId: string,
    hello: RunnerHelloData,
    stamp: StreamStamp,
  ): Promise<void> {
    const fields = {
      version: hello.version,
      state: "CONNECTED",
      cpu_millicores: clampInt(hello.capacity.cpuMillicores),
      memory_mib: clampInt(hello.capacity.memoryMib),
      disk_mib: clampInt(hello.capacity.diskMib),
      max_sandboxes: clampInt(hello.capacity.maxSandboxes),
      runtimes: hello.runtimes,
      toolbox_gateway_url: hello.toolboxGatewayUrl,
      connected_server: stamp.serverId,
      connect_time: stamp.connectTime,
      last_heartbeat_time: stamp.connectTime,
    };
    const optional = {
      ...(hello.name !== "" ? { name: hello.name } : {}),
      ...(hello.region !== "" ? { region: hello.region } : {}),
    };
    if (tokenRunnerId !== "") {
      const updated = await this.db("runners")
        .where({ id: runnerId })
        .whereNotNull("token_hash")
        .update({ ...fields, ...optional });
      if (updated === 0) throw tokenInvalid("the runner's token was revoked");
      return;
    }
    const rows = await this.db("runners")
      .insert({ id: runnerId, name: hello.name || runnerId, region: hello.region, ...fields })
      .onConflict("id")
      .merge({ ...fields, ...optional })
      .where("runners.token_hash", null)
      .returning("id");
    if (rows.length === 0)
      throw tokenInvalid(
        "this runner has its own token; the shared registration token cannot take it over",
      );
  }

  /**
   * recordHeartbeat stores a heartbeat's time and metrics, if `stamp` is still the runner's
   * current stream. Returns whether it was.
   */
  async recordHeartbeat(
    runnerId: string,
    stamp: StreamStamp,
    at: Date,
    metrics: RunnerMetricsData | undefined,
  ): Promise<boolean> {
    const updated = await this.currentStream(runnerId, stamp).update({
      state: "CONNECTED",
      last_heartbeat_time: at,
      ...(metrics ? { metrics: JSON.stringify(metrics) } : {}),
    });
    return updated > 0;
  }

  /** markDisconnected sets DISCONNECTED if `stamp` is still the runner's current stream. */
  async markDisconnected(runnerId: string, stamp: StreamStamp): Promise<boolean> {
    const updated = await this.currentStream(runnerId, stamp).update({ state: "DISCONNECTED" });
    return updated > 0;
  }

  /**
   * markSilentDisconnected sets DISCONNECTED on CONNECTED runners whose last heartbeat is older
   * than HEARTBEAT_MISSES_ALLOWED intervals (their replica died without saying so). Returns
   * their ids.
   */
  async markSilentDisconnected(now: Date): Promise<string[]> {
    const oldest = new Date(now.getTime() - HEARTBEAT_MISSES_ALLOWED * this.heartbeatMs);
    const rows = (await this.db("runners")
      .where({ state: "CONNECTED" })
      .where((q) => q.where("last_heartbeat_time", "<", oldest).orWhereNull("last_heartbeat_time"))
      .update({ state: "DISCONNECTED" })
      .returning("id")) as Array<{ id: string }>;
    return rows.map((r) => r.id);
  }

  private currentStream(runnerId: string, stamp: StreamStamp) {
    return this.db("runners").where({
      id: runnerId,
      connected_server: stamp.serverId,
      connect_time: stamp.connectTime,
    });
  }
}

function clampInt(value: number): number {
  if (!Number.isFinite(value) || value < 0) return 0;
  return Math.min(Math.trunc(value), 2_147_483_647);
}

function runnerNotFound(runnerId: string): CoveError {
  return notFound("RUNNER_NOT_FOUND", `runner ${runnerId} not found`, { runnerId });
}

function tokenInvalid(message: string): CoveError {
  return new CoveError("unauthenticated", "RUNNER_TOKEN_INVALID", message);
}
