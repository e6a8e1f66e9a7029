// The Node platform: gRPC over HTTP/2 (connect-node), one pooled HTTP/2 connection per base URL
// with keepalive pings, configuration from process.env.
import type { Interceptor, Transport } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import type { Platform } from "../core/rpc.js";

/** Largest message the SDK reads or writes (the daemon's cap is 16 MiB). */
const MAX_MESSAGE_BYTES = 32 * 1024 * 1024;

/** createNodePlatform makes the Node platform; close() ends its HTTP/2 sessions. */
export function createNodePlatform(): Platform {
  const sessions: Http2SessionManager[] = [];
  return {
    name: "node",
    clientStreaming: true,
    createTransport(baseUrl: string, interceptors: Interceptor[]): Transport {
      const sessionManager = new Http2SessionManager(baseUrl, {
        pingIntervalMs: 30_000,
        pingTimeoutMs: 15_000,
        idleConnectionTimeoutMs: 60_000,
      });
      sessions.push(sessionManager);
      return createGrpcTransport({
        baseUrl,
        interceptors,
        sessionManager,
        readMaxBytes: MAX_MESSAGE_BYTES,
        writeMaxBytes: MAX_MESSAGE_BYTES,
        // Sandbox files are often already compressed, and gzip of a 1 GiB transfer costs more
        // CPU than the link saves on a LAN.
        acceptCompression: [],
      });
    },
    close() {
      for (const s of sessions.splice(0)) s.abort();
    },
    env(name: string): string | undefined {
      return process.env[name] || undefined;
    },
  };
}
