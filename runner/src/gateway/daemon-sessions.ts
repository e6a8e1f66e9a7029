import * as http2 from "node:http2";
import * as net from "node:net";

/** Options for createDaemonSessionPool. */
export interface DaemonSessionPoolOptions {
  /** Close a session after it has carried no stream for this long. Default 60 s. */
  idleMs?: number;
  /** Give up connecting to a socket after this long. Default 5 s. */
  connectTimeoutMs?: number;
  /** HTTP/2 receive window per stream and per session, in bytes. Default 4 MiB. */
  windowBytes?: number;
}

/**
 * DaemonSessionPool keeps one HTTP/2 client session per daemon socket: reused by every call
 * to that sandbox, replaced when the daemon closes it or sends GOAWAY, and closed when idle.
 */
export interface DaemonSessionPool {
  /**
   * acquire returns a connected session to the socket (connecting if there is none) for one
   * stream; the session is not closed for idleness until the lease is released.
   */
  acquire(socketPath: string): Promise<SessionLease>;
  /** size is the number of sessions open or being opened. */
  readonly size: number;
  /** close closes every session (open streams are cut) and stops the pool. */
  close(): void;
}

/** One stream's use of a pooled session. */
export interface SessionLease {
  /** The session to open the stream on. */
  readonly session: http2.ClientHttp2Session;
  /** release ends the use (idempotent); the last release of a session arms its idle timer. */
  release(): void;
}

interface Entry {
  connecting: Promise<http2.ClientHttp2Session>;
  session: http2.ClientHttp2Session | undefined;
  streams: number;
  idleTimer: NodeJS.Timeout | undefined;
}

/** createDaemonSessionPool makes a DaemonSessionPool. */
export function createDaemonSessionPool(options: DaemonSessionPoolOptions = {}): DaemonSessionPool {
  const idleMs = options.idleMs ?? 60_000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
  const windowBytes = options.windowBytes ?? 4 * 1024 * 1024;
  const entries = new Map<string, Entry>();
  let closed = false;

  const forget = (socketPath: string, entry: Entry) => {
    if (entries.get(socketPath) === entry) entries.delete(socketPath);
    if (entry.idleTimer) clearTimeout(entry.idleTimer);
  };

  const armIdle = (socketPath: string, entry: Entry) => {
    if (entry.idleTimer) clearTimeout(entry.idleTimer);
    entry.idleTimer = setTimeout(() => {
      if (entry.streams > 0) return;
      forget(socketPath, entry);
      entry.session?.close();
    }, idleMs);
    entry.idleTimer.unref();
  };

  const connect = (socketPath: string): Entry => {
    const entry: Entry = {
      connecting: undefined as unknown as Promise<http2.ClientHttp2Session>,
      session: undefined,
      streams: 0,
      idleTimer: undefined,
    };
    entry.connecting = new Promise((resolve, reject) => {
      const session = http2.connect("http://daemon.local", {
        createConnection: () => net.connect(socketPath),
        settings: { initialWindowSize: windowBytes, enablePush: false },
        // The gateway multiplexes up to its stream cap on this one session.
        maxSessionMemory: 64,
      });
      const timer = setTimeout(() => {
        session.destroy(new Error(`connecting timed out after ${connectTimeoutMs} ms`));
      }, connectTimeoutMs);
      session.once("connect", () => {
        clearTimeout(timer);
        session.setLocalWindowSize(windowBytes);
        entry.session = session;
        armIdle(socketPath, entry);
        resolve(session);
      });
      session.on("error", (err) => {
        clearTimeout(timer);
        forget(socketPath, entry);
        reject(err);
      });
      // GOAWAY: streams already open finish; new calls go to a fresh session.
      session.on("goaway", () => forget(socketPath, entry));
      session.on("close", () => {
        clearTimeout(timer);
        forget(socketPath, entry);
        reject(new Error("the daemon closed the connection"));
      });
    });
    // A failed connect is reported to whoever awaits it; never as an unhandled rejection.
    entry.connecting.catch(() => {});
    return entry;
  };

  return {
    async acquire(socketPath) {
      if (closed) throw new Error("the gateway is closing");
      let entry = entries.get(socketPath);
      if (entry?.session && (entry.session.closed || entry.session.destroyed)) {
        forget(socketPath, entry);
        entry = undefined;
      }
      if (!entry) {
        entry = connect(socketPath);
        entries.set(socketPath, entry);
      }
      const session = entry.session ?? (await entry.connecting);
      const held = entry;
      held.streams++;
      if (held.idleTimer) clearTimeout(held.idleTimer);
      held.idleTimer = undefined;
      let released = false;
      return {
        session,
        release() {
          if (released) return;
          released = true;
          held.streams--;
          if (held.streams === 0 && entries.get(socketPath) === held) armIdle(socketPath, held);
        },
      };
    },
    get size() {
      return entries.size;
    },
    close() {
      closed = true;
      for (const [socketPath, entry] of entries) {
        forget(socketPath, entry);
        entry.session?.destroy();
      }
    },
  };
}
