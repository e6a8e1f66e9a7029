import { execFile } from "node:child_process";
import * as path from "node:path";
import { create, createFileRegistry, fromBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema, file_google_protobuf_empty } from "@bufbuild/protobuf/wkt";
import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { type GrpcServer, ServingStatus } from "@cove/common";
import { ErrorReason } from "@cove/gen-ts/cove/errors/v1/error_reason_pb.js";
import { SandboxState } from "@cove/gen-ts/cove/sandbox/v1/sandbox_pb.js";
import { SandboxService } from "@cove/gen-ts/cove/sandbox/v1/sandbox_service_pb.js";
import { ErrorInfoSchema } from "@cove/gen-ts/google/rpc/error_details_pb.js";
import { Health } from "@cove/gen-ts/grpc/health/v1/health_pb.js";
import {
  ServerReflection,
  ServerReflectionRequestSchema,
} from "@cove/gen-ts/grpc/reflection/v1/reflection_pb.js";
import { MISSING_SANDBOX_ID, startInteropServer, WATCHED_STATES } from "../fixture/server.js";

const repoRoot = path.resolve(__dirname, "../..");
let server: GrpcServer;
let baseUrl: string;

beforeAll(async () => {
  server = await startInteropServer();
  baseUrl = server.url;
});
afterAll(() => server.close(200));

/** The three wire protocols a Cove server answers on one port, as Connect-ES speaks them. */
const transports: Array<[string, () => Transport]> = [
  ["Connect over HTTP/2", () => createConnectTransport({ baseUrl, httpVersion: "2" })],
  ["Connect over HTTP/1.1", () => createConnectTransport({ baseUrl, httpVersion: "1.1" })],
  ["gRPC over HTTP/2", () => createGrpcTransport({ baseUrl })],
  ["gRPC-Web over HTTP/1.1", () => createGrpcWebTransport({ baseUrl, httpVersion: "1.1" })],
];

describe.each(transports)("Connect-ES, %s", (_name, makeTransport) => {
  test("health Check reports the server and its Cove services as SERVING", async () => {
    const health = createClient(Health, makeTransport());
    expect((await health.check({ service: "" })).status).toBe(ServingStatus.SERVING);
    expect((await health.check({ service: "cove.sandbox.v1.SandboxService" })).status).toBe(
      ServingStatus.SERVING,
    );
  });

  test("health Check of an unknown service is NotFound", async () => {
    const health = createClient(Health, makeTransport());
    await expect(health.check({ service: "no.such.Service" })).rejects.toMatchObject({
      code: Code.NotFound,
    });
  });

  test("a Cove unary call round-trips labels, enums, nested messages and timestamps", async () => {
    const sandboxes = createClient(SandboxService, makeTransport());
    const { sandbox } = await sandboxes.getSandbox({ sandboxId: "sbx-1" });
    expect(sandbox?.sandboxId).toBe("sbx-1");
    expect(sandbox?.state).toBe(SandboxState.STARTED);
    expect(sandbox?.labels["utf8-label"]).toBe("žluťoučký kůň ✓");
    expect(sandbox?.resources?.memoryMib).toBe(1024);
    expect(sandbox?.createTime?.seconds).toBe(BigInt(Date.parse("2026-01-02T03:04:05Z") / 1000));
    expect(sandbox?.createTime?.nanos).toBe(678_000_000);
  });

  test("a Cove error carries its code and a google.rpc.ErrorInfo with the Cove reason", async () => {
    const sandboxes = createClient(SandboxService, makeTransport());
    const error = await sandboxes.getSandbox({ sandboxId: MISSING_SANDBOX_ID }).catch((e) => e);
    expect(error).toBeInstanceOf(ConnectError);
    expect((error as ConnectError).code).toBe(Code.NotFound);
    const [info] = (error as ConnectError).findDetails(ErrorInfoSchema);
    expect(info?.domain).toBe("cove.dev");
    expect(info?.reason).toBe(ErrorReason[ErrorReason.SANDBOX_NOT_FOUND]);
    expect(info?.metadata.sandbox_id).toBe(MISSING_SANDBOX_ID);
  });

  test("a Cove server stream delivers every message in order", async () => {
    const sandboxes = createClient(SandboxService, makeTransport());
    const states: SandboxState[] = [];
    for await (const res of sandboxes.watchSandbox({ sandboxId: "sbx-2" })) {
      if (res.event.case === "initial") states.push(res.event.value.state);
      if (res.event.case === "stateChange") states.push(res.event.value.sandbox?.state ?? 0);
    }
    expect(states).toEqual(WATCHED_STATES);
  });

  test("a Cove method the server does not implement answers Unimplemented", async () => {
    const sandboxes = createClient(SandboxService, makeTransport());
    await expect(sandboxes.deleteSandbox({ sandboxId: "sbx-1" })).rejects.toMatchObject({
      code: Code.Unimplemented,
    });
  });
});

/** A service no Cove server implements, described at run time like any generated one. */
function nothingService() {
  const file = create(FileDescriptorProtoSchema, {
    name: "cove/nothing/v1/nothing_service.proto",
    package: "cove.nothing.v1",
    syntax: "proto3",
    dependency: ["google/protobuf/empty.proto"],
    service: [
      {
        name: "NothingService",
        method: [
          {
            name: "DoNothing",
            inputType: ".google.protobuf.Empty",
            outputType: ".google.protobuf.Empty",
          },
        ],
      },
    ],
  });
  const registry = createFileRegistry(file, (name) =>
    name === file_google_protobuf_empty.proto.name ? file_google_protobuf_empty : undefined,
  );
  const service = registry.getService("cove.nothing.v1.NothingService");
  if (!service) throw new Error("descriptor did not build");
  return service;
}

test("a method no service knows answers Unimplemented in every protocol", async () => {
  const service = nothingService();
  for (const [name, makeTransport] of transports) {
    const client = createClient(service, makeTransport()) as unknown as {
      doNothing(req: object): Promise<unknown>;
    };
    const error = await client.doNothing({}).catch((e: unknown) => e);
    expect([name, error instanceof ConnectError && error.code]).toEqual([name, Code.Unimplemented]);
    expect([name, (error as ConnectError).rawMessage]).toEqual([
      name,
      expect.stringContaining("/cove.nothing.v1.NothingService/DoNothing"),
    ]);
  }
});

test("health Watch streams the current status, then each change", async () => {
  const health = createClient(Health, createGrpcTransport({ baseUrl }));
  const service = "cove.sandbox.v1.SandboxService";
  const abort = new AbortController();
  const seen: ServingStatus[] = [];
  try {
    for await (const res of health.watch({ service }, { signal: abort.signal })) {
      seen.push(res.status);
      if (seen.length === 1) server.health.setStatus(service, ServingStatus.NOT_SERVING);
      if (seen.length === 2) server.health.setStatus(service, ServingStatus.SERVING);
      if (seen.length === 3) break;
    }
  } finally {
    abort.abort();
  }
  expect(seen).toEqual([ServingStatus.SERVING, ServingStatus.NOT_SERVING, ServingStatus.SERVING]);
});

test("health List names every service", async () => {
  const health = createClient(Health, createGrpcTransport({ baseUrl }));
  const { statuses } = await health.list({});
  expect(Object.keys(statuses).sort()).toEqual(["", "cove.sandbox.v1.SandboxService"]);
});

describe("reflection v1 over a bidi stream", () => {
  async function reflect(
    requests: Array<Parameters<typeof create<typeof ServerReflectionRequestSchema>>[1]>,
  ) {
    const client = createClient(ServerReflection, createGrpcTransport({ baseUrl }));
    async function* send() {
      for (const r of requests) yield create(ServerReflectionRequestSchema, r);
    }
    const out = [];
    for await (const res of client.serverReflectionInfo(send())) out.push(res);
    return out;
  }

  test("lists Cove, health and reflection services", async () => {
    const [res] = await reflect([{ messageRequest: { case: "listServices", value: "*" } }]);
    expect(res?.messageResponse.case).toBe("listServicesResponse");
    const names =
      res?.messageResponse.case === "listServicesResponse"
        ? res.messageResponse.value.service.map((s) => s.name)
        : [];
    expect(names).toEqual(
      expect.arrayContaining([
        "cove.sandbox.v1.SandboxService",
        "grpc.health.v1.Health",
        "grpc.reflection.v1.ServerReflection",
        "grpc.reflection.v1alpha.ServerReflection",
      ]),
    );
  });

  test("describes a Cove method with its file and dependencies, each sent once per stream", async () => {
    const [first, second] = await reflect([
      {
        messageRequest: {
          case: "fileContainingSymbol",
          value: "cove.sandbox.v1.SandboxService.CreateSandbox",
        },
      },
      { messageRequest: { case: "fileByFilename", value: "cove/sandbox/v1/sandbox.proto" } },
    ]);
    const names = (res: typeof first) =>
      res?.messageResponse.case === "fileDescriptorResponse"
        ? res.messageResponse.value.fileDescriptorProto.map(
            (bytes) => fromBinary(FileDescriptorProtoSchema, bytes).name,
          )
        : [];
    const firstNames = names(first);
    expect(firstNames[0]).toBe("cove/sandbox/v1/sandbox_service.proto");
    expect(firstNames).toEqual(
      expect.arrayContaining(["cove/sandbox/v1/sandbox.proto", "google/protobuf/timestamp.proto"]),
    );
    // The requested file always comes back; dependencies already sent on this stream do not.
    expect(names(second)).toEqual(["cove/sandbox/v1/sandbox.proto"]);
  });

  test("an unknown symbol is an error response with NOT_FOUND, not a broken stream", async () => {
    const [res] = await reflect([
      { messageRequest: { case: "fileContainingSymbol", value: "cove.nothing.v1.Nothing" } },
    ]);
    expect(res?.messageResponse.case).toBe("errorResponse");
    expect(
      res?.messageResponse.case === "errorResponse" && res.messageResponse.value.errorCode,
    ).toBe(Code.NotFound);
  });
});

describe("buf curl, with reflection as its only source of schemas", () => {
  const buf = path.join(repoRoot, "node_modules/.bin/buf");
  // Asynchronous on purpose: the server under test runs in this process's event loop.
  const curl = (...args: string[]) =>
    new Promise<{ status: number; stdout: string; stderr: string }>((resolve) => {
      execFile(
        buf,
        ["curl", "--http2-prior-knowledge", ...args],
        { timeout: 20_000 },
        (err, stdout, stderr) =>
          resolve({ status: err ? Number(err.code ?? 1) : 0, stdout, stderr }),
      );
    });

  test("lists the services", async () => {
    const out = await curl("--list-services", baseUrl);
    expect(out.stderr).toBe("");
    expect(out.stdout.split("\n")).toEqual(
      expect.arrayContaining(["cove.sandbox.v1.SandboxService", "grpc.health.v1.Health"]),
    );
  });

  test("calls health Check over gRPC", async () => {
    const out = await curl("--protocol", "grpc", `${baseUrl}/grpc.health.v1.Health/Check`);
    expect(out.status).toBe(0);
    expect(JSON.parse(out.stdout)).toEqual({ status: "SERVING" });
  });

  test("calls a Cove method over Connect, encoding the request from reflected schemas", async () => {
    const out = await curl(
      "--protocol",
      "connect",
      "-d",
      '{"sandboxId":"sbx-curl"}',
      `${baseUrl}/cove.sandbox.v1.SandboxService/GetSandbox`,
    );
    expect(out.status).toBe(0);
    const body = JSON.parse(out.stdout);
    expect(body.sandbox.sandboxId).toBe("sbx-curl");
    expect(body.sandbox.state).toBe("SANDBOX_STATE_STARTED");
    expect(body.sandbox.createTime).toBe("2026-01-02T03:04:05.678Z");
  });
});
