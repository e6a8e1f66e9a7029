import { Code } from "@connectrpc/connect";
import { SandboxState } from "@cove/gen-ts/cove/sandbox/v1/sandbox_pb.js";
import {
  addOrganization,
  addRunner,
  FakeRunner,
  rejection,
  type SandboxEnv,
  startSandboxEnv,
} from "./sandbox-harness.js";

let env: SandboxEnv;

beforeAll(async () => {
  env = await startSandboxEnv({ publicImages: ["python:*"] });
});
afterAll(() => env.close());
// Each test brings its own runners; retire them afterwards.
afterEach(async () => {
  await env.db("runners").update({ state: "DISCONNECTED" });
});

let orgCount = 0;
/** freshOrganization makes an organization of its own for one test. */
async function freshOrganization(quota: Record<string, number> = {}): Promise<string> {
  const id = `org_place_${++orgCount}`;
  await addOrganization(env.db, id, quota);
  return id;
}

/** With no runner at all, then runners in various states: only live, non-draining ones are used. */
test("no usable runner: RESOURCE_EXHAUSTED NO_RUNNER_CAPACITY and nothing written", async () => {
  const org = await freshOrganization();
  const client = env.client(org);
  const none = await rejection(client.createSandbox({ wait: false }));
  expect(none.code).toBe(Code.ResourceExhausted);
  expect(none.reason).toBe("NO_RUNNER_CAPACITY");
  await addRunner(env.db, "r-disconnected", { state: "DISCONNECTED" });
  await addRunner(env.db, "r-stale", { last_heartbeat_time: new Date(Date.now() - 120_000) });
  await addRunner(env.db, "r-draining", { draining: true });
  const still = await rejection(client.createSandbox({ wait: false }));
  expect(still.reason).toBe("NO_RUNNER_CAPACITY");
  expect(await env.db("sandboxes").where({ organization_id: org }).count("* as n")).toEqual([
    { n: "0" },
  ]);
  expect(await env.db("runner_commands").count("* as n")).toEqual([{ n: "0" }]);
});

test("50 parallel creates against a quota of 10 create exactly 10", async () => {
  const org = await freshOrganization({
    max_sandboxes: 10,
    max_cpu_millicores: 1_000_000,
    max_memory_mib: 1_000_000,
    max_disk_mib: 10_000_000,
  });
  await addRunner(env.db, "r-race", { max_sandboxes: 1000 });
  const client = env.client(org);
  const results = await Promise.allSettled(
    Array.from({ length: 50 }, () => client.createSandbox({ wait: false })),
  );
  const ok = results.filter((r) => r.status === "fulfilled");
  expect(ok).toHaveLength(10);
  const failures = await Promise.all(
    results
      .filter((r): r is PromiseRejectedResult => r.status === "rejected")
      .map((r) => rejection(Promise.reject(r.reason))),
  );
  expect(failures).toHaveLength(40);
  for (const f of failures) {
    expect(f.code).toBe(Code.ResourceExhausted);
    expect(f.reason).toBe("QUOTA_EXCEEDED");
    expect(f.metadata).toEqual({ quota: "max_sandboxes", limit: "10", used: "10", requested: "1" });
  }
  const rows = await env.db("sandboxes").where({ organization_id: org }).select("id");
  expect(rows).toHaveLength(10);
  const commands = await env.db("runner_commands").whereIn(
    "sandbox_id",
    rows.map((r) => r.id),
  );
  expect(commands).toHaveLength(10);
  // Deleting one frees its slot at once.
  const first = rows[0]?.id ?? "";
  await client.deleteSandbox({ sandboxId: first });
  await client.createSandbox({ wait: false });
  expect(await rejection(client.createSandbox({ wait: false }))).toMatchObject({
    reason: "QUOTA_EXCEEDED",
  });
  await env.db("runner_commands").delete();
  await env.db("sandboxes").where({ organization_id: org }).update({ state: "DESTROYED" });
});

test("parallel creates from several organizations never overfill a runner", async () => {
  const orgs = [await freshOrganization(), await freshOrganization(), await freshOrganization()];
  await addRunner(env.db, "r-tight", { max_sandboxes: 5 });
  const results = await Promise.allSettled(
    orgs.flatMap((org) =>
      Array.from({ length: 4 }, () => env.client(org).createSandbox({ wait: false })),
    ),
  );
  expect(results.filter((r) => r.status === "fulfilled")).toHaveLength(5);
  const refused = await Promise.all(
    results
      .filter((r): r is PromiseRejectedResult => r.status === "rejected")
      .map((r) => rejection(Promise.reject(r.reason))),
  );
  expect(new Set(refused.map((r) => r.reason))).toEqual(new Set(["NO_RUNNER_CAPACITY"]));
  expect(await env.db("sandboxes").where({ runner_id: "r-tight" }).count("* as n")).toEqual([
    { n: "5" },
  ]);
  await env.db("runner_commands").delete();
  await env.db("sandboxes").update({ state: "DESTROYED" });
});

test("CPU and memory quotas count running sandboxes only", async () => {
  const org = await freshOrganization({ max_cpu_millicores: 2000 });
  await addRunner(env.db, "r-cpu");
  const runner = new FakeRunner(env, "r-cpu");
  const client = env.client(org);
  const a = (await client.createSandbox({ wait: false })).sandbox?.sandboxId ?? "";
  await client.createSandbox({ wait: false });
  const over = await rejection(client.createSandbox({ wait: false }));
  expect(over.metadata).toMatchObject({
    quota: "total_cpu_millicores",
    limit: "2000",
    used: "2000",
  });
  // A stopped sandbox frees its CPU; starting it again needs the CPU back.
  await runner.succeed(await runner.nextCommand("createSandbox", a), "STARTED");
  const stopping = client.stopSandbox({ sandboxId: a });
  await runner.succeed(await runner.nextCommand("stopSandbox", a), "STOPPED");
  await stopping;
  const c = (await client.createSandbox({ wait: false })).sandbox?.sandboxId;
  expect(c).toBeTruthy();
  const start = await rejection(client.startSandbox({ sandboxId: a }));
  expect(start).toMatchObject({ code: Code.ResourceExhausted, reason: "QUOTA_EXCEEDED" });
  // Per-sandbox limits are the organization's too.
  const big = await rejection(
    client.createSandbox({ wait: false, resources: { memoryMib: 9000 } }),
  );
  expect(big.metadata).toMatchObject({
    quota: "max_sandbox_memory_mib",
    limit: "8192",
    requested: "9000",
  });
  await env.db("runner_commands").delete();
  await env.db("sandboxes").where({ organization_id: org }).update({ state: "DESTROYED" });
});

test("the same idempotency key returns the first sandbox; a different request with it conflicts", async () => {
  const org = await freshOrganization();
  await addRunner(env.db, "r-idem");
  const client = env.client(org);
  const request = { wait: false, idempotencyKey: "retry-me", labels: { x: "1" } };
  const results = await Promise.all(Array.from({ length: 5 }, () => client.createSandbox(request)));
  const ids = new Set(results.map((r) => r.sandbox?.sandboxId));
  expect(ids.size).toBe(1);
  expect(await env.db("sandboxes").where({ organization_id: org }).count("* as n")).toEqual([
    { n: "1" },
  ]);
  expect(await env.db("runner_commands").count("* as n")).toEqual([{ n: "1" }]);
  const conflict = await rejection(client.createSandbox({ ...request, labels: { x: "2" } }));
  expect(conflict.code).toBe(Code.AlreadyExists);
  expect(conflict.reason).toBe("IDEMPOTENCY_CONFLICT");
  expect(conflict.metadata).toEqual({ idempotencyKey: "retry-me", sandboxId: [...ids][0] });
  // The key is per organization.
  const other = await freshOrganization();
  const theirs = await env.client(other).createSandbox(request);
  expect(ids.has(theirs.sandbox?.sandboxId)).toBe(false);
  await env.db("runner_commands").delete();
  await env.db("sandboxes").update({ state: "DESTROYED" });
});

test("the scheduler picks the least-loaded runner with the runtime, region and room asked for", async () => {
  const org = await freshOrganization({ max_sandboxes: 100, max_cpu_millicores: 100_000 });
  const client = env.client(org);
  await addRunner(env.db, "r-a", { max_sandboxes: 2, runtimes: ["runc"] });
  await addRunner(env.db, "r-b", { max_sandboxes: 4, runtimes: ["runc", "runsc"] });
  const placed: string[] = [];
  for (let i = 0; i < 6; i++) {
    const res = await client.createSandbox({ wait: false });
    placed.push(res.sandbox?.runnerId ?? "");
  }
  // Least loaded first; each runner filled exactly to its capacity, never beyond.
  expect(placed).toEqual(["r-b", "r-a", "r-b", "r-b", "r-a", "r-b"]);
  const full = await rejection(client.createSandbox({ wait: false }));
  expect(full).toMatchObject({ code: Code.ResourceExhausted, reason: "NO_RUNNER_CAPACITY" });
  // r-b offers runsc but is full: capacity, not a missing runtime.
  const busy = await rejection(client.createSandbox({ wait: false, runtimeClass: "runsc" }));
  expect(busy.reason).toBe("NO_RUNNER_CAPACITY");
  const nowhere = await rejection(client.createSandbox({ wait: false, runtimeClass: "kata" }));
  expect(nowhere).toMatchObject({ code: Code.FailedPrecondition, reason: "RUNTIME_UNAVAILABLE" });
  expect(nowhere.metadata).toEqual({ region: "", runtimeClass: "kata" });
  await addRunner(env.db, "r-eu", { region: "eu-1", runtimes: ["runc"] });
  const eu = await client.createSandbox({ wait: false, region: "eu-1" });
  expect(eu.sandbox).toMatchObject({ runnerId: "r-eu", region: "eu-1", runtimeClass: "runc" });
  const euGvisor = await rejection(
    client.createSandbox({ wait: false, region: "eu-1", runtimeClass: "runsc" }),
  );
  expect(euGvisor.reason).toBe("RUNTIME_UNAVAILABLE");
  await addRunner(env.db, "r-c", { runtimes: ["runsc", "runc"] });
  const gvisor = await client.createSandbox({ wait: false, runtimeClass: "runsc" });
  expect(gvisor.sandbox).toMatchObject({ runnerId: "r-c", runtimeClass: "runsc" });
  // Without a runtime class the runner's default (its first runtime) is recorded.
  await env.db("runners").whereIn("id", ["r-eu"]).update({ state: "DISCONNECTED" });
  const byDefault = await client.createSandbox({ wait: false });
  expect(byDefault.sandbox).toMatchObject({ runnerId: "r-c", runtimeClass: "runsc" });
  await env.db("runner_commands").delete();
  await env.db("sandboxes").update({ state: "DESTROYED" });
});

test("create validates its request against the proto's limits", async () => {
  const org = await freshOrganization();
  await addRunner(env.db, "r-valid");
  const client = env.client(org);
  const bad = await rejection(
    client.createSandbox({
      wait: false,
      labels: { "Bad Key": "x", "cove.dev/owner": "me" },
      env: { "1X": "y" },
      resources: { cpuMillicores: 100 },
      networkPolicy: { mode: 2, allowCidrs: ["example.com"] },
    }),
  );
  expect(bad.code).toBe(Code.InvalidArgument);
  expect(bad.reason).toBe("INVALID_FIELD");
  for (const field of [
    "labels.Bad Key",
    "cove.dev/owner",
    "env.1X",
    "resources.cpu_millicores",
    "allow_cidrs",
  ])
    expect(bad.message).toContain(field);
  const snapshot = await rejection(
    client.createSandbox({ source: { case: "snapshotId", value: "snap_x" } }),
  );
  expect(snapshot).toMatchObject({ code: Code.NotFound, reason: "SNAPSHOT_NOT_FOUND" });
  const longWait = await rejection(
    client.createSandbox({ waitTimeout: { seconds: 3600n, nanos: 0 } }),
  );
  expect(longWait.code).toBe(Code.InvalidArgument);
  const ok = await client.createSandbox({
    wait: false,
    source: { case: "image", value: "python:3.12-slim" },
    networkPolicy: { mode: 2, allowCidrs: ["140.82.112.0/20", "2001:db8::/32"] },
    autoStopInterval: { seconds: 0n, nanos: 0 },
  });
  expect(ok.sandbox).toMatchObject({
    image: "python:3.12-slim",
    state: SandboxState.CREATING,
    osUser: "cove",
  });
  expect(Number(ok.sandbox?.autoStopInterval?.seconds)).toBe(0);
  expect(Number(ok.sandbox?.autoArchiveInterval?.seconds)).toBe(7 * 24 * 3600);
});
