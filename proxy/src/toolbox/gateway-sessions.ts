import * as http2 from "node:http2";
import * as net from "node:net";

/** Options for createGatewaySessionPool. */
export interface GatewaySessionPoolOptions {
  /** Close a session after it has carried no stream for this long. Default 60 s. */
  idleMs?: number;
  /** Give up connecting after this long. Default 5 s. */
  connectTimeoutMs?: number;
  /** HTTP/2 receive window per stream and per session, in bytes. Default 4 MiB. */
  windowBytes?: number;
}

/** One stream's use of a pooled session; release when the stream is gone. */
export interface GatewayLease {
  /** The session to open the stream on. */
  readonly session: http2.ClientHttp2Session;
  /** release ends the use (idempotent). */
  release(): void;
}

/**
 * GatewaySessionPool keeps one HTTP/2 session per runner gateway (by URL origin), shared by
 * every toolbox call routed there, replaced after GOAWAY or a close, and closed when idle.
 */
export interface GatewaySessionPool {
  /** acquire returns a connected session to the gateway at url. */
  acquire(url: string): Promise<GatewayLease>;
  /** close destroys every session. */
  close(): void;
}

interface Entry {
  connecting: Promise<http2.ClientHttp2Session>;
  session?: http2.ClientHttp2Session;
  streams: number;
  idleTimer?: NodeJS.Timeout;
}

/** createGatewaySessionPool makes a GatewaySessionPool. */
export function createGatewaySessionPool(
  options: GatewaySessionPoolOptions = {},
): GatewaySessionPool {
  const idleMs = options.idleMs ?? 60_000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 5_000;
  const windowBytes = options.windowBytes ?? 4 * 1024 * 1024;
  const entries = new Map<string, Entry>();
  let closed = false;

  const forget = (origin: string, entry: Entry) => {
    if (entries.get(origin) === entry) entries.delete(origin);
    if (entry.idleTimer) clearTimeout(entry.idleTimer);
  };

  const armIdle = (origin: string, entry: Entry) => {
    if (entry.idleTimer) clearTimeout(entry.idleTimer);
    entry.idleTimer = setTimeout(() => {
      if (entry.streams > 0) return;
      forget(origin, entry);
      entry.session?.close();
    }, idleMs);
    entry.idleTimer.unref();
  };

  const connect = (origin: string, url: URL): Entry => {
    const entry = { streams: 0 } as Entry;
    entry.connecting = new Promise((resolve, reject) => {
      const session = http2.connect(origin, {
        // Plain-text gateways get TCP_NODELAY: small gRPC frames must not wait for Nagle.
        ...(url.protocol === "http:"
          ? {
              createConnection: () =>
                net.connect({
                  host: url.hostname.replace(/^\[|\]$/g, ""),
                  port: Number(url.port || 80),
                  noDelay: true,
                }),
            }
          : {}),
        settings: { initialWindowSize: windowBytes, enablePush: false },
        maxSessionMemory: 64,
      });
      const timer = setTimeout(
        () => session.destroy(new Error(`connecting timed out after ${connectTimeoutMs} ms`)),
        connectTimeoutMs,
      );
      session.once("connect", () => {
        clearTimeout(timer);
        session.setLocalWindowSize(windowBytes);
        entry.session = session;
        armIdle(origin, entry);
        resolve(session);
      });
      session.on("error", (err) => {
        clearTimeout(timer);
        forget(origin, entry);
        reject(err);
      });
      session.on("goaway", () => forget(origin, entry));
      session.on("close", () => {
        clearTimeout(timer);
        forget(origin, entry);
        reject(new Error("the gateway closed the connection"));
      });
    });
    entry.connecting.catch(() => {});
    return entry;
  };

  return {
    async acquire(url) {
      if (closed) throw new Error("the proxy is closing");
      const parsed = new URL(url);
      const origin = parsed.origin;
      let entry = entries.get(origin);
      if (entry?.session && (entry.session.closed || entry.session.destroyed)) {
        forget(origin, entry);
        entry = undefined;
      }
      if (!entry) {
        entry = connect(origin, parsed);
        entries.set(origin, entry);
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
          if (held.streams === 0 && entries.get(origin) === held) armIdle(origin, held);
        },
      };
    },
    close() {
      closed = true;
      for (const [origin, entry] of entries) {
        forget(origin, entry);
        entry.session?.destroy();
      }
    },
  };
}
