/**
 * The scheduler: picks the runner a new sandbox goes to. Candidates are CONNECTED, not
 * draining, with a heartbeat fresher than `heartbeatFreshMs`, in the requested region (any when
 * empty) and offering the requested runtime. Allocation is counted from the database (the
 * sandboxes rows on each runner, as sandbox/occupancy.ts defines it), never from what runners
 * claim. A runner capacity field of 0
 * means "not limited". The least-loaded runner that fits wins (highest utilization after
 * placing, over count, CPU and memory, is lowest); its row is locked FOR UPDATE and re-counted
 * so that concurrent creates in different organizations cannot overfill it.
 */
import { failedPrecondition, resourceExhausted, unavailable } from "@cove/common";
import type { Knex } from "knex";
import { occupancyOf } from "../sandbox/occupancy.js";
import type { RunnerRow as StoredRunnerRow } from "./registry.js";

/** What a sandbox needs from a runner. */
export interface PlacementRequest {
  /** Region, or "" for any. */
  region: string;
  /** Runtime class, or "" for the runner's default. */
  runtimeClass: string;
  /** CPU. */
  cpuMillicores: number;
  /** Memory. */
  memoryMib: number;
  /** Disk. */
  diskMib: number;
}

/** Where a sandbox goes. */
export interface Placement {
  /** The chosen runner. */
  runnerId: string;
  /** Its region. */
  region: string;
  /** The runtime class the sandbox will run under (requested, or the runner's default). */
  runtimeClass: string;
}

/** What a runner has allocated to its sandboxes, counted from the database. */
export interface RunnerUsage {
  /** Sandboxes on the runner (OCCUPANCY: compute or disk). */
  sandboxes: number;
  /** CPU of sandboxes holding compute. */
  cpuMillicores: number;
  /** Memory of sandboxes holding compute. */
  memoryMib: number;
  /** Disk of sandboxes holding disk. */
  diskMib: number;
}

/** The runners columns placement reads (the table's row: registry.ts). */
type RunnerRow = Pick<
  StoredRunnerRow,
  | "id"
  | "region"
  | "state"
  | "draining"
  | "cpu_millicores"
  | "memory_mib"
  | "disk_mib"
  | "max_sandboxes"
  | "runtimes"
  | "last_heartbeat_time"
>;

/** The runtime class a runner uses when none is requested and it names none. */
export const FALLBACK_RUNTIME_CLASS = "runc";

/** runnerUsage counts what each runner's sandboxes occupy (see sandbox/occupancy.ts). */
export async function runnerUsage(
  trx: Knex | Knex.Transaction,
  runnerIds: string[],
): Promise<Map<string, RunnerUsage>> {
  const usage = new Map<string, RunnerUsage>();
  for (const [id, o] of await occupancyOf(trx, "runner_id", runnerIds))
    usage.set(id, {
      sandboxes: o.onRunner,
      cpuMillicores: o.cpuMillicores,
      memoryMib: o.memoryMib,
      diskMib: o.diskMib,
    });
  return usage;
}

/** The fraction of a capacity used after adding `add` (0 when the capacity is not limited). */
function fraction(used: number, add: number, capacity: number): number {
  return capacity > 0 ? (used + add) / capacity : 0;
}

/**
 * loadAfter is the runner's highest utilization after adding the request, or undefined when
 * the request does not fit. `addSandbox` is false when the sandbox already counts on the runner
 * (starting a stopped sandbox adds CPU and memory, not a sandbox or disk).
 */
export function loadAfter(
  runner: Pick<RunnerRow, "cpu_millicores" | "memory_mib" | "disk_mib" | "max_sandboxes">,
  usage: RunnerUsage,
  request: Pick<PlacementRequest, "cpuMillicores" | "memoryMib" | "diskMib">,
  addSandbox = true,
): number | undefined {
  const fractions = [
    fraction(usage.sandboxes, addSandbox ? 1 : 0, runner.max_sandboxes),
    fraction(usage.cpuMillicores, request.cpuMillicores, runner.cpu_millicores),
    fraction(usage.memoryMib, request.memoryMib, runner.memory_mib),
    fraction(usage.diskMib, addSandbox ? request.diskMib : 0, runner.disk_mib),
  ];
  if (fractions.some((f) => f > 1)) return undefined;
  return Math.max(...fractions);
}

/** Connected runners with a fresh heartbeat; `placing` also excludes draining ones. */
function liveRunners(trx: Knex | Knex.Transaction, heartbeatFreshMs: number, placing = true) {
  const query = trx<RunnerRow>("runners")
    .where({ state: "CONNECTED" })
    .where("last_heartbeat_time", ">", new Date(Date.now() - heartbeatFreshMs));
  if (placing) query.where({ draining: false });
  return query;
}

/**
 * pickRunner chooses and locks a runner for a new sandbox inside the caller's transaction.
 * Throws FAILED_PRECONDITION RUNTIME_UNAVAILABLE when no runner in the region offers the
 * requested runtime at all, and RESOURCE_EXHAUSTED NO_RUNNER_CAPACITY when no live runner has
 * room (nothing is written either way).
 */
export async function pickRunner(
  trx: Knex.Transaction,
  request: PlacementRequest,
  options: { heartbeatFreshMs: number },
): Promise<Placement> {
  const query = liveRunners(trx, options.heartbeatFreshMs);
  if (request.region !== "") query.where("region", request.region);
  if (request.runtimeClass !== "") query.whereRaw("? = any(runtimes)", [request.runtimeClass]);
  const candidates = await query.select("*");
  const metadata = { region: request.region, runtimeClass: request.runtimeClass };
  if (candidates.length === 0 && request.runtimeClass !== "") {
    // Tell "nobody offers this runtime" apart from "nobody has room".
    const inRegion = trx<RunnerRow>("runners");
    if (request.region !== "") inRegion.where("region", request.region);
    const known = await inRegion.select("runtimes");
    if (known.length > 0 && !known.some((r) => r.runtimes.includes(request.runtimeClass))) {
      throw failedPrecondition(
        "RUNTIME_UNAVAILABLE",
        `no runner${request.region ? ` in region ${request.region}` : ""} offers runtime class ${request.runtimeClass}`,
        metadata,
      );
    }
  }
  const usage = await runnerUsage(
    trx,
    candidates.map((c) => c.id),
  );
  const ranked = candidates
    .map((runner) => {
      const current = usage.get(runner.id) ?? {
        sandboxes: 0,
        cpuMillicores: 0,
        memoryMib: 0,
        diskMib: 0,
      };
      return { runner, load: loadAfter(runner, current, request), count: current.sandboxes };
    })
    .filter((c): c is { runner: RunnerRow; load: number; count: number } => c.load !== undefined)
    .sort((a, b) => a.load - b.load || a.count - b.count || a.runner.id.localeCompare(b.runner.id));
  for (const { runner } of ranked) {
    // Lock and re-count: another organization's create may have filled it meanwhile.
    const locked = await liveRunners(trx, options.heartbeatFreshMs)
      .where("id", runner.id)
      .forUpdate()
      .first();
    if (!locked) continue;
    const now = (await runnerUsage(trx, [runner.id])).get(runner.id);
    if (!now || loadAfter(locked, now, request) === undefined) continue;
    return {
      runnerId: locked.id,
      region: locked.region,
      runtimeClass: request.runtimeClass || locked.runtimes[0] || FALLBACK_RUNTIME_CLASS,
    };
  }
  throw resourceExhausted(
    "NO_RUNNER_CAPACITY",
    candidates.length === 0
      ? `no runner${request.region ? ` in region ${request.region}` : ""} is connected${request.runtimeClass ? ` with runtime class ${request.runtimeClass}` : ""}; retry later`
      : "no connected runner has room for this sandbox; retry later",
    metadata,
  );
}

/**
 * lockRunnerWithRoom locks a sandbox's own runner and checks it is live and has CPU and memory
 * for the sandbox to start again. Throws UNAVAILABLE RUNNER_UNAVAILABLE when the runner is
 * disconnected, RESOURCE_EXHAUSTED NO_RUNNER_CAPACITY when it is full.
 */
export async function lockRunnerWithRoom(
  trx: Knex.Transaction,
  runnerId: string,
  sandbox: { id: string; cpuMillicores: number; memoryMib: number; diskMib: number },
  options: { heartbeatFreshMs: number },
): Promise<void> {
  // A draining runner still starts the sandboxes it holds.
  const runner = await liveRunners(trx, options.heartbeatFreshMs, false)
    .where("id", runnerId)
    .forUpdate()
    .first();
  if (!runner) {
    throw unavailable(
      "RUNNER_UNAVAILABLE",
      `the runner holding sandbox ${sandbox.id} is not connected; retry later or delete the sandbox`,
      { runnerId, sandboxId: sandbox.id },
    );
  }
  const usage = (await runnerUsage(trx, [runnerId])).get(runnerId);
  if (!usage || loadAfter(runner, usage, sandbox, false) === undefined) {
    throw resourceExhausted(
      "NO_RUNNER_CAPACITY",
      `the runner holding sandbox ${sandbox.id} has no CPU or memory left for it; retry later`,
      { region: runner.region, runtimeClass: "" },
    );
  }
}

/** isRunnerLive says whether a runner is connected with a fresh heartbeat (no lock). */
export async function isRunnerLive(
  trx: Knex | Knex.Transaction,
  runnerId: string,
  options: { heartbeatFreshMs: number },
): Promise<boolean> {
  const row = await liveRunners(trx, options.heartbeatFreshMs, false)
    .where("id", runnerId)
    .first("id");
  return row !== undefined;
}
