import * as fs from "node:fs";
import * as http from "node:http";
import * as http2 from "node:http2";
import * as net from "node:net";
import { Duplex } from "node:stream";

/** The bytes every HTTP/2 prior-knowledge connection starts with ("PRI * HTTP/2.0…"). */
const H2_PREFACE_START = Buffer.from("PRI ");

/**
 * Where a server listens: a TCP host and port (0 picks a free one), a unix socket path, or a
 * unix socket that is already listening, by file descriptor (handed down by a parent process).
 */
export type ListenAddress = { host?: string; port: number } | { path: string } | { fd: number };

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
  /**
   * How long a connection may take to present a request, ms: from connecting to the end of the
   * HTTP/1.1 request line and headers (and from the first byte of every later request on the
   * connection), or to the client's HTTP/2 preface and SETTINGS. Slower ones are closed
   * (slowloris). Default 30 s.
   */
  headersTimeoutMs?: number;
  /**
   * Idle timeout, ms: a connection with no bytes either way for this long is closed, and so is
   * an HTTP/2 session with no open stream (pings are not use) or an HTTP/1.1 connection
   * between requests (at most 5 s there, as Node's keep-alive default). Streams that must stay
   * quiet for longer send keepalives. Default 5 minutes.
   */
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
  const headersTimeoutMs = options.headersTimeoutMs ?? DEFAULT_HEADERS_TIMEOUT_MS;
  const idleTimeoutMs = options.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS;
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
    {
      headersTimeout: headersTimeoutMs,
      requestTimeout: 0, // streams may be long; idle sockets are closed by `timeout` below.
      keepAliveTimeout: Math.min(idleTimeoutMs, 5_000),
      // How often Node looks for connections past headersTimeout.
      connectionsCheckingInterval: Math.max(50, Math.min(1_000, headersTimeoutMs / 4)),
    },
    guarded as (req: http.IncomingMessage, res: http.ServerResponse) => void,
  );
  // Node restores this socket timeout on every new request of a kept-alive connection.
  h1.timeout = idleTimeoutMs;
  // Node enforces headersTimeout only on connections it tracks, and starts tracking when its
  // server emits "listening"; this one never listens itself (connections are handed to it).
  h1.emit("listening");
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
  const sessions = new Set<http2.Http2Session>();
  /** Set just before a connection is handed to h2 (which makes its session synchronously). */
  let handingOver: (() => void) | undefined;
  h2.on("session", (session) => {
    sessions.add(session);
    const presented = handingOver;
    handingOver = undefined;
    // The preface is complete once the client's SETTINGS arrive.
    session.once("remoteSettings", () => presented?.());
    const window = options.connectionWindowBytes;
    if (window !== undefined) {
      session.once("localSettings", () => {
        if (!session.destroyed) session.setLocalWindowSize(window);
      });
    }
    closeWhenUnused(session, idleTimeoutMs);
    session.on("close", () => sessions.delete(session));
  });
  const sockets = new Set<net.Socket>();
  const tcp = net.createServer((socket) => {
    sockets.add(socket);
    // Until the protocol is known and, for HTTP/2, its preface is in (HTTP/1.1 then has
    // Node's headersTimeout), the connection gets headersTimeoutMs.
    const presenting = setTimeout(() => socket.destroy(), headersTimeoutMs);
    const presented = () => clearTimeout(presenting);
    socket.on("close", () => {
      presented();
      sockets.delete(socket);
    });
    // Until a protocol server owns the socket nobody else listens for its errors: a client
    // that resets the connection mid-preface must cost its own socket, not the process.
    socket.on("error", () => socket.destroy());
    // Small gRPC frames must not wait for Nagle's algorithm (a 40 ms stall per call).
    if ("port" in where) socket.setNoDelay(true);
    socket.setTimeout(idleTimeoutMs, () => socket.destroy());
    const toH2 = (stream: Duplex) => {
      handingOver = presented;
      h2.emit("connection", stream);
      handingOver = undefined;
    };
    if (options.protocols === "h2c") {
      toH2(socket);
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
        toH2(new ReplayingSocket(socket, head));
      } else {
        presented();
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
    else if ("fd" in where) tcp.listen({ fd: where.fd }, resolve);
    else tcp.listen(where.port, where.host ?? "127.0.0.1", resolve);
  });
  // Accept errors (EMFILE, ECONNABORTED) are transient; the listener keeps serving.
  tcp.on("error", () => {});
  const bound = tcp.address();
  const address =
    typeof bound === "string" || bound === null
      ? { path: "path" in where ? where.path : String(bound ?? "") }
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
      h1.close(); // stops Node's connection checks and closes idle connections
      h1.closeIdleConnections();
      const timer = setTimeout(() => {
        for (const socket of sockets) socket.destroy();
      }, graceMs);
      await closed;
      clearTimeout(timer);
    },
  };
}

/** The default of ListenOptions.headersTimeoutMs. */
export const DEFAULT_HEADERS_TIMEOUT_MS = 30_000;

/** The default of ListenOptions.idleTimeoutMs. */
export const DEFAULT_IDLE_TIMEOUT_MS = 5 * 60_000;

/**
 * listenTimeoutsFromEnv reads the listeners' timeouts from COVE_HEADERS_TIMEOUT_MS and
 * COVE_IDLE_TIMEOUT_MS (positive integers, ms); unset variables keep the defaults.
 */
export function listenTimeoutsFromEnv(
  env: Record<string, string | undefined>,
): Pick<ListenOptions, "headersTimeoutMs" | "idleTimeoutMs"> {
  const out: Pick<ListenOptions, "headersTimeoutMs" | "idleTimeoutMs"> = {};
  const read = (name: string): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === "") return undefined;
    const value = Number(raw);
    if (!Number.isInteger(value) || value <= 0) {
      throw new Error(`${name} must be a positive number of milliseconds, not "${raw}"`);
    }
    return value;
  };
  const headers = read("COVE_HEADERS_TIMEOUT_MS");
  const idle = read("COVE_IDLE_TIMEOUT_MS");
  if (headers !== undefined) out.headersTimeoutMs = headers;
  if (idle !== undefined) out.idleTimeoutMs = idle;
  return out;
}

/** closeWhenUnused closes an HTTP/2 session once it has had no open stream for `idleMs`. */
function closeWhenUnused(session: http2.Http2Session, idleMs: number): void {
  let open = 0;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    timer = setTimeout(() => {
      if (!session.closed && !session.destroyed) session.close();
    }, idleMs);
    timer.unref();
  };
  arm();
  session.on("stream", (stream: http2.ServerHttp2Stream) => {
    open++;
    clearTimeout(timer);
    stream.once("close", () => {
      open--;
      if (open === 0 && !session.closed) arm();
    });
  });
  session.once("close", () => clearTimeout(timer));
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
