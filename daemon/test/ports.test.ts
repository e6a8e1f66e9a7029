import * as crypto from "node:crypto";
import * as net from "node:net";
import type { MessageInitShape } from "@bufbuild/protobuf";
import { durationFromMs } from "@bufbuild/protobuf/wkt";
import { type Client, Code, ConnectError, createClient } from "@connectrpc/connect";
import { AsyncQueue } from "@cove/common";
import {
  PortService,
  type TunnelEvent,
  type TunnelRequestSchema,
} from "@cove/gen-ts/cove/toolbox/v1/port_service_pb.js";
import { ErrorInfoSchema } from "@cove/gen-ts/google/rpc/error_details_pb.js";
import { defaultLimits } from "../src/config.js";
import { createUnixTransport, startTestDaemon, type TestDaemon } from "./harness.js";

let daemon: TestDaemon;
let client: Client<typeof PortService>;
const servers: net.Server[] = [];

beforeAll(async () => {
  daemon = await startTestDaemon({ limits: { ...defaultLimits, keepaliveMs: 200 } });
  client = daemon.client(PortService);
});

afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => close(s)));
});

afterAll(async () => {
  await daemon.close();
});

type TunnelRequestInit = MessageInitShape<typeof TunnelRequestSchema>;

const connections = new WeakMap<net.Server, Set<net.Socket>>();

/** serve starts a TCP server on loopback (port 0 unless given) and returns its port. */
async function serve(onConnection: (socket: net.Socket) => void, port = 0, host = "127.0.0.1") {
  const open = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    open.add(socket);
    socket.on("close", () => open.delete(socket));
    onConnection(socket);
  });
  connections.set(server, open);
  servers.push(server);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  return { server, port: (server.address() as net.AddressInfo).port };
}

/** close stops a server and drops its connections. */
function close(server: net.Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    for (const socket of connections.get(server) ?? []) socket.destroy();
  });
}

/** closedPort returns a loopback port nothing listens on (one that just stopped listening). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", () => resolve()));
  const { port } = server.address() as net.AddressInfo;
  await close(server);
  return port;
}

/** echo sends every byte back and ends its side when the client ends. */
const echo = (socket: net.Socket) => {
  socket.on("error", () => {});
  socket.pipe(socket);
};

/** Collects the events of one tunnel stream. */
async function collect(
  stream: AsyncIterable<{ event?: TunnelEvent }>,
  onEvent?: (e: TunnelEvent) => void,
) {
  const events: TunnelEvent[] = [];
  const chunks: Uint8Array[] = [];
  for await (const res of stream) {
    if (res.event === undefined) continue;
    events.push(res.event);
    if (res.event.event.case === "data") chunks.push(res.event.event.value);
    onEvent?.(res.event);
  }
  return { events, data: Buffer.concat(chunks), kinds: events.map((e) => e.event.case) };
}

async function errorOf(
  promise: Promise<unknown>,
): Promise<{ code: Code; reason: string | undefined }> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!(err instanceof ConnectError))
    throw new Error(`expected a ConnectError, got ${String(err)}`);
  return { code: err.code, reason: err.findDetails(ErrorInfoSchema)[0]?.reason };
}

async function drain(stream: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of stream) {
    // only the outcome matters
  }
}

test("ListPorts shows a listening server with its process, sorted by port then address", async () => {
  const { port } = await serve(echo);
  const { ports } = await client.listPorts({});
  const mine = ports.find((p) => p.port === port && p.address === "127.0.0.1");
  expect(mine).toMatchObject({ pid: process.pid });
  expect(mine?.processName).not.toBe("");
  const keys = ports.map((p) => [p.port, p.address] as const);
  const sorted = [...keys].sort((a, b) => a[0] - b[0] || (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  expect(keys).toEqual(sorted);

  await close(servers.pop() as net.Server);
  expect((await client.listPorts({})).ports.some((p) => p.port === port)).toBe(false);
});

test("ListPorts shows IPv6 listeners with their address", async () => {
  const { port } = await serve(echo, 0, "::1");
  const { ports } = await client.listPorts({});
  expect(ports.find((p) => p.port === port)).toMatchObject({ address: "::1", pid: process.pid });
});

test("Tunnel carries 5 MiB both ways byte-exact and half-closes cleanly", async () => {
  const { port } = await serve(echo);
  const payload = crypto.randomBytes(5 * 1024 * 1024);
  const requests = new AsyncQueue<TunnelRequestInit>();
  requests.push({ message: { case: "open", value: { port } } });
  for (let at = 0; at < payload.length; at += 32 * 1024) {
    requests.push({ message: { case: "data", value: payload.subarray(at, at + 32 * 1024) } });
  }
  requests.close(); // half-close: the echo server sees EOF after the last byte
  const result = await collect(client.tunnel(requests));
  expect(result.kinds[0]).toBe("opened");
  const opened = result.events[0]?.event;
  expect(opened?.case === "opened" && opened.value.tunnelId).toMatch(/^tun_[0-9A-Za-z]{22}$/);
  expect(opened?.case === "opened" && opened.value.remoteAddress).toBe(`127.0.0.1:${port}`);
  expect(result.data.length).toBe(payload.length);
  expect(result.data.equals(payload)).toBe(true);
  expect(result.kinds.at(-1)).toBe("eof");
});

test("Tunnel reaches a server listening only on ::1", async () => {
  const { port } = await serve(echo, 0, "::1");
  const requests = new AsyncQueue<TunnelRequestInit>();
  requests.push({ message: { case: "open", value: { port } } });
  requests.push({ message: { case: "data", value: Buffer.from("ping over v6") } });
  requests.close();
  const result = await collect(client.tunnel(requests));
  expect(result.data.toString()).toBe("ping over v6");
  const opened = result.events[0]?.event;
  expect(opened?.case === "opened" && opened.value.remoteAddress).toBe(`[::1]:${port}`);
});

test("Tunnel keeps relaying the app's reply after the client half-closes", async () => {
  // The app answers only once it has read everything (like an HTTP/1.0 server).
  const { port } = await serve((socket) => {
    const chunks: Buffer[] = [];
    socket.on("data", (c) => chunks.push(c));
    socket.on("end", () => socket.end(`got:${Buffer.concat(chunks).toString().toUpperCase()}`));
  });
  const requests = new AsyncQueue<TunnelRequestInit>();
  requests.push({ message: { case: "open", value: { port } } });
  requests.push({ message: { case: "data", value: Buffer.from("hello ") } });
  requests.push({ message: { case: "keepalive", value: {} } });
  requests.push({ message: { case: "data", value: Buffer.from("world") } });
  requests.close();
  const result = await collect(client.tunnel(requests));
  expect(result.data.toString()).toBe("got:HELLO WORLD");
  expect(result.kinds).toEqual(["opened", "data", "eof"]);
});

test("OpenTunnel + SendTunnelData + CloseTunnel work like the bidi form", async () => {
  let appSawEnd = false;
  const { port } = await serve((socket) => {
    socket.write("hi from app\n");
    const chunks: Buffer[] = [];
    socket.on("data", (c) => chunks.push(c));
    socket.on("end", () => {
      appSawEnd = true;
      socket.end(`echo:${Buffer.concat(chunks).toString()}`);
    });
  });
  let tunnelId = "";
  let greeted: () => void = () => {};
  const greeting = new Promise<void>((resolve) => {
    greeted = resolve;
  });
  const stream = collect(client.openTunnel({ port }), (e) => {
    if (e.event.case === "opened") tunnelId = e.event.value.tunnelId;
    if (e.event.case === "data") greeted();
  });
  await greeting;
  await client.sendTunnelData({ tunnelId, data: Buffer.from("abc") });
  await client.sendTunnelData({ tunnelId, data: Buffer.from("def") });
  await client.closeTunnel({ tunnelId });
  const result = await stream;
  expect(appSawEnd).toBe(true);
  expect(result.data.toString()).toBe("hi from app\necho:abcdef");
  expect(result.kinds.at(-1)).toBe("eof");

  // The stream has ended: the tunnel is gone, but closing it again is still success.
  expect(await errorOf(client.sendTunnelData({ tunnelId, data: Buffer.from("x") }))).toEqual({
    code: Code.NotFound,
    reason: "TUNNEL_NOT_FOUND",
  });
  await client.closeTunnel({ tunnelId });
});

test("SendTunnelData after CloseTunnel is FAILED_PRECONDITION while the app still talks", async () => {
  let app: net.Socket | undefined;
  const { port } = await serve((socket) => {
    app = socket;
  });
  let tunnelId = "";
  let opened: () => void = () => {};
  const isOpen = new Promise<void>((resolve) => {
    opened = resolve;
  });
  const stream = collect(client.openTunnel({ port }), (e) => {
    if (e.event.case === "opened") {
      tunnelId = e.event.value.tunnelId;
      opened();
    }
  });
  await isOpen;
  await client.closeTunnel({ tunnelId });
  await client.closeTunnel({ tunnelId }); // closing twice is success
  expect(await errorOf(client.sendTunnelData({ tunnelId, data: Buffer.from("late") }))).toEqual({
    code: Code.FailedPrecondition,
    reason: "PORT_CLOSED",
  });
  await waitUntil(() => app !== undefined);
  app?.end("bye");
  const result = await stream;
  expect(result.data.toString()).toBe("bye");
  expect(result.kinds.at(-1)).toBe("eof");
});

test("CloseTunnel with abort drops the connection and ends the stream with OK", async () => {
  let appClosed = false;
  const { port } = await serve((socket) => {
    socket.on("error", () => {});
    socket.on("end", () => {
      appClosed = true;
    });
    socket.resume();
  });
  let tunnelId = "";
  const stream = collect(client.openTunnel({ port }), (e) => {
    if (e.event.case === "opened") {
      tunnelId = e.event.value.tunnelId;
      void client.closeTunnel({ tunnelId, abort: true });
    }
  });
  const result = await stream;
  expect(result.kinds).not.toContain("eof");
  await waitUntil(() => appClosed);
});

test("cancelling OpenTunnel closes the connection to the app", async () => {
  let appClosed = false;
  const { port } = await serve((socket) => {
    socket.on("error", () => {});
    socket.on("end", () => {
      appClosed = true;
    });
    socket.resume();
  });
  const controller = new AbortController();
  const stream = collect(client.openTunnel({ port }, { signal: controller.signal }), (e) => {
    if (e.event.case === "opened") controller.abort();
  });
  expect((await errorOf(stream)).code).toBe(Code.Canceled);
  await waitUntil(() => appClosed);
});

test("an idle tunnel gets keepalives", async () => {
  const { port } = await serve(() => {});
  const controller = new AbortController();
  let keepalives = 0;
  const stream = collect(client.openTunnel({ port }, { signal: controller.signal }), (e) => {
    if (e.event.case === "keepalive" && ++keepalives === 2) controller.abort();
  });
  await errorOf(stream);
  expect(keepalives).toBe(2);
});

test("at most 256 tunnels are open at once", async () => {
  const { port } = await serve(() => {});
  // HTTP/2 allows 256 streams per connection, so spread the tunnels over two connections.
  const clients = [client, createClient(PortService, createUnixTransport(daemon.socketPath))];
  const controller = new AbortController();
  const opened: Array<Promise<void>> = [];
  const streams: Array<Promise<unknown>> = [];
  for (let i = 0; i < 256; i++) {
    let resolveOpened: () => void = () => {};
    opened.push(new Promise<void>((resolve) => (resolveOpened = resolve)));
    const c = clients[i % 2] as Client<typeof PortService>;
    const stream = collect(c.openTunnel({ port }, { signal: controller.signal }), (e) => {
      if (e.event.case === "opened") resolveOpened();
    });
    streams.push(stream.catch(() => {}));
  }
  await Promise.all(opened);
  expect(await errorOf(drain(client.openTunnel({ port })))).toEqual({
    code: Code.ResourceExhausted,
    reason: "STREAM_LIMIT_EXCEEDED",
  });
  controller.abort();
  await Promise.all(streams);
  // Closed tunnels free their slots.
  let tunnelId = "";
  await collect(client.openTunnel({ port }), (e) => {
    if (e.event.case === "opened") {
      tunnelId = e.event.value.tunnelId;
      void client.closeTunnel({ tunnelId, abort: true });
    }
  });
  expect(tunnelId).toMatch(/^tun_/);
});

test("a closed port is FAILED_PRECONDITION with reason PORT_CLOSED", async () => {
  const port = await closedPort();
  const portClosed = { code: Code.FailedPrecondition, reason: "PORT_CLOSED" };
  expect(await errorOf(drain(client.openTunnel({ port })))).toEqual(portClosed);
  const requests = new AsyncQueue<TunnelRequestInit>();
  requests.push({
    message: { case: "open", value: { port, connectTimeout: durationFromMs(1000) } },
  });
  expect(await errorOf(drain(client.tunnel(requests)))).toEqual(portClosed);
  requests.close();
});

test("an app resetting the connection mid-stream is UNAVAILABLE with reason PORT_CLOSED", async () => {
  const { port } = await serve((socket) => {
    socket.once("data", () => socket.resetAndDestroy());
  });
  const requests = new AsyncQueue<TunnelRequestInit>();
  requests.push({ message: { case: "open", value: { port } } });
  requests.push({ message: { case: "data", value: Buffer.from("trigger") } });
  expect(await errorOf(drain(client.tunnel(requests)))).toEqual({
    code: Code.Unavailable,
    reason: "PORT_CLOSED",
  });
  requests.close();
});

test("WaitForPort returns once a server starts listening", async () => {
  const port = await closedPort();
  const started = Date.now();
  const waiting = client.waitForPort({ port, timeout: durationFromMs(10_000) });
  await new Promise((resolve) => setTimeout(resolve, 400));
  await serve(echo, port);
  const res = await waiting;
  expect(Date.now() - started).toBeGreaterThanOrEqual(400);
  expect(res.port).toMatchObject({ port, address: "127.0.0.1", pid: process.pid });
});

test("WaitForPort times out with DEADLINE_EXCEEDED and reason PORT_CLOSED", async () => {
  const port = await closedPort();
  const started = Date.now();
  expect(await errorOf(client.waitForPort({ port, timeout: durationFromMs(500) }))).toEqual({
    code: Code.DeadlineExceeded,
    reason: "PORT_CLOSED",
  });
  const elapsed = Date.now() - started;
  expect(elapsed).toBeGreaterThanOrEqual(450);
  expect(elapsed).toBeLessThan(3_000);
});

test("bad requests are rejected with the documented codes", async () => {
  const invalid = { code: Code.InvalidArgument, reason: "INVALID_FIELD" };
  expect(await errorOf(client.waitForPort({ port: 0 }))).toEqual(invalid);
  expect(
    await errorOf(client.waitForPort({ port: 1, timeout: durationFromMs(11 * 60_000) })),
  ).toEqual(invalid);
  expect(await errorOf(drain(client.openTunnel({ port: 70_000 })))).toEqual(invalid);
  expect(
    await errorOf(drain(client.openTunnel({ port: 1, connectTimeout: durationFromMs(61_000) }))),
  ).toEqual(invalid);

  const requests = new AsyncQueue<TunnelRequestInit>();
  requests.push({ message: { case: "data", value: Buffer.from("no open first") } });
  requests.close();
  expect(await errorOf(drain(client.tunnel(requests)))).toEqual(invalid);

  const unknown = "tun_0000000000000000000000";
  const notFound = { code: Code.NotFound, reason: "TUNNEL_NOT_FOUND" };
  expect(
    await errorOf(client.sendTunnelData({ tunnelId: unknown, data: Buffer.from("x") })),
  ).toEqual(notFound);
  expect(await errorOf(client.closeTunnel({ tunnelId: unknown }))).toEqual(notFound);
});

async function waitUntil(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error("condition not met in time");
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
