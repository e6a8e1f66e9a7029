import type * as http from "node:http";
import type * as http2 from "node:http2";
import type { Duplex } from "node:stream";
import {
  applyCors,
  type CorsPolicy,
  createGrpcHandler,
  createHealthRegistry,
  type ListenOptions,
  type Logger,
  listenDualProtocol,
} from "@cove/common";
import { FilesystemService } from "@cove/gen-ts/cove/toolbox/v1/filesystem_service_pb.js";
import { GitService } from "@cove/gen-ts/cove/toolbox/v1/git_service_pb.js";
import { InterpreterService } from "@cove/gen-ts/cove/toolbox/v1/interpreter_service_pb.js";
import { LspService } from "@cove/gen-ts/cove/toolbox/v1/lsp_service_pb.js";
import { PortService } from "@cove/gen-ts/cove/toolbox/v1/port_service_pb.js";
import { ProcessService } from "@cove/gen-ts/cove/toolbox/v1/process_service_pb.js";
import { PtyService } from "@cove/gen-ts/cove/toolbox/v1/pty_service_pb.js";
import type { RouteResolver } from "./domain/routes.js";
import { createPreviewHandler } from "./preview/preview-handler.js";
import { createRequestClassifier } from "./preview/preview-target.js";
import { createTunnelDialer } from "./preview/tunnel-socket.js";
import { createGatewaySessionPool } from "./toolbox/gateway-sessions.js";
import { createToolboxForwarder, type OpenConnection } from "./toolbox/toolbox-forwarder.js";

/** Options for startProxy. */
export interface ProxyOptions {
  /** Where to listen (TCP); port 0 picks a free port. */
  listen: { host?: string; port: number };
  /** Who may reach which sandbox, and where it runs (the API server's EdgeService, cached). */
  edge: RouteResolver;
  /** The runners' shared gateway secret, sent as header cove-gateway-token. */
  gatewayToken: string;
  /** Preview hosts are <port>-<sandboxId>.<previewDomain>, e.g. "preview.localhost". */
  previewDomain: string;
  /** Where the proxy logs. */
  logger: Logger;
  /**
   * Whether /preview/<sandboxId>/<port>/ paths also reach previews (for use without DNS).
   * Default true. All such previews share the proxy's origin, so pages of one sandbox can
   * script requests to another's: production should use preview hosts and turn this off.
   */
  pathPreviews?: boolean;
  /** Whether callers reach the proxy over TLS (Secure cookies, X-Forwarded-Proto). Default false. */
  secure?: boolean;
  /** Browser origins allowed to make toolbox calls (CORS). Default any ("*"). */
  cors?: CorsPolicy;
  /** How long the daemon may take to connect to a preview port. Default 5 s. */
  tunnelConnectTimeoutMs?: number;
  /** Headers and idle timeouts of the listener (see ListenOptions); defaults 30 s and 5 min. */
  listenTimeouts?: Pick<ListenOptions, "headersTimeoutMs" | "idleTimeoutMs">;
}

/** A running proxy. */
export interface Proxy {
  /** The base URL, e.g. http://127.0.0.1:4000. */
  readonly url: string;
  /** The number of toolbox calls, preview requests and WebSockets open now. */
  readonly openConnections: number;
  /** close stops accepting, cuts what is open after graceMs, and closes the gateway sessions. */
  close(graceMs?: number): Promise<void>;
}

/** HTTP/2 receive window per stream and per connection, in bytes. */
const WINDOW_BYTES = 4 * 1024 * 1024;

/** Every toolbox service: the proxy answers reflection for them and forwards their calls. */
const TOOLBOX_SERVICES = [
  FilesystemService,
  ProcessService,
  PtyService,
  GitService,
  LspService,
  InterpreterService,
  PortService,
];

/**
 * startProxy serves the public edge on one port that speaks HTTP/1.1 and HTTP/2 (h2c): by
 * Host, previews (<port>-<sandboxId>.<previewDomain>, and /preview/<id>/<port>/ paths) go to
 * the preview handler — HTTP and WebSocket, through the sandbox daemon's tunnel — and
 * everything else is a Connect, gRPC or gRPC-Web call for the toolbox forwarder (or the
 * proxy's own health and reflection). CONNECT and absolute-form targets for other hosts are
 * refused with 400. Invalidations from the edge close the connections they concern.
 */
export async function startProxy(options: ProxyOptions): Promise<Proxy> {
  if (options.gatewayToken === "") throw new Error("the gateway token must not be empty");
  const logger = options.logger;
  const cors: CorsPolicy = options.cors ?? { allowedOrigins: "*" };
  const clientIpOf = (socket: { remoteAddress?: string } | undefined | null) =>
    (socket?.remoteAddress ?? "").replace(/^::ffff:/, "");

  // Open connections, so that a revoked credential or a stopped sandbox cuts them.
  const open = new Set<OpenConnection>();
  const track = (connection: OpenConnection) => {
    open.add(connection);
    return () => {
      open.delete(connection);
    };
  };
  const stopWatching = options.edge.onInvalidate((change) => {
    for (const connection of [...open]) {
      const hit =
        (change.sandboxId !== "" && connection.sandboxId === change.sandboxId) ||
        (change.credentialId !== "" && connection.credentialId === change.credentialId) ||
        (change.runnerId !== "" && connection.runnerId === change.runnerId);
      if (hit) {
        open.delete(connection);
        connection.close();
      }
    }
  });

  const health = createHealthRegistry();
  const local = createGrpcHandler({ services: TOOLBOX_SERVICES, routes: () => {} }, health);
  const sessions = createGatewaySessionPool();
  const dialer = createTunnelDialer({
    gatewayToken: options.gatewayToken,
    logger,
    connectTimeoutMs: options.tunnelConnectTimeoutMs,
  });
  const classifier = createRequestClassifier({
    previewDomain: options.previewDomain,
    pathPreviews: options.pathPreviews ?? true,
  });
  const toolbox = createToolboxForwarder({
    edge: options.edge,
    gatewayToken: options.gatewayToken,
    sessions,
    track,
    local,
    logger,
  });
  const previews = createPreviewHandler({
    edge: options.edge,
    dialer,
    track,
    secure: options.secure ?? false,
    previewHost: classifier.previewHost,
    logger,
  });

  const onUpgrade = (upReq: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    const kind = classifier.classify(upReq);
    if (kind.kind !== "preview") {
      refuseRaw(socket, kind.kind === "bad" ? kind.message : "upgrades are for previews only");
      return;
    }
    previews
      .handleUpgrade(upReq, socket, head, kind.target, clientIpOf(upReq.socket))
      .catch((err: unknown) => lastResort(err, socket));
  };
  const onConnect = (_req: http.IncomingMessage, socket: Duplex) => {
    refuseRaw(socket, "CONNECT is not supported: this is not a forward proxy");
  };

  /** A handler that failed even to answer: log it and drop that one request, never the process. */
  const lastResort = (err: unknown, stream: { destroy(): unknown }) => {
    logger.error("request handler failed", { err });
    stream.destroy();
  };

  const handle = (
    req: http.IncomingMessage | http2.Http2ServerRequest,
    res: http.ServerResponse | http2.Http2ServerResponse,
  ) => {
    const kind = classifier.classify(req);
    const clientIp = clientIpOf(req.socket);
    switch (kind.kind) {
      case "bad": {
        req.resume();
        const body = JSON.stringify({ code: "invalid_argument", message: kind.message });
        res.writeHead(400, {
          "content-type": "application/json",
          "content-length": Buffer.byteLength(body),
        });
        res.end(body);
        return;
      }
      case "preview":
        previews
          .handleRequest(req, res, kind.target, clientIp)
          .catch((err: unknown) => lastResort(err, res));
        return;
      case "toolbox":
        // Browsers on other origins call the toolbox with Connect-Web; previews stay same-origin.
        if (applyCors(cors, req, res as unknown as Parameters<typeof applyCors>[2])) return;
        toolbox.handle(req, res, clientIp).catch((err: unknown) => lastResort(err, res));
        return;
    }
  };

  const server = await listenDualProtocol(
    handle,
    {
      host: options.listen.host ?? "127.0.0.1",
      port: options.listen.port,
    },
    {
      ...options.listenTimeouts,
      http2Settings: { initialWindowSize: WINDOW_BYTES },
      connectionWindowBytes: WINDOW_BYTES,
      onUpgrade,
      onConnect,
    },
  );
  logger.info("proxy listening", { url: server.url, previewDomain: options.previewDomain });

  return {
    url: server.url,
    get openConnections() {
      return open.size;
    },
    async close(graceMs = 2_000) {
      stopWatching();
      health.shutdown();
      const closing = server.close(graceMs);
      await closing;
      for (const connection of [...open]) connection.close();
      open.clear();
      sessions.close();
      dialer.close();
    },
  };
}

/** refuseRaw answers a raw HTTP/1.1 socket with 400 and closes it. */
function refuseRaw(socket: Duplex, message: string): void {
  socket.on("error", () => {});
  const body = JSON.stringify({ code: "invalid_argument", message });
  socket.end(
    `HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
