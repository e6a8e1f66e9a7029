// Slowloris and idle sockets against listenDualProtocol, which serves every Cove listener (API
// server, proxy, runner gateway, daemon): a connection that sends part of a request and then
// nothing is closed once the headers timeout passes, and idle connections once the idle
// timeout passes, on HTTP/1.1 and h2c alike; a request in progress is never cut for being slow.
import * as http2 from "node:http2";
import * as net from "node:net";
import {
  type DualProtocolServer,
  listenDualProtocol,
  listenTimeoutsFromEnv,
} from "../src/listen.js";

const HEADERS_MS = 1_000;
const IDLE_MS = 2_000;
// One server whose idle timeout is far off (so only the headers timeout can close a socket
// within a test), one whose idle timeout is short.
let strict: DualProtocolServer;
let idle: DualProtocolServer;

const handler = (req: { url?: string }, res: { end(body: string): void }) => {
  const delay = Number(new URL(req.url ?? "/", "http://x").searchParams.get("delay") ?? 0);
  setTimeout(() => res.end("ok"), delay);
};

beforeAll(async () => {
  strict = await listenDualProtocol(
    handler,
    { port: 0 },
    {
      headersTimeoutMs: HEADERS_MS,
      idleTimeoutMs: 60_000,
    },
  );
  idle = await listenDualProtocol(
    handler,
    { port: 0 },
    {
      headersTimeoutMs: HEADERS_MS,
      idleTimeoutMs: IDLE_MS,
    },
  );
});
afterAll(async () => {
  await strict?.close(100);
  await idle?.close(100);
});

const portOf = (server: DualProtocolServer) => (server.address as { port: number }).port;

/** open connects and sends `bytes` (maybe none); resolves once connected. */
async function open(bytes: string | Buffer, server = strict): Promise<net.Socket> {
  const socket = net.connect(portOf(server), "127.0.0.1");
  socket.on("error", () => {});
  await new Promise((resolve) => socket.once("connect", resolve));
  if (bytes.length > 0) socket.write(bytes);
  return socket;
}

/** closedWithin resolves to the ms until the server closed the socket, or Infinity past `ms`. */
function closedWithin(socket: net.Socket, ms: number): Promise<number> {
  const started = Date.now();
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      socket.destroy();
      resolve(Number.POSITIVE_INFINITY);
    }, ms);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(Date.now() - started);
    });
    socket.resume();
  });
}

test("HTTP/1.1: a partial request line and headers, then nothing, is cut at the headers timeout", async () => {
  const socket = await open("GET /slow HTTP/1.1\r\nHost: x\r\nX-Slow: a");
  const took = await closedWithin(socket, HEADERS_MS + 5_000);
  expect(took).toBeGreaterThanOrEqual(HEADERS_MS - 100);
  expect(took).toBeLessThan(HEADERS_MS + 4_000);
});

test("HTTP/1.1: headers dribbled a byte at a time do not keep the socket open", async () => {
  const socket = await open("GET / HTTP/1.1\r\n");
  const dribble = setInterval(() => socket.write("X"), 100);
  try {
    const took = await closedWithin(socket, HEADERS_MS + 5_000);
    expect(took).toBeLessThan(HEADERS_MS + 4_000);
  } finally {
    clearInterval(dribble);
  }
});

test("100 connections that send nothing at all are all cut at the headers timeout", async () => {
  const sockets = await Promise.all(Array.from({ length: 100 }, () => open("")));
  const took = await Promise.all(sockets.map((s) => closedWithin(s, HEADERS_MS + 5_000)));
  expect(took.filter((ms) => ms === Number.POSITIVE_INFINITY)).toEqual([]);
});

test("h2c: a partial connection preface is cut at the headers timeout", async () => {
  const socket = await open("PRI * HTTP/2.0\r\n");
  const took = await closedWithin(socket, HEADERS_MS + 5_000);
  expect(took).toBeLessThan(HEADERS_MS + 4_000);
});

test("100 idle connections after a request are all closed by the idle timeout", async () => {
  const sockets = await Promise.all(
    Array.from({ length: 100 }, async () => {
      const socket = await open(
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n",
        idle,
      );
      await new Promise((resolve) => socket.once("data", resolve));
      return socket;
    }),
  );
  const took = await Promise.all(sockets.map((s) => closedWithin(s, IDLE_MS + 5_000)));
  expect(took.filter((ms) => ms === Number.POSITIVE_INFINITY)).toEqual([]);
});

test("h2c: a session with no open stream is closed by the idle timeout, pings or not", async () => {
  const session = http2.connect(`http://127.0.0.1:${portOf(idle)}`);
  session.on("error", () => {});
  await new Promise<void>((resolve, reject) => {
    const req = session.request({ ":path": "/" });
    req.on("error", reject);
    req.resume();
    req.on("end", () => resolve());
  });
  // Pings keep the socket busy but are not use: only streams are.
  // (The interval may fire after the server closed the session and before "close" arrives.)
  const pings = setInterval(() => {
    if (session.destroyed || session.closed) return;
    try {
      session.ping(() => {});
    } catch {
      // the session is closing: what this test waits for
    }
  }, 200);
  const started = Date.now();
  try {
    const closed = await Promise.race([
      new Promise((resolve) => session.once("close", () => resolve(true))),
      new Promise((resolve) => setTimeout(() => resolve(false), IDLE_MS + 5_000)),
    ]);
    expect(closed).toBe(true);
  } finally {
    clearInterval(pings);
    session.destroy();
  }
  expect(Date.now() - started).toBeGreaterThanOrEqual(IDLE_MS - 200);
});

test("a request slower than the headers timeout completes, on HTTP/1.1 and h2c", async () => {
  const delay = HEADERS_MS + 500;
  const h1 = await fetch(`http://127.0.0.1:${portOf(idle)}/?delay=${delay}`);
  expect(await h1.text()).toBe("ok");
  const session = http2.connect(`http://127.0.0.1:${portOf(idle)}`);
  try {
    const body = await new Promise<string>((resolve, reject) => {
      const req = session.request({ ":path": `/?delay=${delay}` });
      let text = "";
      req.setEncoding("utf8");
      req.on("data", (chunk: string) => {
        text += chunk;
      });
      req.on("end", () => resolve(text));
      req.on("error", reject);
    });
    expect(body).toBe("ok");
  } finally {
    session.close();
  }
});

test("the timeouts are read from COVE_HEADERS_TIMEOUT_MS and COVE_IDLE_TIMEOUT_MS", () => {
  expect(listenTimeoutsFromEnv({})).toEqual({});
  expect(
    listenTimeoutsFromEnv({ COVE_HEADERS_TIMEOUT_MS: "1500", COVE_IDLE_TIMEOUT_MS: "60000" }),
  ).toEqual({ headersTimeoutMs: 1500, idleTimeoutMs: 60_000 });
  expect(() => listenTimeoutsFromEnv({ COVE_IDLE_TIMEOUT_MS: "soon" })).toThrow(
    /COVE_IDLE_TIMEOUT_MS/,
  );
});
