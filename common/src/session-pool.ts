import * as http2 from "node:http2";
import type * as net from "node:net";

/** Where a pooled session connects: the authority, and how to open its socket. */
export interface SessionTarget {
  /** The authority, e.g. http://127.0.0.1:3003 (or a placeholder for unix sockets). */
  authority: string;
  /** Opens the connection (a unix socket, or TCP with TCP_NODELAY); default: http2's own. */
  createConnection?: () => net.Socket;
}

/** Options for createSessionPool. */
export interface SessionPoolOptions {
  /** Maps a pool key (a socket path, a URL origin) to where it connects. */
  target: (key: string) => SessionTarget;
  /** Who is on the other end, for error messages ("the daemon", "the gateway"). */
  peer: string;
  /** Close a session after it has carried no stream for this long. Default 60 s. */
  idleMs?: number;
  /** Give up connecting after this long. Default 5 s. */
  connectTimeoutMs?: number;
  /** HTTP/2 receive window per stream and per session, in bytes. Default 4 MiB. */
  windowBytes?: number;
}

/** One stream's use of a pooled session. */
export interface SessionLease {
  /** The session to open the stream on. */
  readonly session: http2.ClientHttp2Session;
  /** release ends the use (idempotent); the last release of a session arms its idle timer. */
  release(): void;
}

/**
 * SessionPool keeps one HTTP/2 client session per key: reused by every stream to that peer,
 * replaced when the peer closes it or sends GOAWAY, and closed when idle.
 */
export interface SessionPool {
  /** acquire returns a connected session for one stream (connecting if there is none). */
  acquire(key: string): Promise<SessionLease>;
  /** size is the number of sessions open or being opened. */
  readonly size: number;
  /** close closes every session (open streams are cut) and stops the pool. */
  close(): void;
}

interface Entry {
  connecting: Promise<http2.ClientHttp2Session>;
  session: http2.ClientHttp2Session | undefined;
  streams: number;
  idleTimer: NodeJS.Timeout | undefined;
}

/** createSessionPool makes a SessionPool (the runner's daemon hop and the proxy's gateway hop). */
export function createSessionPool(options: SessionPoolOptions): SessionPool {
  const idleMs = options.idleMs ?? 60_000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
  const windowBytes = options.windowBytes ?? 4 * 1024 * 1024;
  const entries = new Map<string, Entry>();
  let closed = false;

  const forget = (key: string, entry: Entry) => {
    if (entries.get(key) === entry) entries.delete(key);
    if (entry.idleTimer) clearTimeout(entry.idleTimer);
  };

  const armIdle = (key: string, entry: Entry) => {
    if (entry.idleTimer) clearTimeout(entry.idleTimer);
    entry.idleTimer = setTimeout(() => {
      if (entry.streams > 0) return;
      forget(key, entry);
      entry.session?.close();
    }, idleMs);
    entry.idleTimer.unref();
  };

  const connect = (key: string): Entry => {
    const target = options.target(key);
    const entry: Entry = {
      connecting: undefined as unknown as Promise<http2.ClientHttp2Session>,
      session: undefined,
      streams: 0,
      idleTimer: undefined,
    };
    entry.connecting = new Promise((resolve, reject) => {
      const session = http2.connect(target.authority, {
        ...(target.createConnection ? { createConnection: target.createConnection } : {}),
        settings: { initialWindowSize: windowBytes, enablePush: false },
        // Many calls are multiplexed on this one session.
        maxSessionMemory: 64,
      });
      const timer = setTimeout(() => {
        session.destroy(new Error(`connecting timed out after ${connectTimeoutMs} ms`));
      }, connectTimeoutMs);
      session.once("connect", () => {
        clearTimeout(timer);
        session.setLocalWindowSize(windowBytes);
        entry.session = session;
        armIdle(key, entry);
        resolve(session);
      });
      session.on("error", (err) => {
        clearTimeout(timer);
        forget(key, entry);
        reject(err);
      });
      // GOAWAY: streams already open finish; new calls go to a fresh session.
      session.on("goaway", () => forget(key, entry));
      session.on("close", () => {
        clearTimeout(timer);
        forget(key, entry);
        reject(new Error(`${options.peer} closed the connection`));
      });
    });
    // A failed connect is reported to whoever awaits it; never as an unhandled rejection.
    entry.connecting.catch(() => {});
    return entry;
  };

  return {
    async acquire(key) {
      if (closed) throw new Error(`the connection pool to ${options.peer} is closed`);
      let entry = entries.get(key);
      if (entry?.session && (entry.session.closed || entry.session.destroyed)) {
        forget(key, entry);
        entry = undefined;
      }
      if (!entry) {
        entry = connect(key);
        entries.set(key, entry);
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
          if (held.streams === 0 && entries.get(key) === held) armIdle(key, held);
        },
      };
    },
    get size() {
      return entries.size;
    },
    close() {
      closed = true;
      for (const [key, entry] of entries) {
        forget(key, entry);
        entry.session?.destroy();
      }
    },
  };
}
