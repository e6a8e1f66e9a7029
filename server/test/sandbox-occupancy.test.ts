import { computeUsage } from "../src/domain/iam/organizations.js";
import { RunnerRegistry } from "../src/domain/runner/registry.js";
import { runnerUsage } from "../src/domain/runner/scheduler.js";
import { checkQuota, OCCUPANCY } from "../src/domain/sandbox/occupancy.js";
import type { SandboxStateName } from "../src/domain/sandbox/ports.js";
import { ALL_STATES } from "../src/domain/sandbox/states.js";
import { createTestDatabase, type TestDatabase } from "./database.js";

let t: TestDatabase;
beforeAll(async () => {
  t = await createTestDatabase();
});
afterAll(() => t.drop());

const CPU = 1000;
const MEMORY = 512;
const DISK = 100;

/** quotaRefusals says, per quota, whether admitting one more unit past this sandbox is refused. */
async function quotaRefusals(orgId: string): Promise<Record<string, boolean>> {
  const limits = {
    id: orgId,
    max_sandboxes: 0,
    max_cpu_millicores: 0,
    max_memory_mib: 0,
    max_disk_mib: 0,
  };
  const refused = async (limit: Partial<typeof limits>, add: Partial<Record<string, number>>) => {
    const full = { sandboxes: 0, cpuMillicores: 0, memoryMib: 0, diskMib: 0, ...add };
    try {
      await t.db.transaction((trx) => checkQuota(trx, { ...limits, ...limit }, full));
      return false;
    } catch (err) {
      if ((err as { reason?: string }).reason !== "QUOTA_EXCEEDED") throw err;
      return true;
    }
  };
  return {
    sandbox: await refused({ max_sandboxes: 1 }, { sandboxes: 1 }),
    cpu: await refused({ max_cpu_millicores: CPU }, { cpuMillicores: 1 }),
    memory: await refused({ max_memory_mib: MEMORY }, { memoryMib: 1 }),
    disk: await refused({ max_disk_mib: DISK }, { diskMib: 1 }),
  };
}

test.each(ALL_STATES.map((s) => [s]))(
  "a %s sandbox occupies the same in quota, placement and the runner admin view",
  async (state: SandboxStateName) => {
    const key = state.toLowerCase().replace(/_/g, "-");
    const orgId = `org_occ_${key}`;
    const runnerId = `occ-${key}`;
    await t.db("organizations").insert({ id: orgId, name: key });
    await t.db("runners").insert({ id: runnerId, name: runnerId, state: "PENDING" });
    await t.db("sandboxes").insert({
      id: `sbx${key.replace(/-/g, "")}`,
      organization_id: orgId,
      runner_id: runnerId,
      image: "i",
      state,
      desired_state: "STARTED",
      cpu_millicores: CPU,
      memory_mib: MEMORY,
      disk_mib: DISK,
    });
    const row = OCCUPANCY[state];
    const onRunner = row.compute || row.disk;

    const usage = await computeUsage(t.db, orgId);
    expect({
      sandboxes: usage.sandboxes,
      started: usage.startedSandboxes,
      cpu: usage.cpuMillicores,
      memory: usage.memoryMib,
      disk: usage.diskMib,
    }).toEqual({
      sandboxes: row.sandbox ? 1 : 0,
      started: row.compute ? 1 : 0,
      cpu: row.compute ? CPU : 0,
      memory: row.compute ? MEMORY : 0,
      disk: row.disk ? DISK : 0,
    });
    expect(await quotaRefusals(orgId)).toEqual({
      sandbox: row.sandbox,
      cpu: row.compute,
      memory: row.compute,
      disk: row.disk,
    });

    const expectedRunner = {
      sandboxes: onRunner ? 1 : 0,
      cpu: row.compute ? CPU : 0,
      memory: row.compute ? MEMORY : 0,
      disk: row.disk ? DISK : 0,
    };
    const placement = (await runnerUsage(t.db, [runnerId])).get(runnerId);
    expect({
      sandboxes: placement?.sandboxes,
      cpu: placement?.cpuMillicores,
      memory: placement?.memoryMib,
      disk: placement?.diskMib,
    }).toEqual(expectedRunner);
    const admin = await new RunnerRegistry(t.db).get(runnerId);
    expect({
      sandboxes: admin.allocated.maxSandboxes,
      cpu: admin.allocated.cpuMillicores,
      memory: admin.allocated.memoryMib,
      disk: admin.allocated.diskMib,
    }).toEqual(expectedRunner);
  },
);

test("the table's decisions: stopped keeps disk, archived keeps only its count, destroying holds nothing", () => {
  expect(OCCUPANCY.STOPPED).toEqual({ sandbox: true, compute: false, disk: true });
  expect(OCCUPANCY.STOPPING).toEqual({ sandbox: true, compute: false, disk: true });
  expect(OCCUPANCY.ARCHIVED).toEqual({ sandbox: true, compute: false, disk: false });
  expect(OCCUPANCY.PENDING_BUILD).toEqual({ sandbox: true, compute: true, disk: true });
  expect(OCCUPANCY.DESTROYING).toEqual({ sandbox: false, compute: false, disk: false });
});
