import { type GrpcServer, ServingStatus } from "@cove/common";
import { SandboxState } from "@cove/gen-grpc-js/cove/sandbox/v1/sandbox.js";
import {
  type GetSandboxResponse,
  SandboxServiceClient,
  type WatchSandboxResponse,
} from "@cove/gen-grpc-js/cove/sandbox/v1/sandbox_service.js";
import { ErrorInfo } from "@cove/gen-grpc-js/google/rpc/error_details.js";
import { Status } from "@cove/gen-grpc-js/google/rpc/status.js";
import {
  HealthCheckResponse_ServingStatus,
  HealthClient,
} from "@cove/gen-grpc-js/grpc/health/v1/health.js";
import * as grpc from "@grpc/grpc-js";
import { MISSING_SANDBOX_ID, startInteropServer, WATCHED_STATES } from "../fixture/server.js";

// The classic Node gRPC flavour: @grpc/grpc-js channels with the ts-proto stubs in gen/grpc-js.
let server: GrpcServer;
let target: string;
const credentials = grpc.credentials.createInsecure();
const clients: grpc.Client[] = [];

beforeAll(async () => {
  server = await startInteropServer();
  target = server.url.replace(/^http:\/\//, "");
});
afterAll(async () => {
  for (const client of clients) client.close();
  await server.close(200);
});

function sandboxClient() {
  const client = new SandboxServiceClient(target, credentials);
  clients.push(client);
  return client;
}

const deadline = () => Date.now() + 10_000;

test("health Check through the generated grpc-js stub", async () => {
  const health = new HealthClient(target, credentials);
  clients.push(health);
  const status = await new Promise((resolve, reject) =>
    health.check({ service: "" }, new grpc.Metadata(), { deadline: deadline() }, (err, res) =>
      err ? reject(err) : resolve(res?.status),
    ),
  );
  expect(status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  expect(status).toBe(ServingStatus.SERVING);
});

test("a Cove unary call decodes into ts-proto messages", async () => {
  const res = await new Promise<GetSandboxResponse>((resolve, reject) =>
    sandboxClient().getSandbox(
      { sandboxId: "sbx-grpc-js" },
      new grpc.Metadata(),
      { deadline: deadline() },
      (err, out) => (err ? reject(err) : resolve(out)),
    ),
  );
  expect(res.sandbox?.sandboxId).toBe("sbx-grpc-js");
  expect(res.sandbox?.state).toBe(SandboxState.SANDBOX_STATE_STARTED);
  expect(res.sandbox?.labels["utf8-label"]).toBe("žluťoučký kůň ✓");
  expect(res.sandbox?.createTime?.toISOString()).toBe("2026-01-02T03:04:05.678Z");
});

test("a Cove error arrives as NOT_FOUND with grpc-status-details-bin holding the ErrorInfo", async () => {
  const error = await new Promise<grpc.ServiceError>((resolve) =>
    sandboxClient().getSandbox(
      { sandboxId: MISSING_SANDBOX_ID },
      new grpc.Metadata(),
      { deadline: deadline() },
      (err) => resolve(err as grpc.ServiceError),
    ),
  );
  expect(error.code).toBe(grpc.status.NOT_FOUND);
  const [raw] = error.metadata.get("grpc-status-details-bin");
  const status = Status.decode(raw as Buffer);
  expect(status.code).toBe(grpc.status.NOT_FOUND);
  const info = ErrorInfo.decode(status.details[0]?.value ?? new Uint8Array());
  expect(status.details[0]?.typeUrl).toBe("type.googleapis.com/google.rpc.ErrorInfo");
  expect(info).toMatchObject({ reason: "SANDBOX_NOT_FOUND", domain: "cove.dev" });
});

test("a Cove server stream arrives complete and in order", async () => {
  const states = await new Promise<number[]>((resolve, reject) => {
    const seen: number[] = [];
    const call = sandboxClient().watchSandbox({ sandboxId: "sbx-watch" }, { deadline: deadline() });
    call.on("data", (res: WatchSandboxResponse) => {
      if (res.event?.$case === "initial") seen.push(res.event.value.state);
      if (res.event?.$case === "stateChange") seen.push(res.event.value.sandbox?.state ?? 0);
    });
    call.on("error", reject);
    call.on("end", () => resolve(seen));
  });
  expect(states).toEqual(WATCHED_STATES.map(Number));
});

test("an unknown method answers UNIMPLEMENTED with a message naming it", async () => {
  const client = new grpc.Client(target, credentials);
  clients.push(client);
  const error = await new Promise<grpc.ServiceError>((resolve) =>
    client.makeUnaryRequest(
      "/cove.nothing.v1.NothingService/DoNothing",
      (arg: Buffer) => arg,
      (buf: Buffer) => buf,
      Buffer.alloc(0),
      new grpc.Metadata(),
      { deadline: deadline() },
      (err) => resolve(err as grpc.ServiceError),
    ),
  );
  expect(error.code).toBe(grpc.status.UNIMPLEMENTED);
  expect(error.details).toContain("/cove.nothing.v1.NothingService/DoNothing");
});
