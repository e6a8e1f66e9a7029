import type * as http2 from "node:http2";
import { type Client, createClient, type Interceptor } from "@connectrpc/connect";
import { createGrpcTransport, Http2SessionManager } from "@connectrpc/connect-node";
import { FilesystemService } from "@cove/gen-ts/cove/toolbox/v1/filesystem_service_pb.js";
import { ProcessService } from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import { PtyService } from "@cove/gen-ts/cove/toolbox/v1/pty_service_pb.js";

/** The header that names the sandbox for the runner's toolbox gateway. */
export const SANDBOX_ID_HEADER = "cove-sandbox-id";
/** The header that carries the proxy's shared secret for the runner's toolbox gateway. */
export const GATEWAY_TOKEN_HEADER = "cove-gateway-token";

/** Messages to and from a daemon are capped like every other Cove hop. */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
/** Deadline of every unary call made for an SSH user. */
export const UNARY_TIMEOUT_MS = 30_000;

/** HTTP/2 flow-control window per stream and per connection to a runner gateway. */
const WINDOW_BYTES = 4 * 1024 * 1024;

/**
 * WideWindowSessionManager opens the connection-level HTTP/2 window to WINDOW_BYTES too (Node
 * starts it at 64 KiB whatever the stream settings say). Output streams of the daemon are
 * ring buffers that skip a reader which falls behind, so the proxy must read them quickly.
 */
class WideWindowSessionManager extends Http2SessionManager {
  private readonly widened = new WeakSet<http2.ClientHttp2Session>();

  override async request(
    ...args: Parameters<Http2SessionManager["request"]>
  ): Promise<http2.ClientHttp2Stream> {
    const stream = await super.request(...args);
    const session = stream.session as http2.ClientHttp2Session | undefined;
    if (session !== undefined && !this.widened.has(session)) {
      this.widened.add(session);
      session.setLocalWindowSize(WINDOW_BYTES);
    }
    return stream;
  }
}

/** Typed clients for one sandbox's toolbox, reached through its runner's gateway. */
export interface SandboxClients {
  /** PtyService of the sandbox's daemon. */
  pty: Client<typeof PtyService>;
  /** ProcessService of the sandbox's daemon. */
  process: Client<typeof ProcessService>;
  /** FilesystemService of the sandbox's daemon. */
  fs: Client<typeof FilesystemService>;
}

/**
 * GatewayConnections keeps one HTTP/2 connection per runner gateway, shared by every SSH
 * connection whose sandbox lives on that runner, and hands out per-sandbox clients over it.
 */
export interface GatewayConnections {
  /** clientsFor returns clients that call sandboxId's daemon through gatewayUrl. */
  clientsFor(gatewayUrl: string, sandboxId: string): SandboxClients;
  /** close drops every gateway connection (open calls fail). */
  close(): void;
}

/** createGatewayConnections makes the pool; gatewayToken goes in every call's headers. */
export function createGatewayConnections(gatewayToken: string): GatewayConnections {
  const managers = new Map<string, Http2SessionManager>();
  const managerFor = (url: string) => {
    let manager = managers.get(url);
    if (manager === undefined) {
      manager = new WideWindowSessionManager(
        url,
        { pingIntervalMs: 15_000, pingTimeoutMs: 10_000, idleConnectionTimeoutMs: 60_000 },
        { settings: { initialWindowSize: WINDOW_BYTES, enablePush: false } },
      );
      managers.set(url, manager);
    }
    return manager;
  };
  return {
    clientsFor(gatewayUrl, sandboxId) {
      const headers: Interceptor = (next) => (req) => {
        req.header.set(SANDBOX_ID_HEADER, sandboxId);
        req.header.set(GATEWAY_TOKEN_HEADER, gatewayToken);
        return next(req);
      };
      const transport = createGrpcTransport({
        baseUrl: gatewayUrl,
        sessionManager: managerFor(gatewayUrl),
        interceptors: [headers],
        readMaxBytes: MAX_MESSAGE_BYTES,
        writeMaxBytes: MAX_MESSAGE_BYTES,
      });
      return {
        pty: createClient(PtyService, transport),
        process: createClient(ProcessService, transport),
        fs: createClient(FilesystemService, transport),
      };
    },
    close() {
      for (const manager of managers.values()) manager.abort();
      managers.clear();
    },
  };
}
