import * as net from "node:net";
import {
  createSessionPool,
  type SessionLease,
  type SessionPool,
  type SessionPoolOptions,
} from "@cove/common";

/** Options for createDaemonSessionPool (idle time, connect timeout, window size). */
export type DaemonSessionPoolOptions = Omit<SessionPoolOptions, "target" | "peer">;

/** DaemonSessionPool keeps one HTTP/2 session per daemon socket path. */
export type DaemonSessionPool = SessionPool;

/** One stream's use of a pooled daemon session. */
export type { SessionLease };

/** createDaemonSessionPool pools HTTP/2 sessions to sandbox daemons, keyed by socket path. */
export function createDaemonSessionPool(options: DaemonSessionPoolOptions = {}): DaemonSessionPool {
  return createSessionPool({
    ...options,
    peer: "the daemon",
    target: (socketPath) => ({
      authority: "http://daemon.local",
      createConnection: () => net.connect(socketPath),
    }),
  });
}
