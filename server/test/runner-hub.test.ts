// The server's side of RunnerService.Connect against the REAL runner client (ControlStream +
// CommandExecutor over MemoryDriver) on real Postgres: registration, delivery and redelivery
// of outbox commands, results applied exactly once, surviving a killed server, superseding
// streams (also across replicas), orphans reaped only after their grace period and never while
// the database is unreachable, heartbeats, and notify across replicas through the EventBus.

import type { MessageInitShape } from "@bufbuild/protobuf";
import { ConnectError, createClient } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { AsyncQueue } from "@cove/common";
import { RunnerAdminService } from "@cove/gen-ts/cove/runner/v1/runner_admin_service_pb.js";
import type { ConnectRequestSchema } from "@cove/gen-ts/cove/runner/v1/runner_service_pb.js";
import { RunnerService } from "@cove/gen-ts/cove/runner/v1/runner_service_pb.js";
import { ErrorInfoSchema } from "@cove/gen-ts/google/rpc/error_details_pb.js";
import knexFactory from "knex";
import type { SandboxSpec } from "../../runner/src/domain/sandbox-driver.js";
import { MemoryDriver } from "../../runner/test/memory-driver.js";
import { enqueueCommand } from "../src/domain/outbox/runner-commands.js";
import { isRunnerReady, type RunnerRow } from "../src/domain/runner/registry.js";
import { RunnerHub } from "../src/runner-stream/runner-hub.js";
import { createMemorySharedState } from "../src/shared/memory-state.js";
import type { SharedState } from "../src/shared/shared-state.js";
import { createTestDatabase, type TestDatabase } from "./database.js";
import {
  RecordingSink,
  SHARED_TOKEN,
  sleep,
  startCuttableProxy,
  startPlane,
  startRunner,
  type TestPlane,
  type TestRunner,
  testLogger,
  waitFor,
} from "./runner-test-kit.js";

const HEARTBEAT_MS = 250;

let database: TestDatabase;
let shared: SharedState;
let sink: RecordingSink;
const cleanups: Array<() => Promise<void>> = [];

beforeAll(async () => {
  database = await createTestDatabase();
});
afterAll(async () => {
  await database.drop();
});
beforeEach(() => {
  shared = createMemorySharedState();
  sink = new RecordingSink();
});
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup().catch(() => {});
});

async function plane(options: Partial<Parameters<typeof startPlane>[0]> = {}, port = 0) {
  const p = await startPlane(
    {
      db: database.db,
      sink,
      shared,
      heartbeatIntervalMs: HEARTBEAT_MS,
      pollIntervalMs: 200,
      ...options,
    },
    port,
  );
  cleanups.push(() => p.kill());
  return p;
}

/** registerRunner creates a runner through RunnerAdminService and returns its token. */
async function registerRunner(p: TestPlane, runnerId: string): Promise<string> {
  const admin = createClient(
    RunnerAdminService,
    createGrpcTransport({
      baseUrl: p.url,
      interceptors: [
        (next) => (req) => {
          req.header.set("x-test-operator", "yes");
          return next(req);
        },
      ],
    }),
  );
  const res = await admin.createRunner({ runnerId, region: "test-1" });
  return res.token;
}

function runner(options: Parameters<typeof startRunner>[0]): TestRunner {
  const r = startRunner(options);
  cleanups.push(() => r.stop());
  return r;
}

async function runnerRow(runnerId: string): Promise<RunnerRow> {
  return (await database.db("runners").where({ id: runnerId }).first()) as RunnerRow;
}

async function commandRow(id: string) {
  return (await database.db("runner_commands").where({ id }).first()) as {
    state: string;
    attempt: number;
    kind: string;
    error_reason: string;
  };
}

const createCommand = (sandboxId: string) => ({
  case: "createSandbox" as const,
  value: { spec: { sandboxId, organizationId: "org_test", image: "cove/sandbox:test" } },
});

/** specOf is a MemoryDriver sandbox spec, for containers a runner holds before it connects. */
function specOf(sandboxId: string): SandboxSpec {
  return {
    sandboxId,
    organizationId: "org_x",
    image: "img",
    cpuMillicores: 0,
    memoryMib: 0,
    diskMib: 0,
    env: {},
    labels: {},
    osUser: "",
    network: "none",
    runtime: "",
  };
}

type Outbound = MessageInitShape<typeof ConnectRequestSchema>;

/** rawStream opens a Connect stream by hand (to play a misbehaving or second runner). */
function rawStream(url: string, token: string) {
  const client = createClient(
    RunnerService,
    createGrpcTransport({
      baseUrl: url,
      interceptors: [
        (next) => (req) => {
          req.header.set("authorization", `Bearer ${token}`);
          return next(req);
        },
      ],
    }),
  );
  const requests = new AsyncQueue<Outbound>();
  const abort = new AbortController();
  const responses = client.connect(requests, { signal: abort.signal })[Symbol.asyncIterator]();
  cleanups.push(async () => {
    requests.close();
    abort.abort();
  });
  return { requests, responses, abort };
}

function reasonOf(err: unknown): string | undefined {
  return ConnectError.from(err).findDetails(ErrorInfoSchema)[0]?.reason;
}

describe("RunnerService.Connect", () => {
  test("hello registers the runner, hello_ack arrives, heartbeats are recorded", async () => {
    const p = await plane();
    const token = await registerRunner(p, "r-hello");
    expect((await runnerRow("r-hello")).state).toBe("PENDING");
    const r = runner({ url: p.url, token, runnerId: "r-hello" });
    await r.stream.connected();

    const row = await runnerRow("r-hello");
    expect(row).toMatchObject({
      state: "CONNECTED",
      version: "0.1.0",
      region: "test-1",
      cpu_millicores: 4000,
      memory_mib: 8192,
      disk_mib: 20480,
      max_sandboxes: 10,
      runtimes: ["runc"],
      toolbox_gateway_url: "http://127.0.0.1:3003",
      connected_server: p.hub.serverId,
    });
    expect(row.connect_time).toBeInstanceOf(Date);
    expect(p.hub.connectedRunners()).toEqual(["r-hello"]);
    await waitFor(() => sink.reconciles.some((c) => c.runnerId === "r-hello"), "reconcile");

    // hello_ack's interval replaced the runner's own 1 s: heartbeats keep coming every 250 ms.
    const first = (await runnerRow("r-hello")).last_heartbeat_time as Date;
    await sleep(HEARTBEAT_MS * 3);
    const later = await runnerRow("r-hello");
    expect((later.last_heartbeat_time as Date).getTime()).toBeGreaterThan(first.getTime());
    expect((later.metrics as Record<string, number>).memoryUsedMib).toBeGreaterThan(0);
    expect(isRunnerReady(later, new Date(), HEARTBEAT_MS)).toBe(true);
    expect(isRunnerReady({ ...later, draining: true }, new Date(), HEARTBEAT_MS)).toBe(false);
    expect(isRunnerReady(later, new Date(Date.now() + HEARTBEAT_MS * 4), HEARTBEAT_MS)).toBe(false);

    await r.stop();
    await waitFor(async () => (await runnerRow("r-hello")).state === "DISCONNECTED", "disconnect");
    expect(p.hub.connectedRunners()).toEqual([]);
  });

  test("the first message must be hello; a per-runner token cannot speak for another runner", async () => {
    const p = await plane();
    const token = await registerRunner(p, "r-proto");

    const bad = rawStream(p.url, token);
    bad.requests.push({ message: { case: "heartbeat", value: { sequence: 1n } } });
    const err = await bad.responses.next().catch((e: unknown) => e);
    expect(ConnectError.from(err).code).toBe(3); // INVALID_ARGUMENT
    expect(reasonOf(err)).toBe("RUNNER_PROTOCOL_VIOLATION");

    const other = rawStream(p.url, token);
    other.requests.push({ message: { case: "hello", value: { runnerId: "someone-else" } } });
    const err2 = await other.responses.next().catch((e: unknown) => e);
    expect(ConnectError.from(err2).code).toBe(16); // UNAUTHENTICATED
    expect(reasonOf(err2)).toBe("RUNNER_TOKEN_INVALID");

    // The shared token registers new runners but cannot take over one with its own token.
    const takeover = rawStream(p.url, SHARED_TOKEN);
    takeover.requests.push({ message: { case: "hello", value: { runnerId: "r-proto" } } });
    const err3 = await takeover.responses.next().catch((e: unknown) => e);
    expect(reasonOf(err3)).toBe("RUNNER_TOKEN_INVALID");
    expect((await runnerRow("r-proto")).state).toBe("PENDING");
  });

  test("a command is executed and its result reaches the sink exactly once, across a reconnect", async () => {
    const p = await plane();
    const token = await registerRunner(p, "r-cmd");
    const r = runner({ url: p.url, token, runnerId: "r-cmd" });
    await r.stream.connected();

    const commandId = await enqueueCommand(database.db, {
      runnerId: "r-cmd",
      sandboxId: "sbxcmd1",
      command: createCommand("sbxcmd1"),
    });
    p.hub.notify("r-cmd");
    await waitFor(() => sink.outcomesFor(commandId).length === 1, "the outcome");
    const [outcome] = sink.outcomesFor(commandId);
    expect(outcome).toEqual({
      ok: true,
      report: expect.objectContaining({ sandboxId: "sbxcmd1", state: "STARTED" }),
      daemonSocketPath: "/tmp/memory-driver/sbxcmd1/daemon.sock",
    });
    expect(r.driver.sandboxes.get("sbxcmd1")?.state).toBe("started");
    await waitFor(async () => (await commandRow(commandId)).state === "DONE", "DONE");
    expect((await commandRow(commandId)).attempt).toBe(1);
    // State reports travelled too (CREATING, STARTING, STARTED).
    expect(sink.reports.map((x) => x.report.state)).toEqual(
      expect.arrayContaining(["CREATING", "STARTING", "STARTED"]),
    );

    // The server blips: the runner reconnects and sends the result again (it cannot know the
    // first copy arrived); the finished command is neither redelivered nor applied twice.
    const port = p.port;
    await p.server.close(0);
    const again = await plane({}, port);
    await waitFor(() => again.hub.connectedRunners().includes("r-cmd"), "reconnect");
    await waitFor(
      () => sink.reconciles.filter((c) => c.runnerId === "r-cmd").length >= 2,
      "reconcile",
    );
    await sleep(500);
    expect(sink.outcomesFor(commandId)).toHaveLength(1);
    expect((await commandRow(commandId)).attempt).toBe(1);
    expect(r.driver.calls.filter((c) => c === "create:sbxcmd1")).toHaveLength(1);
    const inventory = sink.reconciles.filter((c) => c.runnerId === "r-cmd").at(-1)?.inventory;
    expect(inventory?.map((s) => [s.sandboxId, s.state])).toEqual([["sbxcmd1", "STARTED"]]);
  });

  test("a server killed mid-command: the runner reconnects, pending commands are redelivered and finished", async () => {
    const p = await plane();
    const token = await registerRunner(p, "r-kill");
    const driver = new MemoryDriver();
    driver.startDelayMs = 1_500;
    const r = runner({ url: p.url, token, runnerId: "r-kill", driver });
    await r.stream.connected();

    const first = await enqueueCommand(database.db, {
      runnerId: "r-kill",
      sandboxId: "sbxkill1",
      command: createCommand("sbxkill1"),
    });
    p.hub.notify("r-kill");
    await waitFor(async () => (await commandRow(first)).state === "ACKED", "the ack");

    // Crash: streams cut, hub gone. While it is down, another command is written.
    const port = p.port;
    await p.kill();
    const second = await enqueueCommand(database.db, {
      runnerId: "r-kill",
      sandboxId: "sbxkill1",
      command: { case: "stopSandbox", value: { sandboxId: "sbxkill1" } },
    });

    const restarted = await plane({}, port);
    await waitFor(() => sink.outcomesFor(second).length === 1, "the second outcome", 20_000);
    expect(sink.outcomesFor(first)).toHaveLength(1);
    expect(sink.outcomesFor(first)[0]).toMatchObject({ ok: true });
    expect(sink.outcomesFor(second)[0]).toMatchObject({
      ok: true,
      report: expect.objectContaining({ state: "STOPPED" }),
    });
    // The create was redelivered (attempt 2) but executed once; the stop ran after it.
    expect((await commandRow(first)).attempt).toBe(2);
    expect((await commandRow(first)).state).toBe("DONE");
    expect((await commandRow(second)).state).toBe("DONE");
    expect(driver.calls).toEqual(["create:sbxkill1", "start:sbxkill1", "stop:sbxkill1"]);
    expect(restarted.hub.connectedRunners()).toEqual(["r-kill"]);
    const reconciles = sink.reconciles.filter((c) => c.runnerId === "r-kill");
    expect(reconciles.length).toBeGreaterThanOrEqual(2);
    // The reconnect's inventory already held the container the first command was creating.
    expect(reconciles[1]?.inventory.map((s) => s.sandboxId)).toEqual(["sbxkill1"]);
    expect((await runnerRow("r-kill")).state).toBe("CONNECTED");
  });

  test("a newer stream for the same runner supersedes the older one, also across replicas", async () => {
    const one = await plane();
    const two = await plane();
    const token = await registerRunner(one, "r-dup");

    const a = rawStream(one.url, token);
    a.requests.push({ message: { case: "hello", value: { runnerId: "r-dup", version: "1" } } });
    const ackA = await a.responses.next();
    expect(ackA.value?.message.case).toBe("helloAck");
    const stampA = (await runnerRow("r-dup")).connect_time as Date;

    const b = rawStream(two.url, token);
    b.requests.push({ message: { case: "hello", value: { runnerId: "r-dup", version: "2" } } });
    const ackB = await b.responses.next();
    expect(ackB.value?.message.case).toBe("helloAck");

    // A ends with ABORTED RUNNER_SUPERSEDED (pings may come first).
    let err: unknown;
    for (;;) {
      try {
        const next = await a.responses.next();
        if (next.done) break;
      } catch (e) {
        err = e;
        break;
      }
    }
    expect(ConnectError.from(err).code).toBe(10); // ABORTED
    expect(reasonOf(err)).toBe("RUNNER_SUPERSEDED");

    // A's end did not mark the runner DISCONNECTED: B is its stream now.
    await sleep(200);
    const row = await runnerRow("r-dup");
    expect(row.state).toBe("CONNECTED");
    expect(row.version).toBe("2");
    expect(row.connected_server).toBe(two.hub.serverId);
    expect((row.connect_time as Date).getTime()).toBeGreaterThanOrEqual(stampA.getTime());
    expect(one.hub.connectedRunners()).toEqual([]);
    expect(two.hub.connectedRunners()).toEqual(["r-dup"]);
  });

  test("an idle stream is closed after three heartbeat intervals", async () => {
    const p = await plane();
    const s = rawStream(p.url, SHARED_TOKEN);
    s.requests.push({ message: { case: "hello", value: { runnerId: "r-idle" } } });
    const started = Date.now();
    const pings: string[] = [];
    let err: unknown;
    for (;;) {
      try {
        const next = await s.responses.next();
        if (next.done) break;
        if (next.value.message.case === "ping") pings.push(next.value.message.value.pingId);
      } catch (e) {
        err = e;
        break;
      }
    }
    expect(Date.now() - started).toBeGreaterThanOrEqual(HEARTBEAT_MS * 3);
    expect(pings.length).toBeGreaterThanOrEqual(2);
    expect(ConnectError.from(err).code).toBe(14); // UNAVAILABLE
    await waitFor(async () => (await runnerRow("r-idle")).state === "DISCONNECTED", "disconnect");
  });

  test("an orphan is destroyed only after the grace period, once", async () => {
    const grace = 1_500;
    const p = await plane({ orphanGracePeriodMs: grace, sweepIntervalMs: 100 });
    const token = await registerRunner(p, "r-orphan");
    const driver = new MemoryDriver();
    driver.sandboxes.set("orphan1", { spec: specOf("orphan1"), state: "started" });
    driver.sandboxes.set("kept1", { spec: specOf("kept1"), state: "started" });
    sink.rowless.add("orphan1");
    const r = runner({ url: p.url, token, runnerId: "r-orphan", driver });
    await r.stream.connected();
    await waitFor(() => p.hub.orphans("r-orphan").length === 1, "the orphan to be tracked");
    const firstSeen = p.hub.orphans("r-orphan")[0]?.firstSeen as Date;

    await sleep(grace - 500);
    expect(driver.sandboxes.has("orphan1")).toBe(true);
    expect(await database.db("runner_commands").where({ runner_id: "r-orphan" })).toHaveLength(0);

    await waitFor(() => !driver.sandboxes.has("orphan1"), "the orphan's destruction");
    const commands = await database.db("runner_commands").where({ runner_id: "r-orphan" });
    expect(commands).toHaveLength(1);
    expect(commands[0]).toMatchObject({ kind: "destroySandbox", sandbox_id: "orphan1" });
    expect(commands[0].create_time.getTime() - firstSeen.getTime()).toBeGreaterThanOrEqual(grace);
    expect(driver.sandboxes.has("kept1")).toBe(true);
    await waitFor(() => p.hub.orphans("r-orphan").length === 0, "the orphan to be forgotten");
    await sleep(400);
    expect(await database.db("runner_commands").where({ runner_id: "r-orphan" })).toHaveLength(1);
  });

  test("no orphan is destroyed while the database is unreachable", async () => {
    const proxy = await startCuttableProxy(database.url);
    // The hub's own pool, through the proxy; knex's console warnings about the cut are muted.
    const hubDb = knexFactory({
      client: "pg",
      connection: proxy.url,
      pool: { min: 0, max: 4 },
      acquireConnectionTimeout: 2_000,
      log: { warn() {}, error() {}, debug() {}, deprecate() {} },
    });
    cleanups.push(async () => {
      await hubDb.destroy();
      await proxy.close();
    });
    const grace = 800;
    const p = await plane({ db: hubDb, orphanGracePeriodMs: grace, sweepIntervalMs: 100 });
    const token = await registerRunner(p, "r-dbdown");
    const driver = new MemoryDriver();
    driver.sandboxes.set("orphan2", { spec: specOf("orphan2"), state: "stopped" });
    sink.rowless.add("orphan2");
    const r = runner({ url: p.url, token, runnerId: "r-dbdown", driver });
    await r.stream.connected();
    await waitFor(() => p.hub.orphans("r-dbdown").length === 1, "the orphan to be tracked");

    proxy.cut();
    await sleep(grace + 1_200);
    expect(driver.sandboxes.has("orphan2")).toBe(true);
    expect(driver.calls.filter((c) => c.startsWith("destroy"))).toEqual([]);
    expect(await database.db("runner_commands").where({ runner_id: "r-dbdown" })).toHaveLength(0);
    expect(p.hub.orphans("r-dbdown")[0]?.enqueued).toBe(false);

    // Once the database answers again the orphan (long past its grace) goes.
    proxy.restore();
    await waitFor(() => !driver.sandboxes.has("orphan2"), "the orphan's destruction", 20_000);
    expect(await database.db("runner_commands").where({ runner_id: "r-dbdown" })).toHaveLength(1);
  });

  test("notify from another replica reaches the runner through the EventBus", async () => {
    const p = await plane({ pollIntervalMs: 60_000 });
    const token = await registerRunner(p, "r-bus");
    const r = runner({ url: p.url, token, runnerId: "r-bus" });
    await r.stream.connected();
    const other = new RunnerHub({
      db: database.db,
      sink,
      events: shared.events,
      locks: shared.locks,
      logger: testLogger,
      heartbeatIntervalMs: HEARTBEAT_MS,
    });
    cleanups.push(() => other.stop());

    const commandId = await enqueueCommand(database.db, {
      runnerId: "r-bus",
      sandboxId: "sbxbus1",
      command: createCommand("sbxbus1"),
    });
    // Without a notify nothing moves (the poll is a minute away).
    await sleep(500);
    expect((await commandRow(commandId)).state).toBe("PENDING");

    other.notify("r-bus");
    await waitFor(() => sink.outcomesFor(commandId).length === 1, "the outcome");
    expect(r.driver.sandboxes.get("sbxbus1")?.state).toBe("started");
  });

  test("cancel reaches the runner and a queued command ends COMMAND_CANCELLED", async () => {
    const p = await plane();
    const token = await registerRunner(p, "r-cancel");
    const driver = new MemoryDriver();
    driver.startDelayMs = 1_000;
    const r = runner({ url: p.url, token, runnerId: "r-cancel", driver });
    await r.stream.connected();
    const create = await enqueueCommand(database.db, {
      runnerId: "r-cancel",
      sandboxId: "c1",
      command: createCommand("c1"),
    });
    await sleep(5);
    const start = await enqueueCommand(database.db, {
      runnerId: "r-cancel",
      sandboxId: "c1",
      command: { case: "startSandbox", value: { sandboxId: "c1" } },
    });
    p.hub.notify("r-cancel");
    await waitFor(async () => (await commandRow(start)).state === "ACKED", "the ack");
    p.hub.cancel("r-cancel", start);
    await waitFor(() => sink.outcomesFor(start).length === 1, "the cancelled outcome");
    expect(sink.outcomesFor(start)[0]).toMatchObject({ ok: false, reason: "COMMAND_CANCELLED" });
    await waitFor(() => sink.outcomesFor(create).length === 1, "the create outcome");
    expect(sink.outcomesFor(create)[0]).toMatchObject({ ok: true });
    expect(driver.calls).toEqual(["create:c1", "start:c1"]);
  });

  test("commands are delivered in creation order and a failure reaches the sink with its reason", async () => {
    const p = await plane();
    const token = await registerRunner(p, "r-order");
    const driver = new MemoryDriver();
    const r = runner({ url: p.url, token, runnerId: "r-order", driver });
    await r.stream.connected();
    const ids: string[] = [];
    await database.db.transaction(async (trx) => {
      ids.push(
        await enqueueCommand(trx, {
          runnerId: "r-order",
          sandboxId: "o1",
          command: createCommand("o1"),
        }),
      );
      await sleep(5);
      ids.push(
        await enqueueCommand(trx, {
          runnerId: "r-order",
          sandboxId: "o1",
          command: { case: "stopSandbox", value: { sandboxId: "o1" } },
        }),
      );
      await sleep(5);
      ids.push(
        await enqueueCommand(trx, {
          runnerId: "r-order",
          sandboxId: "o2",
          command: { case: "archiveSandbox", value: { sandboxId: "o2", archiveUri: "file:///x" } },
        }),
      );
    });
    p.hub.notify("r-order");
    await waitFor(() => ids.every((id) => sink.outcomesFor(id).length === 1), "three outcomes");
    expect(driver.calls).toEqual(["create:o1", "start:o1", "stop:o1"]);
    expect(sink.outcomesFor(ids[2] as string)[0]).toMatchObject({
      ok: false,
      reason: "RUNTIME_UNAVAILABLE",
      retryable: false,
    });
    const failed = await commandRow(ids[2] as string);
    expect(failed).toMatchObject({ state: "FAILED", error_reason: "RUNTIME_UNAVAILABLE" });
  });
});
