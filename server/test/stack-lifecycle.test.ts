// The API server with a real runner and the Docker engine: the sandbox lifecycle end to end,
// and Exec in a sandbox reached through the runner's toolbox gateway.
import { Code, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport } from "@connectrpc/connect-node";
import { SandboxState } from "@cove/gen-ts/cove/sandbox/v1/sandbox_pb.js";
import { SandboxService } from "@cove/gen-ts/cove/sandbox/v1/sandbox_service_pb.js";
import { ProcessService } from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import { dockerUnreachableReason } from "../../daemon/test/docker-images.js";
import { type Stack, startStack } from "../../test/stack.js";

const unreachable = dockerUnreachableReason();
const describeWithDocker =
  unreachable !== undefined && process.env.COVE_REQUIRE_DOCKER !== "1" ? describe.skip : describe;

const bearer =
  (key: string): Interceptor =>
  (next) =>
  (req) => {
    req.header.set("authorization", `Bearer ${key}`);
    return next(req);
  };

describeWithDocker("the API server with a real runner", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack({ name: "lifecycle" });
  }, 900_000);
  afterAll(() => stack?.stop());

  const api = () =>
    createClient(
      SandboxService,
      createGrpcTransport({ baseUrl: stack.apiUrl, interceptors: [bearer(stack.adminKey)] }),
    );
  const toolbox = (sandboxId: string) =>
    createClient(
      ProcessService,
      createGrpcTransport({
        baseUrl: stack.runner.gatewayUrl,
        interceptors: [
          (next) => (req) => {
            req.header.set("cove-sandbox-id", sandboxId);
            req.header.set("cove-gateway-token", stack.gatewayToken);
            return next(req);
          },
        ],
      }),
    );

  test("create (wait) → STARTED → Exec → stop → start → delete", async () => {
    const { sandbox } = await api().createSandbox({ labels: { suite: "lifecycle" } });
    expect(sandbox?.state).toBe(SandboxState.STARTED);
    const id = sandbox?.sandboxId ?? "";
    const res = await toolbox(id).exec({
      program: { case: "command", value: 'python3 -c "print(\\"Sum:\\", 3 + 4)"' },
    });
    expect(Buffer.from(res.stdout).toString()).toBe("Sum: 7\n");

    const stopped = await api().stopSandbox({ sandboxId: id, wait: true });
    expect(stopped.sandbox?.state).toBe(SandboxState.STOPPED);
    const started = await api().startSandbox({ sandboxId: id, wait: true });
    expect(started.sandbox?.state).toBe(SandboxState.STARTED);
    const again = await toolbox(id).exec({ program: { case: "command", value: "echo again" } });
    expect(Buffer.from(again.stdout).toString()).toBe("again\n");

    await api().deleteSandbox({ sandboxId: id, wait: true });
    const gone = await api()
      .getSandbox({ sandboxId: id })
      .catch((e) => e);
    expect([SandboxState.DESTROYED, Code.NotFound]).toContain(gone.sandbox?.state ?? gone.code);
  }, 120_000);
});
