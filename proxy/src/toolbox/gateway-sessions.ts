import * as net from "node:net";
import { createSessionPool, type SessionLease, type SessionPoolOptions } from "@cove/common";

/** Options for createGatewaySessionPool (idle time, connect timeout, window size). */
export type GatewaySessionPoolOptions = Omit<SessionPoolOptions, "target" | "peer">;

/** One stream's use of a pooled session; release when the stream is gone. */
export type GatewayLease = SessionLease;

/**
 * GatewaySessionPool keeps one HTTP/2 session per runner gateway (by URL origin), shared by
 * every toolbox call routed there.
 */
export interface GatewaySessionPool {
  /** acquire returns a connected session to the gateway at url. */
  acquire(url: string): Promise<GatewayLease>;
  /** close destroys every session. */
  close(): void;
}

/** createGatewaySessionPool pools HTTP/2 sessions to runner gateways, keyed by origin. */
export function createGatewaySessionPool(
  options: GatewaySessionPoolOptions = {},
): GatewaySessionPool {
  const pool = createSessionPool({
    ...options,
    peer: "the gateway",
    target: (origin) => {
      const url = new URL(origin);
      return {
        authority: origin,
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
      };
    },
  });
  return {
    acquire: (url) => pool.acquire(new URL(url).origin),
    close: () => pool.close(),
  };
}
