// The runner's side of RunnerService.Connect against a real Connect server standing in for
// the control plane: hello with inventory, heartbeats, idempotent commands, deadlines,
// cancellation, and reconnecting after the server dies — without touching any sandbox.
import { timestampFromMs } from "@bufbuild/protobuf/wkt";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createLogger } from "@cove/common";
import { ErrorReason } from "@cove/gen-ts/cove/errors/v1/error_reason_pb.js";
import { SandboxState } from "@cove/gen-ts/cove/sandbox/v1/sandbox_pb.js";
import { CommandExecutor } from "../src/control/command-executor.js";
import { ControlStream } from "../src/control/control-stream.js";
import { FakeControlPlane } from "./fake-control-plane.js";
import { MemoryDriver } from "./memory-driver.js";

const token = "runner-secret";
const logger = createLogger({ level: "silent" });

async function startRunner(
  plane: FakeControlPlane,
  driver: MemoryDriver,
  url = plane.url,
  secret = token,
) {
  const transport = createGrpcTransport({
    baseUrl: url,
    interceptors: [
      (next) => (req) => {
        req.header.set("authorization", `Bearer ${secret}`);
        return next(req);
      },
    ],
  });
  let stream: ControlStream | undefined;
  const executor = new CommandExecutor(driver, (out) => stream?.deliver(out), logger);
  stream = new ControlStream(
    transport,
    {
      runnerId: "r1",
      name: "test",
      version: "0.1.0",
      region: "local",
      capacity: { cpuMillicores: 2000, memoryMib: 4096, diskMib: 0, maxSandboxes: 10 },
      toolboxGatewayUrl: "http://127.0.0.1:3003",
    },
    driver,
    executor,
    logger,
    { heartbeatMs: 200, minBackoffMs: 50, maxBackoffMs: 500 },
  );
  const running = stream.run();
  return {
    stream,
    executor,
    stop: async () => {
      stream?.stop();
      await running;
    },
  };
}

const create = (commandId: string, sandboxId: string) => ({
  commandId,
  command: {
    case: "createSandbox" as const,
    value: { spec: { sandboxId, image: "cove/sandbox:test" } },
  },
});

describe("command stream", () => {
  let plane: FakeControlPlane;
  let driver: MemoryDriver;
  let runner: Awaited<ReturnType<typeof startRunner>>;

  beforeEach(async () => {
    plane = new FakeControlPlane(token);
    await plane.start();
    driver = new MemoryDriver();
    runner = await startRunner(plane, driver);
    await plane.connections(1);
  });
  afterEach(async () => {
    await runner.stop();
    await plane.kill();
  });

  test("hello carries identity, runtimes and the full inventory; heartbeats follow", async () => {
    const [hello] = plane.hellos;
    expect(hello).toMatchObject({
      runnerId: "r1",
      region: "local",
      runtimes: ["runc"],
      toolboxGatewayUrl: "http://127.0.0.1:3003",
    });
    expect(hello?.capacity?.maxSandboxes).toBe(10);
    await plane.waitFor(() => plane.heartbeats >= 2, 5_000, "two heartbeats");
  });

  test("create reports CREATING, STARTING, STARTED and returns the daemon socket", async () => {
    plane.send(create("c1", "sbx1"));
    const result = await plane.result("c1");
    expect(result.outcome.case).toBe("success");
    const payload = result.outcome.case === "success" ? result.outcome.value.payload : undefined;
    expect(payload?.case === "sandbox" && payload.value.daemonSocketPath).toBe(
      "/tmp/memory-driver/sbx1/daemon.sock",
    );
    expect(plane.reports.filter((r) => r.sandboxId === "sbx1").map((r) => r.state)).toEqual([
      SandboxState.CREATING,
      SandboxState.STARTING,
      SandboxState.STARTED,
    ]);
    expect(plane.acks.get("c1")).toBe(1);
  });

  test("a command delivered twice runs once; a finished one gets its result again", async () => {
    driver.startDelayMs = 300;
    plane.send(create("dup", "sbx2"));
    plane.send(create("dup", "sbx2"));
    await plane.result("dup");
    expect(driver.calls.filter((c) => c === "start:sbx2")).toHaveLength(1);
    plane.send(create("dup", "sbx2"));
    await plane.waitFor(
      () => (plane.resultCounts.get("dup") ?? 0) >= 2,
      5_000,
      "the repeated result",
    );
    expect(driver.calls.filter((c) => c === "start:sbx2")).toHaveLength(1);
    expect(plane.acks.get("dup")).toBe(3);
  });

  test("stop and destroy of a missing sandbox succeed", async () => {
    plane.send({
      commandId: "s1",
      command: { case: "stopSandbox", value: { sandboxId: "ghost" } },
    });
    plane.send({
      commandId: "d1",
      command: { case: "destroySandbox", value: { sandboxId: "ghost" } },
    });
    expect((await plane.result("s1")).outcome.case).toBe("success");
    const destroyed = await plane.result("d1");
    expect(
      destroyed.outcome.case === "success" &&
        destroyed.outcome.value.payload.case === "sandbox" &&
        destroyed.outcome.value.payload.value.sandbox?.state,
    ).toBe(SandboxState.DESTROYED);
  });

  test("a command past its deadline is not started", async () => {
    plane.send({ ...create("late", "sbx3"), deadlineTime: timestampFromMs(Date.now() - 1000) });
    const result = await plane.result("late");
    expect(result.outcome.case === "error" && result.outcome.value.reason).toBe(
      ErrorReason.COMMAND_DEADLINE_EXCEEDED,
    );
    expect(driver.calls).not.toContain("create:sbx3");
  });

  test("a queued command can be cancelled", async () => {
    driver.startDelayMs = 500;
    plane.send(create("first", "sbx4"));
    plane.send({
      commandId: "second",
      command: { case: "stopSandbox", value: { sandboxId: "sbx4" } },
    });
    await plane.waitFor(() => plane.acks.has("second"), 5_000, "the ack");
    plane.cancel("second");
    const result = await plane.result("second");
    expect(result.outcome.case === "error" && result.outcome.value.reason).toBe(
      ErrorReason.COMMAND_CANCELLED,
    );
    expect((await plane.result("first")).outcome.case).toBe("success");
  });

  test("a failed start is reported as ERROR with its reason, and the command fails", async () => {
    driver.startError = new Error("daemon did not answer");
    plane.send(create("bad", "sbx5"));
    const result = await plane.result("bad");
    expect(result.outcome.case).toBe("error");
    await plane.waitFor(
      () => plane.reports.some((r) => r.sandboxId === "sbx5" && r.state === SandboxState.ERROR),
      5_000,
      "an ERROR report",
    );
  });

  test("after the server dies the runner reconnects, resends its inventory and loses nothing", async () => {
    plane.send(create("before", "sbx6"));
    await plane.result("before");
    const port = plane.port;
    await plane.kill();
    // While the server is down, nothing is torn down.
    await new Promise((r) => setTimeout(r, 300));
    expect(driver.sandboxes.get("sbx6")?.state).toBe("started");
    await plane.start(port);
    await plane.connections(2);
    const hello = plane.hellos.at(-1);
    expect(hello?.sandboxes.map((s) => [s.sandboxId, s.state])).toEqual([
      ["sbx6", SandboxState.STARTED],
    ]);
    // The server redelivers what it has no result for; the runner answers from memory.
    plane.send(create("before", "sbx6"));
    expect((await plane.result("before")).outcome.case).toBe("success");
    expect(driver.calls.filter((c) => c === "start:sbx6")).toHaveLength(1);
    expect(driver.calls).not.toContain("destroy:sbx6");
  });
});

test("a wrong runner token is refused and the runner keeps retrying without touching sandboxes", async () => {
  const plane = new FakeControlPlane(token);
  await plane.start();
  const driver = new MemoryDriver();
  const runner = await startRunner(plane, driver, plane.url, "wrong");
  await new Promise((r) => setTimeout(r, 500));
  expect(plane.hellos).toHaveLength(0);
  expect(driver.calls).toEqual([]);
  await runner.stop();
  await plane.kill();
});
