// The proxy's toolbox path against real daemons behind a real runner gateway, with a fake
// EdgeService deciding who may reach what: every streaming kind from Connect-ES (Connect and
// gRPC) and @grpc/grpc-js, credentials, tenancy, deadlines, cancellation, invalidation.
import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as net from "node:net";
import * as path from "node:path";
import type { DescService, MessageInitShape } from "@bufbuild/protobuf";
import {
  type Client,
  Code,
  ConnectError,
  createClient,
  type Interceptor,
  type Transport,
} from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
} from "@connectrpc/connect-node";
import { AsyncQueue } from "@cove/common";
import { FilesystemServiceClient } from "@cove/gen-grpc-js/cove/toolbox/v1/filesystem_service.js";
import {
  PortServiceClient,
  type TunnelResponse,
} from "@cove/gen-grpc-js/cove/toolbox/v1/port_service.js";
import {
  ProcessServiceClient,
  type StartResponse,
} from "@cove/gen-grpc-js/cove/toolbox/v1/process_service.js";
import { ErrorInfo } from "@cove/gen-grpc-js/google/rpc/error_details.js";
import { Status } from "@cove/gen-grpc-js/google/rpc/status.js";
import { RouteChangeKind } from "@cove/gen-ts/cove/edge/v1/edge_pb.js";
import { SandboxState } from "@cove/gen-ts/cove/sandbox/v1/sandbox_pb.js";
import { SandboxService } from "@cove/gen-ts/cove/sandbox/v1/sandbox_service_pb.js";
import {
  FilesystemService,
  type UploadFileRequestSchema,
} from "@cove/gen-ts/cove/toolbox/v1/filesystem_service_pb.js";
import {
  PortService,
  type TunnelRequestSchema,
} from "@cove/gen-ts/cove/toolbox/v1/port_service_pb.js";
import { ProcessService } from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import { ErrorInfoSchema } from "@cove/gen-ts/google/rpc/error_details_pb.js";
import {
  Health,
  HealthCheckResponse_ServingStatus,
} from "@cove/gen-ts/grpc/health/v1/health_pb.js";
import * as grpc from "@grpc/grpc-js";
import {
  ALPHA,
  ALPHA_TOKEN,
  BRAVO,
  ORG_A_KEY,
  ORG_B_KEY,
  type ProxyEnv,
  startProxyEnv,
  waitFor,
} from "./edge-harness.js";

let env: ProxyEnv;

beforeAll(async () => {
  env = await startProxyEnv();
});

afterAll(async () => {
  await env.close();
});

type Kind = "grpc" | "connect" | "connect-h1" | "grpc-web-h1";

function headers(values: Record<string, string>): Interceptor {
  return (next) => (req) => {
    for (const [name, value] of Object.entries(values)) req.header.set(name, value);
    return next(req);
  };
}

function transport(kind: Kind, values: Record<string, string>, baseUrl = env.proxy.url): Transport {
  const options = { baseUrl, interceptors: [headers(values)], defaultTimeoutMs: 30_000 };
  switch (kind) {
    case "grpc":
      return createGrpcTransport(options);
    case "connect":
      return createConnectTransport({ ...options, httpVersion: "2" });
    case "connect-h1":
      return createConnectTransport({ ...options, httpVersion: "1.1" });
    case "grpc-web-h1":
      return createGrpcWebTransport({ ...options, httpVersion: "1.1" });
  }
}

/** client calls a sandbox through the proxy with a credential. */
function client<S extends DescService>(
  service: S,
  kind: Kind,
  sandboxId: string,
  credential: string | null = ORG_A_KEY,
): Client<S> {
  const values: Record<string, string> = { "cove-sandbox-id": sandboxId };
  if (credential !== null) values.authorization = `Bearer ${credential}`;
  return createClient(service, transport(kind, values));
}

async function errorOf(call: Promise<unknown>) {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ConnectError)) throw new Error(`expected a ConnectError, got ${err}`);
  return {
    code: err.code,
    message: err.rawMessage,
    reason: err.findDetails(ErrorInfoSchema)[0]?.reason,
  };
}

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString("utf8");
type UploadInit = MessageInitShape<typeof UploadFileRequestSchema>;
type TunnelInit = MessageInitShape<typeof TunnelRequestSchema>;

async function withEcho<T>(run: (port: number) => Promise<T>): Promise<T> {
  const echo = net.createServer({ allowHalfOpen: true }, (socket) => {
    socket.on("error", () => {});
    socket.pipe(socket);
  });
  await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", () => resolve()));
  try {
    return await run((echo.address() as net.AddressInfo).port);
  } finally {
    await new Promise((resolve) => echo.close(resolve));
  }
}

describe.each(["grpc", "connect", "connect-h1", "grpc-web-h1"] as Kind[])(
  "Connect-ES over %s",
  (kind) => {
    test("Exec (unary) runs in the sandbox the header names", async () => {
      const res = await client(ProcessService, kind, ALPHA).exec({
        program: { case: "command", value: 'printf "%s" "$PWD"' },
      });
      expect(text(res.stdout)).toBe(env.alpha.home);
    });

    test("Start (server stream) delivers output before the process ends", async () => {
      const begin = Date.now();
      let first = 0;
      let end = 0;
      for await (const res of client(ProcessService, kind, ALPHA).start({
        program: { case: "command", value: "echo first; sleep 1; echo second" },
      })) {
        const event = res.event?.event;
        if (event?.case === "data" && text(event.value.output.value as Uint8Array) === "first\n") {
          first = Date.now() - begin;
        }
        if (event?.case === "end") end = Date.now() - begin;
      }
      expect(first).toBeGreaterThan(0);
      expect(end - first).toBeGreaterThan(700);
    });

    test("the /sandbox/<id>/ path prefix names the sandbox too", async () => {
      const c = createClient(
        ProcessService,
        transport(
          kind,
          { authorization: `Bearer ${ALPHA_TOKEN}` },
          `${env.proxy.url}/sandbox/${ALPHA}`,
        ),
      );
      const res = await c.exec({ program: { case: "command", value: 'printf "%s" "$PWD"' } });
      expect(text(res.stdout)).toBe(env.alpha.home);
    });

    test("no credential is UNAUTHENTICATED; another organization's key is NOT_FOUND", async () => {
      const none = await errorOf(
        client(ProcessService, kind, ALPHA, null).exec({
          program: { case: "command", value: "true" },
        }),
      );
      expect(none).toMatchObject({ code: Code.Unauthenticated, reason: "CREDENTIALS_MISSING" });
      const foreign = await errorOf(
        client(ProcessService, kind, ALPHA, ORG_B_KEY).exec({
          program: { case: "command", value: "true" },
        }),
      );
      expect(foreign).toMatchObject({ code: Code.NotFound, reason: "SANDBOX_NOT_FOUND" });
    });
  },
);

describe.each(["grpc", "connect"] as Kind[])("Connect-ES streaming over %s (HTTP/2)", (kind) => {
  test("UploadFile (client stream) of 32 MiB is byte-exact", async () => {
    const content = crypto.randomBytes(32 * 1024 * 1024);
    async function* upload(): AsyncIterable<UploadInit> {
      yield {
        message: {
          case: "header",
          value: { path: `up-${kind}.bin`, sizeBytes: BigInt(content.length) },
        },
      };
      for (let at = 0; at < content.length; at += 1024 * 1024) {
        yield { message: { case: "data", value: content.subarray(at, at + 1024 * 1024) } };
      }
    }
    const res = await client(FilesystemService, kind, ALPHA).uploadFile(upload());
    expect(Number(res.writtenBytes)).toBe(content.length);
    const written = fs.readFileSync(path.join(env.alpha.home, `up-${kind}.bin`));
    expect(written.equals(content)).toBe(true);
  }, 60_000);

  test("PortService.Tunnel (bidi) echoes 2 MiB both ways", async () => {
    await withEcho(async (port) => {
      const payload = crypto.randomBytes(2 * 1024 * 1024);
      const requests = new AsyncQueue<TunnelInit>();
      requests.push({ message: { case: "open", value: { port } } });
      const received: Buffer[] = [];
      for await (const res of client(PortService, kind, ALPHA, ALPHA_TOKEN).tunnel(requests)) {
        const event = res.event?.event;
        if (event?.case === "opened") {
          for (let at = 0; at < payload.length; at += 32 * 1024) {
            requests.push({
              message: { case: "data", value: payload.subarray(at, at + 32 * 1024) },
            });
          }
          requests.close();
        }
        if (event?.case === "data") received.push(Buffer.from(event.value));
      }
      expect(Buffer.concat(received).equals(payload)).toBe(true);
    });
  });

  test("a deadline reaches the daemon: a sleep is cut with DEADLINE_EXCEEDED", async () => {
    const begin = Date.now();
    const err = await errorOf(
      client(ProcessService, kind, ALPHA).exec(
        { program: { case: "command", value: "sleep 20" } },
        { timeoutMs: 500 },
      ),
    );
    expect(err.code).toBe(Code.DeadlineExceeded);
    expect(Date.now() - begin).toBeLessThan(4_000);
  });

  test("cancelling a stream cancels it at the gateway", async () => {
    const abort = new AbortController();
    const outcome = await errorOf(
      (async () => {
        for await (const res of client(ProcessService, kind, ALPHA).start(
          { program: { case: "command", value: "sleep 30" }, killOnDisconnect: true },
          { signal: abort.signal },
        )) {
          if (res.event?.event.case === "start") {
            expect(env.gateway.activeCalls(ALPHA)).toBe(1);
            abort.abort();
          }
        }
      })(),
    );
    expect(outcome.code).toBe(Code.Canceled);
    await waitFor(() => env.gateway.activeCalls(ALPHA) === 0 && env.proxy.openConnections === 0);
  });
});

describe("@grpc/grpc-js with the ts-proto stubs", () => {
  const target = () => env.proxy.url.replace("http://", "");
  const metadata = (credential = ORG_A_KEY, sandboxId = ALPHA) => {
    const md = new grpc.Metadata();
    md.set("cove-sandbox-id", sandboxId);
    md.set("authorization", `Bearer ${credential}`);
    return md;
  };
  let processes: ProcessServiceClient;
  let files: FilesystemServiceClient;
  let ports: PortServiceClient;
  beforeAll(() => {
    processes = new ProcessServiceClient(target(), grpc.credentials.createInsecure());
    files = new FilesystemServiceClient(target(), grpc.credentials.createInsecure());
    ports = new PortServiceClient(target(), grpc.credentials.createInsecure());
  });
  afterAll(() => {
    processes.close();
    files.close();
    ports.close();
  });

  test("Exec (unary)", async () => {
    const res = await new Promise<{ stdout: Buffer; exitCode: number }>((resolve, reject) =>
      processes.exec(
        {
          program: { $case: "command", value: "echo grpc-js" },
          cwd: "",
          env: {},
          user: "",
          stdin: Buffer.alloc(0),
          timeout: undefined,
          maxOutputBytes: 0,
        },
        metadata(),
        (err, value) => (err ? reject(err) : resolve(value)),
      ),
    );
    expect(res.stdout.toString()).toBe("grpc-js\n");
  });

  test("Start (server stream)", async () => {
    const call = processes.start(
      {
        program: { $case: "command", value: "echo one; echo two" },
        cwd: "",
        env: {},
        user: "",
        tag: "",
        timeout: undefined,
        stdin: false,
        pty: undefined,
        killOnDisconnect: false,
        keepaliveInterval: undefined,
      } as never,
      metadata(),
    );
    let stdout = "";
    let exitCode = -1;
    for await (const res of call as AsyncIterable<StartResponse>) {
      const event = res.event?.event;
      if (event?.$case === "data" && event.value.output?.$case === "stdout")
        stdout += event.value.output.value.toString();
      if (event?.$case === "end") exitCode = event.value.exitCode;
    }
    expect(stdout).toBe("one\ntwo\n");
    expect(exitCode).toBe(0);
  });

  test("UploadFile (client stream)", async () => {
    const content = crypto.randomBytes(3 * 1024 * 1024 + 17);
    const written = await new Promise<number>((resolve, reject) => {
      const call = files.uploadFile(metadata(), (err, res) =>
        err ? reject(err) : resolve(Number(res.writtenBytes)),
      );
      call.write({
        message: { $case: "header", value: { path: "grpc-js.bin", sizeBytes: content.length } },
      });
      for (let at = 0; at < content.length; at += 512 * 1024) {
        call.write({ message: { $case: "data", value: content.subarray(at, at + 512 * 1024) } });
      }
      call.end();
    });
    expect(written).toBe(content.length);
    expect(fs.readFileSync(path.join(env.alpha.home, "grpc-js.bin")).equals(content)).toBe(true);
  });

  test("Tunnel (bidi)", async () => {
    await withEcho(async (port) => {
      const call = ports.tunnel(metadata(ALPHA_TOKEN));
      call.write({ message: { $case: "open", value: { port, connectTimeout: undefined } } });
      const payload = crypto.randomBytes(256 * 1024);
      const received: Buffer[] = [];
      for await (const res of call as AsyncIterable<TunnelResponse>) {
        const event = res.event?.event;
        if (event?.$case === "opened") {
          call.write({ message: { $case: "data", value: payload } });
          call.end();
        }
        if (event?.$case === "data") received.push(event.value);
      }
      expect(Buffer.concat(received).equals(payload)).toBe(true);
    });
  });

  test("another organization's key: NOT_FOUND with ErrorInfo", async () => {
    const err = await new Promise<grpc.ServiceError>((resolve) =>
      processes.exec(
        {
          program: { $case: "command", value: "true" },
          cwd: "",
          env: {},
          user: "",
          stdin: Buffer.alloc(0),
          timeout: undefined,
          maxOutputBytes: 0,
        },
        metadata(ORG_B_KEY),
        (e) => resolve(e as grpc.ServiceError),
      ),
    );
    expect(err.code).toBe(grpc.status.NOT_FOUND);
    const details = err.metadata.get("grpc-status-details-bin")[0] as Buffer;
    const status = Status.decode(details);
    expect(ErrorInfo.decode(status.details[0]?.value ?? Buffer.alloc(0)).reason).toBe(
      "SANDBOX_NOT_FOUND",
    );
  });
});

describe("routing rules", () => {
  test("only cove.toolbox.v1 procedures are forwarded", async () => {
    const before = env.edge.resolveCount(ALPHA);
    const err = await errorOf(
      client(SandboxService, "grpc", ALPHA).getSandbox({ sandboxId: ALPHA }),
    );
    expect(err.code).toBe(Code.Unimplemented);
    expect(env.edge.resolveCount(ALPHA)).toBe(before); // never authorized, never forwarded
  });

  test("a call without a sandbox id reaches the proxy's own health service", async () => {
    const res = await createClient(Health, createGrpcTransport({ baseUrl: env.proxy.url })).check(
      {},
    );
    expect(res.status).toBe(HealthCheckResponse_ServingStatus.SERVING);
  });

  test("a toolbox call without a sandbox id is INVALID_ARGUMENT", async () => {
    const c = createClient(
      ProcessService,
      transport("connect", { authorization: `Bearer ${ORG_A_KEY}` }),
    );
    const err = await errorOf(c.exec({ program: { case: "command", value: "true" } }));
    expect(err).toMatchObject({ code: Code.InvalidArgument, reason: "INVALID_FIELD" });
  });

  test("a preview token is PERMISSION_DENIED for toolbox calls", async () => {
    env.edge.credentials.set("cvp_toolbox_try", {
      id: "tok_p1",
      kind: "previewToken",
      organizationId: "org-a",
      sandboxId: ALPHA,
      port: 3000,
    });
    const err = await errorOf(
      client(ProcessService, "connect", ALPHA, "cvp_toolbox_try").exec({
        program: { case: "command", value: "true" },
      }),
    );
    expect(err).toMatchObject({ code: Code.PermissionDenied, reason: "PERMISSION_DENIED" });
    const grpcErr = await errorOf(
      client(ProcessService, "grpc", ALPHA, "cvp_toolbox_try").exec({
        program: { case: "command", value: "true" },
      }),
    );
    expect(grpcErr).toMatchObject({ code: Code.PermissionDenied, reason: "PERMISSION_DENIED" });
  });

  test("a stopped sandbox is FAILED_PRECONDITION with the server's reason", async () => {
    const row = env.edge.sandboxes.get(BRAVO);
    if (!row) throw new Error("no bravo");
    row.state = SandboxState.STOPPED;
    try {
      const err = await errorOf(
        client(ProcessService, "grpc", BRAVO, ORG_B_KEY).exec({
          program: { case: "command", value: "true" },
        }),
      );
      expect(err).toMatchObject({
        code: Code.FailedPrecondition,
        reason: "SANDBOX_STATE_CONFLICT",
      });
    } finally {
      row.state = SandboxState.STARTED;
      env.edge.invalidate({
        kind: RouteChangeKind.SANDBOX_STATE,
        sandboxId: BRAVO,
        state: SandboxState.STARTED,
      });
    }
  });
});

describe("cache, invalidation and activity", () => {
  const exec = () =>
    client(ProcessService, "grpc", BRAVO, ORG_B_KEY).exec({
      program: { case: "command", value: "true" },
    });

  test("answers are cached; an invalidation for the sandbox makes the next call resolve again", async () => {
    env.edge.invalidate({ kind: RouteChangeKind.SANDBOX_ACCESS, sandboxId: BRAVO });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const start = env.edge.resolveCount(BRAVO);
    await exec();
    await exec();
    await exec();
    expect(env.edge.resolveCount(BRAVO)).toBe(start + 1);
    env.edge.invalidate({
      kind: RouteChangeKind.SANDBOX_RUNNER,
      sandboxId: BRAVO,
      newRunnerId: "runner-1",
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await exec();
    expect(env.edge.resolveCount(BRAVO)).toBe(start + 2);
    // A reset drops everything.
    env.edge.reset();
    await new Promise((resolve) => setTimeout(resolve, 100));
    await exec();
    expect(env.edge.resolveCount(BRAVO)).toBe(start + 3);
    // A revoked credential drops answers obtained with it, by credential id.
    env.edge.invalidate({ kind: RouteChangeKind.CREDENTIAL_REVOKED, credentialId: "key_b" });
    await new Promise((resolve) => setTimeout(resolve, 100));
    await exec();
    expect(env.edge.resolveCount(BRAVO)).toBe(start + 4);
  });

  test("an invalidation cuts the sandbox's open streams", async () => {
    const stream = client(ProcessService, "grpc", BRAVO, ORG_B_KEY).start({
      program: { case: "command", value: "sleep 30" },
      killOnDisconnect: true,
    });
    const outcome = errorOf(
      (async () => {
        for await (const res of stream) {
          if (res.event?.event.case === "start") {
            env.edge.invalidate({
              kind: RouteChangeKind.SANDBOX_STATE,
              sandboxId: BRAVO,
              state: SandboxState.STOPPING,
            });
          }
        }
      })(),
    );
    const err = await outcome;
    expect([Code.Canceled, Code.Internal, Code.Unavailable]).toContain(err.code);
    await waitFor(() => env.gateway.activeCalls(BRAVO) === 0);
  });

  test("toolbox calls are reported to RecordActivity in batches", async () => {
    const before = env.edge.activity.filter((a) => a.sandboxId === BRAVO).length;
    await exec();
    await waitFor(
      () => env.edge.activity.filter((a) => a.sandboxId === BRAVO).length > before,
      3_000,
    );
    const latest = env.edge.activity.filter((a) => a.sandboxId === BRAVO).at(-1);
    expect(Math.abs((latest?.at ?? 0) - Date.now())).toBeLessThan(5_000);
  });
});
