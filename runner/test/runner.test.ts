// The whole runner — Docker driver, toolbox gateway, command stream — against the real
// Docker engine, with a small in-test Connect server standing in for the control plane.
import * as fs from "node:fs";
import * as os from "node:os";
import * as path from "node:path";
import { Code, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { createLogger } from "@cove/common";
import type { CommandResult } from "@cove/gen-ts/cove/runner/v1/runner_pb.js";
import { SandboxState } from "@cove/gen-ts/cove/sandbox/v1/sandbox_pb.js";
import { ProcessService } from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import { buildKit } from "../../daemon/scripts/build-kit.mjs";
import { docker, dockerUnreachableReason } from "../../daemon/test/docker-images.js";
import { ensureBaseImage } from "../../scripts/build-base-image.mjs";
import { type Runner, startRunner } from "../src/app.js";
import { FakeControlPlane } from "./fake-control-plane.js";

const unreachable = dockerUnreachableReason();
const required = process.env.COVE_REQUIRE_DOCKER === "1";
const describeWithDocker = unreachable !== undefined && !required ? describe.skip : describe;
if (unreachable !== undefined && !required) console.warn(`Skipping runner tests: ${unreachable}`);

const TEST_LABEL = "dev.cove.test=runner-e2e";
const token = "runner-token";
const gatewayToken = "gateway-secret";
const text = (b: Uint8Array) => Buffer.from(b).toString("utf8");

function containersOf(sandboxId: string): string[] {
  return docker(["ps", "-aq", "--filter", `label=dev.cove.sandbox-id=${sandboxId}`])
    .trim()
    .split("\n")
    .filter(Boolean);
}

function sandboxState(result: CommandResult): SandboxState | undefined {
  return result.outcome.case === "success" && result.outcome.value.payload.case === "sandbox"
    ? result.outcome.value.payload.value.sandbox?.state
    : undefined;
}

describeWithDocker("runner against the Docker engine", () => {
  let plane: FakeControlPlane;
  let runner: Runner;
  let image: string;
  let dataDir: string;
  let n = 0;
  const sandboxId = `rt${Date.now().toString(36)}${Math.random().toString(36).slice(2, 8)}`;

  const toolbox = (id: string) => {
    const headers: Interceptor = (next) => (req) => {
      req.header.set("cove-sandbox-id", id);
      req.header.set("cove-gateway-token", gatewayToken);
      return next(req);
    };
    return createClient(
      ProcessService,
      createGrpcTransport({ baseUrl: runner.gatewayUrl, interceptors: [headers] }),
    );
  };
  const command = async (body: Parameters<FakeControlPlane["send"]>[0]["command"]) => {
    const commandId = `cmd-${++n}`;
    plane.send({ commandId, command: body });
    return plane.result(commandId, 120_000);
  };
  const create = () =>
    command({
      case: "createSandbox",
      value: {
        spec: {
          sandboxId,
          organizationId: "org-test",
          image,
          resources: { cpuMillicores: 1000, memoryMib: 512 },
          osUser: "cove",
          env: { GREETING: "hi" },
        },
      },
    });

  beforeAll(async () => {
    if (unreachable !== undefined)
      throw new Error(`COVE_REQUIRE_DOCKER=1 but Docker is not reachable: ${unreachable}`);
    const kit = await buildKit({ log: () => {} });
    image = (await ensureBaseImage({ log: () => {} })).image;
    dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "cove-runner-test-"));
    plane = new FakeControlPlane(token);
    await plane.start();
    runner = await startRunner(
      {
        runnerId: "runner-e2e",
        name: "e2e",
        region: "local",
        serverUrl: plane.url,
        token,
        gatewayListen: { host: "127.0.0.1", port: 0 },
        gatewayUrl: undefined,
        gatewayToken,
        dataDir,
        kitDir: kit.dir,
        defaultRuntime: "",
        capacity: { cpuMillicores: 2000, memoryMib: 4096, diskMib: 0, maxSandboxes: 10 },
      },
      createLogger({ level: "silent" }),
      { extraLabels: { "dev.cove.test": "runner-e2e" } },
    );
    await plane.connections(1);
  }, 900_000);

  afterAll(async () => {
    await runner?.stop();
    await plane?.kill();
    for (const id of docker(["ps", "-aq", "--filter", `label=${TEST_LABEL}`])
      .trim()
      .split("\n")
      .filter(Boolean)) {
      docker(["rm", "-f", "-v", id]);
    }
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  test("create → Exec through the gateway → stop → start → destroy", async () => {
    const created = await create();
    expect(sandboxState(created)).toBe(SandboxState.STARTED);
    const res = await toolbox(sandboxId).exec({
      program: {
        case: "command",
        value: 'python3 -c "print(\\"Sum:\\", 3 + 4)"; echo $GREETING; id -un',
      },
    });
    expect(text(res.stdout)).toBe("Sum: 7\nhi\ncove\n");

    expect(sandboxState(await command({ case: "stopSandbox", value: { sandboxId } }))).toBe(
      SandboxState.STOPPED,
    );
    const stopped = await toolbox(sandboxId)
      .exec({ program: { case: "command", value: "true" } })
      .catch((e) => e);
    expect(stopped.code).toBe(Code.FailedPrecondition);

    expect(sandboxState(await command({ case: "startSandbox", value: { sandboxId } }))).toBe(
      SandboxState.STARTED,
    );
    const again = await toolbox(sandboxId).exec({
      program: { case: "command", value: "echo back" },
    });
    expect(text(again.stdout)).toBe("back\n");

    expect(sandboxState(await command({ case: "destroySandbox", value: { sandboxId } }))).toBe(
      SandboxState.DESTROYED,
    );
    expect(containersOf(sandboxId)).toEqual([]);
    const gone = await toolbox(sandboxId)
      .exec({ program: { case: "command", value: "true" } })
      .catch((e) => e);
    expect(gone.code).toBe(Code.NotFound);
  }, 180_000);

  test("the same create sent twice yields one container; stop of a missing sandbox is not an error", async () => {
    const id = `${sandboxId}b`;
    const spec = { sandboxId: id, image, resources: { cpuMillicores: 500, memoryMib: 256 } };
    const [a, b] = await Promise.all([
      command({ case: "createSandbox", value: { spec } }),
      command({ case: "createSandbox", value: { spec } }),
    ]);
    expect([sandboxState(a), sandboxState(b)]).toEqual([
      SandboxState.STARTED,
      SandboxState.STARTED,
    ]);
    expect(containersOf(id)).toHaveLength(1);
    expect(sandboxState(await command({ case: "destroySandbox", value: { sandboxId: id } }))).toBe(
      SandboxState.DESTROYED,
    );
    const missing = await command({
      case: "stopSandbox",
      value: { sandboxId: "nosuchsandbox0000000" },
    });
    expect(missing.outcome.case).toBe("success");
  }, 180_000);

  test("when the server dies the runner reconnects, reports its inventory and loses nothing", async () => {
    const id = `${sandboxId}c`;
    const created = await command({
      case: "createSandbox",
      value: { spec: { sandboxId: id, image } },
    });
    expect(created.outcome).toMatchObject({ case: "success" });
    const port = plane.port;
    await plane.kill();
    await new Promise((r) => setTimeout(r, 500));
    expect(containersOf(id)).toHaveLength(1);
    await plane.start(port);
    await plane.connections(2, 60_000);
    const hello = plane.hellos.at(-1);
    expect(hello?.sandboxes.find((s) => s.sandboxId === id)?.state).toBe(SandboxState.STARTED);
    const res = await toolbox(id).exec({ program: { case: "command", value: "echo still here" } });
    expect(text(res.stdout)).toBe("still here\n");
    await command({ case: "destroySandbox", value: { sandboxId: id } });
  }, 180_000);

  test("a container that dies outside a command is reported at once", async () => {
    const id = `${sandboxId}d`;
    const created = await command({
      case: "createSandbox",
      value: { spec: { sandboxId: id, image } },
    });
    expect(created.outcome).toMatchObject({ case: "success" });
    const before = plane.reports.length;
    docker(["kill", containersOf(id)[0] as string]);
    await plane.waitFor(
      () =>
        plane.reports
          .slice(before)
          .some((r) => r.sandboxId === id && r.state !== SandboxState.STARTED),
      20_000,
      "a report of the dead container",
    );
    await command({ case: "destroySandbox", value: { sandboxId: id } });
  }, 180_000);
});
