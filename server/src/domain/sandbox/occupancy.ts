/**
 * What a sandbox occupies, by state: the one definition that quota admission (CreateSandbox,
 * StartSandbox), GetUsage, placement (the scheduler) and the runner admin view (allocated) all
 * read, through the one aggregation query below, so that none of them disagrees.
 *
 * | state             | sandbox | compute | disk | on runner |
 * |-------------------|---------|---------|------|-----------|
 * | PENDING_BUILD     | yes     | yes     | yes  | yes       |
 * | BUILDING_SNAPSHOT | yes     | yes     | yes  | yes       |
 * | PULLING_SNAPSHOT  | yes     | yes     | yes  | yes       |
 * | CREATING          | yes     | yes     | yes  | yes       |
 * | STARTING          | yes     | yes     | yes  | yes       |
 * | STARTED           | yes     | yes     | yes  | yes       |
 * | STOPPING          | yes     | no      | yes  | yes       |
 * | STOPPED           | yes     | no      | yes  | yes       |
 * | ARCHIVING         | yes     | no      | yes  | yes       |
 * | ARCHIVED          | yes     | no      | no   | no        |
 * | RESTORING         | yes     | yes     | yes  | yes       |
 * | DESTROYING        | no      | no      | no   | no        |
 * | DESTROYED         | no      | no      | no   | no        |
 * | ERROR             | yes     | no      | yes  | yes       |
 *
 * - sandbox: counts against the organization's max_sandboxes. Everything the user can still
 *   start, recover or restore counts (STOPPED, ARCHIVED, ERROR too); a sandbox being destroyed
 *   was let go and counts no more, so delete-then-create is never refused.
 * - compute: its CPU and memory count against total_cpu_millicores / total_memory_mib, the
 *   started-sandbox count, and the runner's CPU and memory capacity. STARTED and every step
 *   towards it (a build or pull is about to run a container); a stop releases them when it is
 *   asked for (STOPPING), so stop-then-start-another is not refused.
 * - disk: its disk counts against total_disk_mib and the runner's disk: while its filesystem
 *   is on the runner (stopped and errored sandboxes keep it; an archived one has left).
 * - on runner (derived: compute or disk): counts against the runner's max_sandboxes and in its
 *   allocated sandbox count.
 */
import { resourceExhausted } from "@cove/common";
import type { Knex } from "knex";
import type { SandboxStateName } from "./ports.js";

/** What a sandbox in one state occupies (see the table above). */
export interface StateOccupancy {
  /** Counts against the organization's max_sandboxes. */
  sandbox: boolean;
  /** Its CPU and memory are held (quota and runner capacity); it counts as started. */
  compute: boolean;
  /** Its disk is held (quota and runner capacity). */
  disk: boolean;
}

const running: StateOccupancy = { sandbox: true, compute: true, disk: true };
const parked: StateOccupancy = { sandbox: true, compute: false, disk: true };
const released: StateOccupancy = { sandbox: false, compute: false, disk: false };

/** OCCUPANCY is the table above, one row per state. */
export const OCCUPANCY: Readonly<Record<SandboxStateName, StateOccupancy>> = {
  PENDING_BUILD: running,
  BUILDING_SNAPSHOT: running,
  PULLING_SNAPSHOT: running,
  CREATING: running,
  STARTING: running,
  STARTED: running,
  STOPPING: parked,
  STOPPED: parked,
  ARCHIVING: parked,
  ARCHIVED: { sandbox: true, compute: false, disk: false },
  RESTORING: running,
  DESTROYING: released,
  DESTROYED: released,
  ERROR: parked,
};

/** isOnRunner says whether a sandbox in `state` occupies a slot on its runner. */
export function isOnRunner(state: SandboxStateName): boolean {
  return OCCUPANCY[state].compute || OCCUPANCY[state].disk;
}

/** statesWhere lists the states whose occupancy satisfies `pick`. */
export function statesWhere(pick: (row: StateOccupancy, state: SandboxStateName) => boolean) {
  return (Object.keys(OCCUPANCY) as SandboxStateName[]).filter((s) => pick(OCCUPANCY[s], s));
}

/**
 * States in which a sandbox row still needs its runner (runner deletion waits for them): those
 * on the runner, and DESTROYING, whose destroySandbox command is still to be answered.
 */
export const RUNNER_BOUND_STATES: readonly SandboxStateName[] = statesWhere(
  (_, state) => isOnRunner(state) || state === "DESTROYING",
);

/** What a group of sandboxes (one organization's, or one runner's) occupies. */
export interface Occupancy {
  /** Sandboxes that count against max_sandboxes (the `sandbox` column). */
  sandboxes: number;
  /** Sandboxes on a runner (the `on runner` column). */
  onRunner: number;
  /** Sandboxes holding compute (started, or on the way). */
  started: number;
  /** CPU of sandboxes holding compute, millicores. */
  cpuMillicores: number;
  /** Memory of sandboxes holding compute, MiB. */
  memoryMib: number;
  /** Disk of sandboxes holding disk, MiB. */
  diskMib: number;
}

/** A Postgres text[] literal (state names are fixed upper-case words). */
function stateArray(pick: (row: StateOccupancy, state: SandboxStateName) => boolean): string {
  return `{${statesWhere(pick).join(",")}}`;
}

/**
 * occupancyOf sums what the sandboxes of each organization (`by` "organization_id") or each
 * runner (`by` "runner_id") occupy, per OCCUPANCY. Every id in `ids` gets an entry.
 */
export async function occupancyOf(
  db: Knex | Knex.Transaction,
  by: "organization_id" | "runner_id",
  ids: readonly string[],
): Promise<Map<string, Occupancy>> {
  const out = new Map<string, Occupancy>();
  if (ids.length === 0) return out;
  const sandbox = stateArray((o) => o.sandbox);
  const onRunner = stateArray((_, s) => isOnRunner(s));
  const compute = stateArray((o) => o.compute);
  const disk = stateArray((o) => o.disk);
  const rows = (await db("sandboxes")
    .select(
      db.raw("?? as id", [by]),
      db.raw("count(*) filter (where state = any(?::text[])) as sandboxes", [sandbox]),
      db.raw("count(*) filter (where state = any(?::text[])) as on_runner", [onRunner]),
      db.raw("count(*) filter (where state = any(?::text[])) as started", [compute]),
      db.raw("coalesce(sum(cpu_millicores) filter (where state = any(?::text[])), 0) as cpu", [
        compute,
      ]),
      db.raw("coalesce(sum(memory_mib) filter (where state = any(?::text[])), 0) as memory", [
        compute,
      ]),
      db.raw("coalesce(sum(disk_mib) filter (where state = any(?::text[])), 0) as disk", [disk]),
    )
    .whereIn(by, [...ids])
    .groupBy(by)) as Array<Record<string, string>>;
  for (const id of ids)
    out.set(id, {
      sandboxes: 0,
      onRunner: 0,
      started: 0,
      cpuMillicores: 0,
      memoryMib: 0,
      diskMib: 0,
    });
  for (const row of rows) {
    out.set(String(row.id), {
      sandboxes: Number(row.sandboxes),
      onRunner: Number(row.on_runner),
      started: Number(row.started),
      cpuMillicores: Number(row.cpu),
      memoryMib: Number(row.memory),
      diskMib: Number(row.disk),
    });
  }
  return out;
}

/** The organization's limits quota admission checks (organizations columns; 0 is no limit). */
export interface QuotaLimits {
  /** The organization. */
  id: string;
  /** max_sandboxes. */
  max_sandboxes: number;
  /** total_cpu_millicores. */
  max_cpu_millicores: number;
  /** total_memory_mib. */
  max_memory_mib: number;
  /** total_disk_mib. */
  max_disk_mib: number;
}

/**
 * checkQuota counts the organization's usage (its row must be locked by the caller) and throws
 * RESOURCE_EXHAUSTED QUOTA_EXCEEDED naming the first quota the addition would break. Quotas of
 * zero are not limits.
 */
export async function checkQuota(
  trx: Knex.Transaction,
  org: QuotaLimits,
  add: { sandboxes: number; cpuMillicores: number; memoryMib: number; diskMib: number },
): Promise<void> {
  const usage = (await occupancyOf(trx, "organization_id", [org.id])).get(org.id);
  const checks: Array<[string, number, number, number]> = [
    ["max_sandboxes", org.max_sandboxes, usage?.sandboxes ?? 0, add.sandboxes],
    ["total_cpu_millicores", org.max_cpu_millicores, usage?.cpuMillicores ?? 0, add.cpuMillicores],
    ["total_memory_mib", org.max_memory_mib, usage?.memoryMib ?? 0, add.memoryMib],
    ["total_disk_mib", org.max_disk_mib, usage?.diskMib ?? 0, add.diskMib],
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
