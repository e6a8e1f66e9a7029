import * as crypto from "node:crypto";
import * as fs from "node:fs";
import * as http2 from "node:http2";
import * as net from "node:net";
import * as os from "node:os";
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
import { AsyncQueue, createLogger, type GrpcServer, startGrpcServer } from "@cove/common";
import {
  FilesystemService,
  type UploadFileRequestSchema,
} from "@cove/gen-ts/cove/toolbox/v1/filesystem_service_pb.js";
import {
  PortService,
  type TunnelEvent,
  type TunnelRequestSchema,
} from "@cove/gen-ts/cove/toolbox/v1/port_service_pb.js";
import {
  ProcessService,
  type StreamInputRequestSchema,
} from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import { ErrorInfoSchema } from "@cove/gen-ts/google/rpc/error_details_pb.js";
import {
  Health,
  HealthCheckResponse_ServingStatus,
} from "@cove/gen-ts/grpc/health/v1/health_pb.js";
import { startTestDaemon, type TestDaemon } from "../../daemon/test/harness.js";
import {
  type SandboxResolution,
  startToolboxGateway,
  type ToolboxGateway,
} from "../src/gateway/toolbox-gateway.js";

const TOKEN = "gateway-secret-for-tests";
const logger = createLogger({ level: "silent" });

let a: TestDaemon;
let b: TestDaemon;
let gateway: ToolboxGateway;
let scratch: string;
/** Sandbox id → what the gateway's resolve answers; tests add entries as they need. */
const routes = new Map<string, SandboxResolution>();

beforeAll(async () => {
  [a, b] = await Promise.all([startTestDaemon(), startTestDaemon()]);
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), "cove-gateway-test-"));
  routes.set("sbx-a", a.socketPath);
  routes.set("sbx-b", b.socketPath);
  routes.set("sbx-stopped", { notStarted: "STOPPED" });
  routes.set("sbx-nosocket", path.join(scratch, "missing.sock"));
  gateway = await startToolboxGateway({
    listen: { host: "127.0.0.1", port: 0 },
    token: TOKEN,
    resolve: (id) => routes.get(id),
    logger,
  });
});

afterAll(async () => {
  await gateway.close(200);
  await Promise.all([a.close(), b.close()]);
  fs.rmSync(scratch, { recursive: true, force: true });
});

type Kind = "grpc" | "connect" | "connect-h1" | "grpc-web-h1";

/** headers is an interceptor that sets the proxy's headers on every call. */
function headers(values: Record<string, string>): Interceptor {
  return (next) => (req) => {
    for (const [name, value] of Object.entries(values)) req.header.set(name, value);
    return next(req);
  };
}

/** transport makes a transport of one kind to the gateway, for one sandbox. */
function transport(
  kind: Kind,
  sandboxId: string | undefined,
  token: string | null = TOKEN,
  baseUrl = gateway.url,
): Transport {
  const values: Record<string, string> = {};
  if (sandboxId !== undefined) values["cove-sandbox-id"] = sandboxId;
  if (token !== null) values["cove-gateway-token"] = token;
  const options = { baseUrl, interceptors: [headers(values)], defaultTimeoutMs: 60_000 };
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

function client<S extends DescService>(
  service: S,
  kind: Kind,
  sandboxId: string | undefined,
  token: string | null = TOKEN,
): Client<S> {
  return createClient(service, transport(kind, sandboxId, token));
}

/** errorOf awaits a call that must fail and returns its code, message and ErrorInfo reason. */
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

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of stream) {
    // only the outcome matters
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(check: () => boolean, timeoutMs = 5_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const allKinds: Kind[] = ["grpc", "connect", "connect-h1", "grpc-web-h1"];
const text = (bytes: Uint8Array) => Buffer.from(bytes).toString("utf8");

describe.each(allKinds)("over %s", (kind) => {
  test("Exec (unary) reaches the sandbox the header names", async () => {
    const [resA, resB] = await Promise.all(
      ["sbx-a", "sbx-b"].map((id) =>
        client(ProcessService, kind, id).exec({
          program: { case: "command", value: 'printf "%s" "$PWD"' },
        }),
      ),
    );
    expect(text(resA?.stdout ?? new Uint8Array())).toBe(a.home);
    expect(text(resB?.stdout ?? new Uint8Array())).toBe(b.home);
  });

  test("Start (server stream) delivers output as it is written, not at the end", async () => {
    const begin = Date.now();
    const seen: { at: number; kind: string; data: string }[] = [];
    for await (const res of client(ProcessService, kind, "sbx-a").start({
      program: { case: "command", value: "echo first; sleep 1; echo second" },
    })) {
      const event = res.event?.event;
      if (event?.case === "data" && event.value.output.case === "stdout") {
        seen.push({ at: Date.now() - begin, kind: "stdout", data: text(event.value.output.value) });
      } else if (event?.case === "end") {
        seen.push({ at: Date.now() - begin, kind: "end", data: String(event.value.exitCode) });
      }
    }
    const first = seen.find((e) => e.data === "first\n");
    const end = seen.find((e) => e.kind === "end");
    expect(first).toBeDefined();
    expect(end?.data).toBe("0");
    // "first" was printed a whole second before the process ended; it must not wait for it.
    expect((end?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThan(700);
  });

  test("unknown sandbox is NOT_FOUND, a stopped one FAILED_PRECONDITION", async () => {
    const unknown = await errorOf(
      client(ProcessService, kind, "sbx-nope").exec({
        program: { case: "command", value: "true" },
      }),
    );
    expect(unknown).toMatchObject({ code: Code.NotFound, reason: "SANDBOX_NOT_FOUND" });
    expect(unknown.message).toContain("sbx-nope");
    const stopped = await errorOf(
      client(ProcessService, kind, "sbx-stopped").exec({
        program: { case: "command", value: "true" },
      }),
    );
    expect(stopped).toMatchObject({
      code: Code.FailedPrecondition,
      reason: "SANDBOX_STATE_CONFLICT",
    });
    expect(stopped.message).toContain("sbx-stopped");
  });

  test("a missing or wrong token is UNAUTHENTICATED, also on streams", async () => {
    const exec = { program: { case: "command" as const, value: "true" } };
    const missing = await errorOf(client(ProcessService, kind, "sbx-a", null).exec(exec));
    expect(missing.code).toBe(Code.Unauthenticated);
    const wrong = await errorOf(client(ProcessService, kind, "sbx-a", `${TOKEN}x`).exec(exec));
    expect(wrong).toMatchObject({ code: Code.Unauthenticated, reason: "PROXY_TOKEN_INVALID" });
    const stream = await errorOf(drain(client(ProcessService, kind, "sbx-a", "nope").start(exec)));
    expect(stream.code).toBe(Code.Unauthenticated);
  });
});

type StreamInputInit = MessageInitShape<typeof StreamInputRequestSchema>;
type TunnelRequestInit = MessageInitShape<typeof TunnelRequestSchema>;
type UploadInit = MessageInitShape<typeof UploadFileRequestSchema>;

describe.each(["grpc", "connect"] as const)("streaming both ways over %s", (kind) => {
  test("StreamInput (client stream) feeds a process's stdin", async () => {
    const processes = client(ProcessService, kind, "sbx-b");
    const tag = `cat-${kind}`;
    const output = (async () => {
      let stdout = "";
      for await (const res of processes.start({
        program: { case: "command", value: "cat" },
        tag,
        openStdin: true,
      })) {
        const event = res.event?.event;
        if (event?.case === "data" && event.value.output.case === "stdout") {
          stdout += text(event.value.output.value);
        }
        if (event?.case === "end") return { stdout, exitCode: event.value.exitCode };
      }
      throw new Error("Start ended without an end event");
    })();
    await waitForProcess(processes, tag);
    const input = new AsyncQueue<StreamInputInit>();
    input.push({
      message: {
        case: "start",
        value: { process: { selector: { case: "tag", value: tag } }, closeStdinOnEnd: true },
      },
    });
    for (const line of ["alpha\n", "beta\n", "gamma\n"]) {
      input.push({ message: { case: "data", value: Buffer.from(line) } });
    }
    input.close();
    const written = await processes.streamInput(input);
    expect(Number(written.writtenBytes)).toBe(17);
    expect(await output).toEqual({ stdout: "alpha\nbeta\ngamma\n", exitCode: 0 });
  });

  test("PortService.Tunnel (bidi) carries bytes both ways and half-closes", async () => {
    const echo = net.createServer({ allowHalfOpen: true }, (socket) => {
      socket.on("error", () => {});
      socket.pipe(socket);
    });
    await new Promise<void>((resolve) => echo.listen(0, "127.0.0.1", () => resolve()));
    try {
      const { port } = echo.address() as net.AddressInfo;
      const payload = crypto.randomBytes(3 * 1024 * 1024);
      const requests = new AsyncQueue<TunnelRequestInit>();
      requests.push({ message: { case: "open", value: { port } } });
      const events: TunnelEvent["event"]["case"][] = [];
      const received: Buffer[] = [];
      let sent = false;
      for await (const res of client(PortService, kind, "sbx-a").tunnel(requests)) {
        const event = res.event?.event;
        if (!event) continue;
        events.push(event.case);
        if (event.case === "opened" && !sent) {
          // Only now send: proves the first response arrived while the request stream is open.
          sent = true;
          for (let at = 0; at < payload.length; at += 32 * 1024) {
            requests.push({
              message: { case: "data", value: payload.subarray(at, at + 32 * 1024) },
            });
          }
          requests.close();
        }
        if (event.case === "data") received.push(Buffer.from(event.value));
      }
      expect(events[0]).toBe("opened");
      expect(events.at(-1)).toBe("eof");
      expect(Buffer.concat(received).equals(payload)).toBe(true);
    } finally {
      await new Promise((resolve) => echo.close(resolve));
    }
  });
});

/** waitForProcess waits until a process with the tag is listed as running. */
async function waitForProcess(processes: Client<typeof ProcessService>, tag: string) {
  const until = Date.now() + 5_000;
  for (;;) {
    const { processes: list } = await processes.listProcesses({});
    if (list.some((p) => p.tag === tag && p.endTime === undefined)) return;
    if (Date.now() > until) throw new Error(`process ${tag} did not start`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

test("UploadFile of 64 MiB (client stream) and ReadFile (server stream) are byte-exact", async () => {
  const files = client(FilesystemService, "grpc", "sbx-a");
  const content = crypto.randomBytes(64 * 1024 * 1024);
  async function* upload(): AsyncIterable<UploadInit> {
    yield {
      message: { case: "header", value: { path: "big.bin", sizeBytes: BigInt(content.length) } },
    };
    for (let at = 0; at < content.length; at += 1024 * 1024) {
      yield { message: { case: "data", value: content.subarray(at, at + 1024 * 1024) } };
    }
  }
  const uploaded = await files.uploadFile(upload());
  expect(Number(uploaded.writtenBytes)).toBe(content.length);
  expect(fs.statSync(path.join(a.home, "big.bin")).size).toBe(content.length);

  const hash = crypto.createHash("sha256");
  let size = 0;
  let next = 0;
  for await (const res of files.readFile({ path: "big.bin", chunkSizeBytes: 1024 * 1024 })) {
    if (res.data.length === 0) continue;
    expect(Number(res.offset)).toBe(next);
    next += res.data.length;
    size += res.data.length;
    hash.update(res.data);
  }
  expect(size).toBe(content.length);
  expect(hash.digest("hex")).toBe(crypto.createHash("sha256").update(content).digest("hex"));
  fs.rmSync(path.join(a.home, "big.bin"));
}, 60_000);

test("the same path in two sandboxes holds each sandbox's own content", async () => {
  await client(FilesystemService, "connect", "sbx-a").writeFile({
    path: "same.txt",
    data: Buffer.from("from a"),
  });
  await client(FilesystemService, "grpc", "sbx-b").writeFile({
    path: "same.txt",
    data: Buffer.from("from b"),
  });
  const read = async (id: string) => {
    const chunks: Uint8Array[] = [];
    for await (const res of client(FilesystemService, "grpc-web-h1", id).readFile({
      path: "same.txt",
    })) {
      chunks.push(res.data);
    }
    return Buffer.concat(chunks).toString();
  };
  expect(await read("sbx-a")).toBe("from a");
  expect(await read("sbx-b")).toBe("from b");
});

describe("cancellation", () => {
  test.each(["grpc", "connect", "grpc-web-h1"] as const)(
    "a client cancel over %s aborts the daemon-side Start (kill_on_disconnect kills it)",
    async (kind) => {
      const abort = new AbortController();
      let pid = 0;
      const outcome = await errorOf(
        (async () => {
          for await (const res of client(ProcessService, kind, "sbx-a").start(
            { program: { case: "command", value: "sleep 30" }, killOnDisconnect: true },
            { signal: abort.signal },
          )) {
            if (res.event?.event.case === "start") {
              pid = res.event.event.value.pid;
              expect(alive(pid)).toBe(true);
              abort.abort();
            }
          }
        })(),
      );
      expect(outcome.code).toBe(Code.Canceled);
      await waitFor(() => !alive(pid));
      await waitFor(() => gateway.activeCalls("sbx-a") === 0);
    },
  );

  test("a daemon that stops makes new calls UNAVAILABLE (DAEMON_UNAVAILABLE)", async () => {
    const c = await startTestDaemon();
    routes.set("sbx-c", c.socketPath);
    try {
      const processes = client(ProcessService, "grpc", "sbx-c");
      expect((await processes.exec({ program: { case: "command", value: "true" } })).exitCode).toBe(
        0,
      );
      await c.close(); // the daemon goes away and its socket file with it
      const after = await errorOf(processes.exec({ program: { case: "command", value: "true" } }));
      expect(after).toMatchObject({ code: Code.Unavailable, reason: "DAEMON_UNAVAILABLE" });
      expect(after.message).toContain("DAEMON_UNAVAILABLE");
      expect(after.message).not.toContain(c.socketPath);
    } finally {
      routes.delete("sbx-c");
    }
  });
});

describe("errors", () => {
  test.each(allKinds)("a socket that does not exist is UNAVAILABLE over %s", async (kind) => {
    const err = await errorOf(
      client(ProcessService, kind, "sbx-nosocket").exec({
        program: { case: "command", value: "true" },
      }),
    );
    expect(err).toMatchObject({ code: Code.Unavailable, reason: "DAEMON_UNAVAILABLE" });
    expect(err.message).toContain("sbx-nosocket");
  });

  test("Connect unary errors carry HTTP 404 / 412 / 401 and a JSON {code, message}", async () => {
    const call = (id: string, token = TOKEN) =>
      fetch(`${gateway.url}/cove.toolbox.v1.ProcessService/Exec`, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "cove-sandbox-id": id,
          "cove-gateway-token": token,
        },
        body: JSON.stringify({ command: "true" }),
      });
    const notFound = await call("sbx-nope");
    expect(notFound.status).toBe(404);
    expect(await notFound.json()).toMatchObject({ code: "not_found" });
    const stopped = await call("sbx-stopped");
    expect(stopped.status).toBe(412);
    expect(await stopped.json()).toMatchObject({ code: "failed_precondition" });
    const unauthenticated = await call("sbx-a", "wrong");
    expect(unauthenticated.status).toBe(401);
    expect(await unauthenticated.json()).toMatchObject({ code: "unauthenticated" });
    const ok = await call("sbx-a");
    expect(ok.status).toBe(200);
    expect(ok.headers.get("content-type")).toBe("application/json");
    expect(await ok.json()).not.toHaveProperty("code");
  });

  test("a call without a sandbox id is INVALID_ARGUMENT; a malformed id too", async () => {
    const none = await errorOf(
      client(ProcessService, "grpc", undefined).exec({
        program: { case: "command", value: "true" },
      }),
    );
    expect(none.code).toBe(Code.InvalidArgument);
    const bad = await errorOf(
      client(ProcessService, "grpc", "../etc").exec({
        program: { case: "command", value: "true" },
      }),
    );
    expect(bad.code).toBe(Code.InvalidArgument);
  });

  test("more than maxStreamsPerSandbox concurrent calls is RESOURCE_EXHAUSTED", async () => {
    const small = await startToolboxGateway({
      listen: { host: "127.0.0.1", port: 0 },
      token: TOKEN,
      resolve: (id) => routes.get(id),
      logger,
      maxStreamsPerSandbox: 2,
    });
    const abort = new AbortController();
    try {
      const processes = createClient(ProcessService, transport("grpc", "sbx-b", TOKEN, small.url));
      const open = [0, 1].map(() =>
        drain(
          processes.start(
            { program: { case: "command", value: "sleep 30" }, killOnDisconnect: true },
            { signal: abort.signal },
          ),
        ).catch(() => {}),
      );
      await waitFor(() => small.activeCalls("sbx-b") === 2);
      const third = await errorOf(processes.exec({ program: { case: "command", value: "true" } }));
      expect(third).toMatchObject({
        code: Code.ResourceExhausted,
        reason: "STREAM_LIMIT_EXCEEDED",
      });
      // Another sandbox has its own allowance.
      const other = createClient(ProcessService, transport("grpc", "sbx-a", TOKEN, small.url));
      expect((await other.exec({ program: { case: "command", value: "true" } })).exitCode).toBe(0);
      abort.abort();
      await Promise.all(open);
      await waitFor(() => small.activeCalls("sbx-b") === 0);
      expect((await processes.exec({ program: { case: "command", value: "true" } })).exitCode).toBe(
        0,
      );
    } finally {
      abort.abort();
      await small.close(200);
    }
  });
});

test("the path-prefix form /sandbox/<id>/<service>/<method> works without the id header", async () => {
  for (const kind of ["grpc", "connect-h1"] as const) {
    const prefixed = createClient(
      ProcessService,
      transport(kind, undefined, TOKEN, `${gateway.url}/sandbox/sbx-b`),
    );
    const res = await prefixed.exec({ program: { case: "command", value: 'printf "%s" "$PWD"' } });
    expect(text(res.stdout)).toBe(b.home);
  }
});

test("grpc.health.v1.Health/Check answers for the gateway itself, with no id or token", async () => {
  const health = createClient(Health, createGrpcTransport({ baseUrl: gateway.url }));
  expect((await health.check({})).status).toBe(HealthCheckResponse_ServingStatus.SERVING);
});

describe("what reaches the daemon", () => {
  /** A stand-in daemon on a unix socket that records each call's headers and connections. */
  let spy: http2.Http2Server;
  const seen: http2.IncomingHttpHeaders[] = [];
  const open = new Set<http2.ServerHttp2Session>();
  let sessions = 0;

  beforeAll(async () => {
    const socketPath = path.join(scratch, "spy.sock");
    spy = http2.createServer();
    spy.on("session", (session) => {
      sessions++;
      open.add(session);
      session.on("close", () => open.delete(session));
    });
    spy.on("stream", (stream, headers) => {
      seen.push(headers);
      stream.on("error", () => {});
      stream.resume();
      if (String(headers[":path"]).endsWith("/Start")) {
        // One message, then the "daemon" resets the stream as if it crashed mid-call.
        stream.respond({ ":status": 200, "content-type": "application/grpc" });
        stream.write(Buffer.from([0, 0, 0, 0, 0]));
        setTimeout(() => stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR), 50);
        return;
      }
      stream.on("end", () => {
        stream.respond(
          { ":status": 200, "content-type": "application/grpc" },
          {
            waitForTrailers: true,
          },
        );
        stream.on("wantTrailers", () =>
          stream.sendTrailers({ "grpc-status": "0", "x-spy-trailer": "kept" }),
        );
        // An empty ExecResponse: one uncompressed zero-length gRPC message.
        stream.end(Buffer.from([0, 0, 0, 0, 0]));
      });
    });
    await new Promise<void>((resolve) => spy.listen(socketPath, resolve));
    routes.set("sbx-spy", socketPath);
  });

  afterAll(async () => {
    routes.delete("sbx-spy");
    for (const session of open) session.destroy();
    await new Promise((resolve) => spy.close(resolve));
  });

  test("credentials and routing headers are stripped, others and the deadline pass", async () => {
    let trailer: Headers | undefined;
    const spyClient = createClient(ProcessService, transport("grpc", "sbx-spy", TOKEN));
    await spyClient.exec(
      { program: { case: "command", value: "true" } },
      {
        timeoutMs: 5_000,
        headers: { "x-request-id": "req-1", authorization: "Bearer user-key" },
        onTrailer: (t) => {
          trailer = t;
        },
      },
    );
    const headers = seen.at(-1) ?? {};
    expect(headers["x-request-id"]).toBe("req-1");
    expect(headers[":path"]).toBe("/cove.toolbox.v1.ProcessService/Exec");
    expect(headers["grpc-timeout"]).toMatch(/^\d+m$/);
    expect(headers["cove-gateway-token"]).toBeUndefined();
    expect(headers["cove-sandbox-id"]).toBeUndefined();
    expect(headers.authorization).toBeUndefined();
    expect(trailer?.get("x-spy-trailer")).toBe("kept");
  });

  test("calls to one sandbox share one HTTP/2 session to its daemon", async () => {
    const before = sessions;
    const spyClient = createClient(ProcessService, transport("grpc", "sbx-spy"));
    await Promise.all(
      Array.from({ length: 20 }, () =>
        spyClient.exec({ program: { case: "command", value: "true" } }),
      ),
    );
    expect(sessions - before).toBeLessThanOrEqual(1);
  });

  test("a daemon-side reset mid-stream reaches the caller as an error", async () => {
    const messages: unknown[] = [];
    const err = await errorOf(
      (async () => {
        for await (const res of client(ProcessService, "grpc", "sbx-spy").start({
          program: { case: "command", value: "true" },
        })) {
          messages.push(res);
        }
      })(),
    );
    expect(messages).toHaveLength(1);
    expect(err.code).toBe(Code.Internal);
    await waitFor(() => gateway.activeCalls("sbx-spy") === 0);
  });
});

describe("filesystem calls and the filesystem helper's socket", () => {
  // Fake daemon and helper sockets in one sandbox folder, each naming itself in Stat.
  const servers: GrpcServer[] = [];
  let dir: string;
  const serve = async (socketPath: string, name: string) => {
    const server = await startGrpcServer(
      {
        services: [FilesystemService, ProcessService],
        routes: (router) => {
          router.service(FilesystemService, { stat: async () => ({ info: { name } }) });
          router.service(ProcessService, { listProcesses: async () => ({ processes: [] }) });
        },
      },
      { path: socketPath },
      { protocols: "h2c" },
    );
    servers.push(server);
    return server;
  };
  const statName = async () =>
    (await client(FilesystemService, "grpc", "sbx-fs").stat({ path: "." })).info?.name;

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), "cove-gateway-fs-"));
    await serve(path.join(dir, "daemon.sock"), "daemon");
    routes.set("sbx-fs", path.join(dir, "daemon.sock"));
  });
  afterAll(async () => {
    await Promise.all(servers.map((s) => s.close(100)));
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test("go to filesystem.sock when it answers, to the daemon when it is absent or gone", async () => {
    expect(await statName()).toBe("daemon");
    const helper = await serve(path.join(dir, "filesystem.sock"), "helper");
    expect(await statName()).toBe("helper");
    // Other services never go there.
    await client(ProcessService, "grpc", "sbx-fs").listProcesses({});
    await helper.close(100); // closing a unix socket server removes its file: absent
    expect(await statName()).toBe("daemon");
    // A socket file nobody serves any more (its helper stopped): bound, renamed, closed.
    const ghost = net.createServer();
    await new Promise<void>((resolve) => ghost.listen(path.join(dir, "ghost.sock"), resolve));
    fs.renameSync(path.join(dir, "ghost.sock"), path.join(dir, "filesystem.sock"));
    await new Promise<void>((resolve) => ghost.close(() => resolve()));
    expect(fs.lstatSync(path.join(dir, "filesystem.sock")).isSocket()).toBe(true);
    expect(await statName()).toBe("daemon");
  });

  test("a filesystem.sock that is a symlink is never dialled", async () => {
    const elsewhere = fs.mkdtempSync(path.join(os.tmpdir(), "cove-gateway-elsewhere-"));
    try {
      await serve(path.join(elsewhere, "host.sock"), "a host socket");
      fs.rmSync(path.join(dir, "filesystem.sock"), { force: true });
      fs.symlinkSync(path.join(elsewhere, "host.sock"), path.join(dir, "filesystem.sock"));
      expect(await statName()).toBe("daemon");
    } finally {
      fs.rmSync(path.join(dir, "filesystem.sock"), { force: true });
      fs.rmSync(elsewhere, { recursive: true, force: true });
    }
  });
});
