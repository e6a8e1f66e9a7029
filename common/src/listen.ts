import * as fs from "node:fs";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { Duplex } from "node:stream";

/** The bytes every HTTP/2 prior-knowledge connection starts with ("PRI * HTTP/2.0…"). */
const H2_PREFACE_START = Buffer.from("PRI ");

/** Where a server listens: a TCP host and port (0 picks a free one) or a unix socket path. */
export type ListenAddress = { host?: string; port: number } | { path: string };

/** A listening server that speaks HTTP/2 (h2c) and HTTP/1.1 on one socket. */
export interface DualProtocolServer {
  /** The bound address: host and port for TCP, the socket path for unix sockets. */
  readonly address: { host: string; port: number } | { path: string };
  /** A base URL for clients, e.g. http://127.0.0.1:40123 (unix sockets: "unix:<path>"). */
  readonly url: string;
  /** close stops accepting, waits up to graceMs for open calls, then cuts what is left. */
  close(graceMs?: number): Promise<void>;
}

/** Options for listenDualProtocol. */
export interface ListenOptions {
  /**
   * Which protocols to accept. "dual" (default) sniffs each connection and serves HTTP/2
   * prior-knowledge and HTTP/1.1 on one socket; "h2c" serves HTTP/2 only and skips the
   * sniffing, for internal hops (runner to daemon) where every byte of throughput counts.
   */
  protocols?: "dual" | "h2c";
  /** HTTP/2 settings sent to every client (e.g. maxConcurrentStreams). */
  http2Settings?: http2.Settings;
  /** Idle socket timeout in ms before an unused connection is closed. Default 5 minutes. */
  idleTimeoutMs?: number;
  /**
   * HTTP/2 connection-level receive window, bytes. Node starts every session at 64 KiB
   * whatever the stream settings say; uploads want it as wide as the streams'.
   */
  connectionWindowBytes?: number;
  /** Handles HTTP/1.1 Upgrade requests (WebSockets); without it they are refused. */
  onUpgrade?: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;
  /** Handles HTTP/1.1 CONNECT requests; without it they are refused. */
  onConnect?: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void;
}

type Handler = (
  req: http.IncomingMessage | http2.Http2ServerRequest,
  res: http.ServerResponse | http2.Http2ServerResponse,
) => void;

/**
 * listenDualProtocol serves one request handler over plain-text HTTP/2 (for gRPC and Connect
 * clients with prior knowledge) and HTTP/1.1 (Connect and gRPC-Web from browsers and curl) on
 * the same TCP port or unix socket, by peeking at the first bytes of each connection.
 */
export async function listenDualProtocol(
  handler: Handler,
  where: ListenAddress,
  options: ListenOptions = {},
): Promise<DualProtocolServer> {
  const idleTimeoutMs = options.idleTimeoutMs ?? 5 * 60_000;
  const guarded = guardHandler(handler);
  const h2 = http2.createServer(
    {
      settings: { maxConcurrentStreams: 256, ...options.http2Settings },
      // A stream flood or rapid reset costs the attacker its session, not us our memory.
      maxSessionMemory: 64,
    },
    guarded as (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void,
  );
  const h1 = http.createServer(
    guarded as (req: http.IncomingMessage, res: http.ServerResponse) => void,
  );
  h1.headersTimeout = 30_000;
  const guardRaw = (
    listener: (req: http.IncomingMessage, socket: Duplex, head: Buffer) => void,
  ) => {
    return (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      try {
        listener(req, socket, head);
      } catch {
        socket.destroy();
      }
    };
  };
  if (options.onUpgrade) h1.on("upgrade", guardRaw(options.onUpgrade));
  if (options.onConnect) h1.on("connect", guardRaw(options.onConnect));
  h1.requestTimeout = 0; // streams may be long; idle sockets are handled below.
  const sessions = new Set<http2.Http2Session>();
  h2.on("session", (session) => {
    sessions.add(session);
    const window = options.connectionWindowBytes;
    if (window !== undefined) {
      session.once("localSettings", () => {
        if (!session.destroyed) session.setLocalWindowSize(window);
      });
    }
    session.on("close", () => sessions.delete(session));
  });
  const sockets = new Set<net.Socket>();
  const tcp = net.createServer((socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    // Until a protocol server owns the socket nobody else listens for its errors: a client
    // that resets the connection mid-preface must cost its own socket, not the process.
    socket.on("error", () => socket.destroy());
    // Small gRPC frames must not wait for Nagle's algorithm (a 40 ms stall per call).
    if (!("path" in where)) socket.setNoDelay(true);
    socket.setTimeout(idleTimeoutMs, () => socket.destroy());
    if (options.protocols === "h2c") {
      h2.emit("connection", socket);
      return;
    }
    let head = Buffer.alloc(0);
    const onData = (chunk: Buffer) => {
      head = Buffer.concat([head, chunk]);
      if (
        head.length < H2_PREFACE_START.length &&
        H2_PREFACE_START.subarray(0, head.length).equals(head)
      ) {
        return; // not enough bytes yet to tell "PRI " from "PUT " or "POST".
      }
      socket.removeListener("data", onData);
      socket.pause();
      if (head.subarray(0, H2_PREFACE_START.length).equals(H2_PREFACE_START)) {
        // nghttp2 reads straight from the socket's handle and would never see bytes handed
        // back with unshift(), so the HTTP/2 session gets a stream that replays them first.
        h2.emit("connection", new ReplayingSocket(socket, head));
      } else {
        socket.unshift(head);
        h1.emit("connection", socket);
      }
      socket.resume();
    };
    socket.on("data", onData);
  });
  if ("path" in where) {
    fs.rmSync(where.path, { force: true });
  }
  await new Promise<void>((resolve, reject) => {
    tcp.once("error", reject);
    if ("path" in where) tcp.listen(where.path, resolve);
    else tcp.listen(where.port, where.host ?? "127.0.0.1", resolve);
  });
  // Accept errors (EMFILE, ECONNABORTED) are transient; the listener keeps serving.
  tcp.on("error", () => {});
  const bound = tcp.address();
  const address =
    typeof bound === "string" || bound === null
      ? { path: "path" in where ? where.path : String(bound) }
      : { host: bound.address, port: bound.port };
  const url =
    "path" in address
      ? `unix:${address.path}`
      : `http://${address.host.includes(":") ? `[${address.host}]` : address.host}:${address.port}`;
  return {
    address,
    url,
    async close(graceMs = 2_000) {
      const closed = new Promise<void>((resolve) => tcp.close(() => resolve()));
      for (const session of sessions) session.close();
      h1.closeIdleConnections();
      const timer = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, graceMs);
      await closed;
      clearTimeout(timer);
    },
  };
}

/**
 * guardHandler runs a request handler so that a synchronous throw (a malformed Host or
 * :authority makes `new URL()` throw before any RPC code runs) fails that one request with 400
 * instead of escaping the server's "request" event and ending the process.
 */
export function guardHandler(handler: Handler): Handler {
  return (req, res) => {
    try {
      handler(req, res);
    } catch (err) {
      try {
        if (!res.headersSent) {
          const body = JSON.stringify({
            code: "invalid_argument",
            message: `malformed request: ${err instanceof Error ? err.message : String(err)}`,
          });
          res.writeHead(400, { "content-type": "application/json" });
          res.end(body);
        } else {
          res.destroy();
        }
      } catch {
        res.destroy();
      }
    }
  };
}

/** A duplex over a socket that first yields bytes already read from it. */
class ReplayingSocket extends Duplex {
  /** Mirrors net.Socket's peer address so request logs and rate limits still see it. */
  readonly remoteAddress: string | undefined;
  /** Mirrors net.Socket's peer port. */
  readonly remotePort: number | undefined;

  constructor(
    private readonly socket: net.Socket,
    head: Buffer,
  ) {
    super();
    this.remoteAddress = socket.remoteAddress;
    this.remotePort = socket.remotePort;
    this.push(head);
    socket.on("data", (chunk: Buffer) => {
      if (!this.push(chunk)) socket.pause();
    });
    socket.on("end", () => this.push(null));
    socket.on("error", (err) => this.destroy(err));
    socket.on("close", () => this.destroy());
  }

  override _read(): void {
    this.socket.resume();
  }

  override _write(
    chunk: Buffer,
    _encoding: BufferEncoding,
    done: (err?: Error | null) => void,
  ): void {
    this.socket.write(chunk, done);
  }

  override _final(done: (err?: Error | null) => void): void {
    this.socket.end(done);
  }

  override _destroy(err: Error | null, done: (err?: Error | null) => void): void {
    this.socket.destroy(err ?? undefined);
    done(err);
  }
}
