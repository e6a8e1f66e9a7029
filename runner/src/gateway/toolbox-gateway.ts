import * as crypto from "node:crypto";
import type * as http from "node:http";
import * as path from "node:path";
import {
  type AnyRequest,
  type AnyResponse,
  CoveError,
  createGrpcHandler,
  createHealthRegistry,
  daemonUnavailable,
  detectProtocol,
  forwardCall,
  GATEWAY_TOKEN_HEADER,
  internalRpcError,
  type ListenOptions,
  type Logger,
  listenDualProtocol,
  missingSandboxId,
  respondWithError,
  SANDBOX_ID_HEADER,
  sandboxRouteOf,
} from "@cove/common";
import { isUnixSocket } from "../domain/daemon-health.js";
import { createDaemonSessionPool } from "./daemon-sessions.js";

/** A sandbox that exists on this runner but whose daemon cannot take calls now. */
export interface SandboxNotStarted {
  /** The sandbox's state, e.g. "STOPPED" or "CREATED", named in the error. */
  notStarted: string;
}

/**
 * What resolve says about a sandbox: the host path of its daemon socket when it is started,
 * undefined when this runner does not know it (NOT_FOUND), or SandboxNotStarted
 * (FAILED_PRECONDITION).
 */
export type SandboxResolution = string | undefined | SandboxNotStarted;

/** Options for startToolboxGateway. */
export interface ToolboxGatewayOptions {
  /** Where to listen; port 0 picks a free port. The runner's default is 127.0.0.1:3003. */
  listen: { host?: string; port: number };
  /** The shared secret the proxy sends in header cove-gateway-token. */
  token: string;
  /** Maps a sandbox id to its daemon socket (the driver's socketPath plus what is started). */
  resolve: (sandboxId: string) => SandboxResolution;
  /** Where the gateway logs. */
  logger: Logger;
  /** Concurrent calls per sandbox; more get RESOURCE_EXHAUSTED. Default 256. */
  maxStreamsPerSandbox?: number;
  /** Close a daemon session after this long without calls. Default 60 s. */
  idleSessionMs?: number;
  /** Headers and idle timeouts of the listener (see ListenOptions); defaults 30 s and 5 min. */
  listenTimeouts?: Pick<ListenOptions, "headersTimeoutMs" | "idleTimeoutMs">;
}

/** A running toolbox gateway. */
export interface ToolboxGateway {
  /** The base URL the proxy calls, e.g. http://127.0.0.1:3003. */
  readonly url: string;
  /** The number of calls being forwarded right now, per sandbox id. */
  activeCalls(sandboxId: string): number;
  /** close stops accepting calls, gives open ones graceMs, then cuts them and every daemon session. */
  close(graceMs?: number): Promise<void>;
}

/** Path prefix of FilesystemService calls, and the helper's socket next to the daemon's. */
const FILESYSTEM_PATH = "/cove.toolbox.v1.FilesystemService/";
const FILESYSTEM_SOCKET = "filesystem.sock";
/** The gateway's own health service, answered without a sandbox id or token. */
const HEALTH_PATH = "/grpc.health.v1.Health/";

/**
 * startToolboxGateway serves the runner's toolbox gateway: every Connect, gRPC and gRPC-Web
 * call (unary and all streaming kinds, HTTP/2 or HTTP/1.1) that names a sandbox, by header
 * cove-sandbox-id or by a /sandbox/<id>/ path prefix, is checked against the proxy's token
 * and relayed byte for byte to that sandbox's daemon over one pooled HTTP/2 session per
 * daemon socket. Calls without a sandbox id may ask grpc.health.v1.Health about the gateway.
 */
export async function startToolboxGateway(options: ToolboxGatewayOptions): Promise<ToolboxGateway> {
  if (options.token === "") {
    throw new Error(
      "the gateway token must not be empty: it is what keeps callers other than the proxy out",
    );
  }
  const logger = options.logger;
  const maxStreams = options.maxStreamsPerSandbox ?? 256;
  const expectedToken = digest(options.token);
  const pool = createDaemonSessionPool({ idleMs: options.idleSessionMs });
  const active = new Map<string, number>();
  const health = createHealthRegistry();
  const healthHandler = createGrpcHandler({ services: [], routes: () => {} }, health);

  const tokenMatches = (value: string | string[] | undefined) =>
    typeof value === "string" && crypto.timingSafeEqual(digest(value), expectedToken);

  const handle = async (req: AnyRequest, res: AnyResponse) => {
    const protocol = detectProtocol(req.method, String(req.headers["content-type"] ?? ""));
    try {
      if (req.headers[SANDBOX_ID_HEADER] === undefined && req.url?.startsWith(HEALTH_PATH)) {
        healthHandler(req, res);
        return;
      }
      const token = req.headers[GATEWAY_TOKEN_HEADER];
      if (!tokenMatches(token)) {
        throw new CoveError(
          "unauthenticated",
          "PROXY_TOKEN_INVALID",
          token === undefined
            ? `the ${GATEWAY_TOKEN_HEADER} header is missing`
            : `the ${GATEWAY_TOKEN_HEADER} header is not this runner's gateway token`,
        );
      }
      const target = sandboxRouteOf(req.url ?? "/", req.headers);
      const sandboxId = target.sandboxId;
      if (sandboxId === undefined) {
        throw missingSandboxId();
      }
      const socketPath = resolveSocket(sandboxId);
      const count = active.get(sandboxId) ?? 0;
      if (count >= maxStreams) {
        throw new CoveError(
          "resourceExhausted",
          "STREAM_LIMIT_EXCEEDED",
          `sandbox ${sandboxId} already has ${maxStreams} calls open; close some first`,
          { sandboxId, limit: String(maxStreams) },
        );
      }
      active.set(sandboxId, count + 1);
      let released = false;
      let lease: Awaited<ReturnType<typeof pool.acquire>> | undefined;
      const release = () => {
        if (released) return;
        released = true;
        lease?.release();
        const left = (active.get(sandboxId) ?? 1) - 1;
        if (left === 0) active.delete(sandboxId);
        else active.set(sandboxId, left);
      };
      try {
        lease = await acquireFor(target.path, socketPath);
      } catch (err) {
        release();
        logger.warn("daemon unreachable", { sandboxId, err });
        throw daemonUnavailable(sandboxId, err);
      }
      if ("stream" in req ? req.stream.closed : (res as http.ServerResponse).destroyed) {
        release(); // the caller left while the session was being opened.
        return;
      }
      forwardCall({
        req,
        res,
        protocol,
        path: target.path,
        sandboxId,
        session: lease.session,
        onClose: release,
        logger,
      });
    } catch (err) {
      if (err instanceof CoveError) {
        respondWithError(req, res, protocol, err);
        return;
      }
      logger.error("gateway failed a call", { err, path: req.url });
      respondWithError(
        req,
        res,
        protocol,
        internalRpcError("internal error; the gateway logged the cause"),
      );
    }
  };

  /**
   * acquireFor picks the session for a call: filesystem calls go to the socket the daemon's
   * filesystem helper serves next to the daemon's (it acts as the sandbox user, and bulk data
   * then crosses no extra hop) when that is a socket (never a symlink) that answers, and to
   * the daemon's socket otherwise (the daemon relays them to the helper itself).
   */
  const acquireFor = async (callPath: string, socketPath: string) => {
    if (callPath.startsWith(FILESYSTEM_PATH)) {
      const direct = path.join(path.dirname(socketPath), FILESYSTEM_SOCKET);
      if (isUnixSocket(direct)) {
        try {
          return await pool.acquire(direct);
        } catch {
          // Its helper is stopped (idle) or restarting: the daemon starts it again.
        }
      }
    }
    return pool.acquire(socketPath);
  };

  const resolveSocket = (sandboxId: string): string => {
    const resolution = options.resolve(sandboxId);
    if (typeof resolution === "string") return resolution;
    if (resolution === undefined) {
      throw new CoveError(
        "notFound",
        "SANDBOX_NOT_FOUND",
        `sandbox ${sandboxId} is not on this runner`,
        { sandboxId },
      );
    }
    throw new CoveError(
      "failedPrecondition",
      "SANDBOX_STATE_CONFLICT",
      `sandbox ${sandboxId} is ${resolution.notStarted}, not started; start it first`,
      { sandboxId, state: resolution.notStarted, allowedStates: "STARTED" },
    );
  };

  const server = await listenDualProtocol(
    (req, res) => {
      handle(req, res).catch((err: unknown) => {
        // Answering the error failed too: drop this call, never the process.
        logger.error("gateway could not answer a call", { err, path: req.url });
        res.destroy();
      });
    },
    { host: options.listen.host ?? "127.0.0.1", port: options.listen.port },
    { ...options.listenTimeouts, http2Settings: { initialWindowSize: 4 * 1024 * 1024 } },
  );
  logger.info("toolbox gateway listening", { url: server.url });

  return {
    url: server.url,
    activeCalls: (sandboxId) => active.get(sandboxId) ?? 0,
    async close(graceMs = 2_000) {
      health.shutdown();
      await server.close(graceMs);
      pool.close();
    },
  };
}

/** digest hashes a token so that comparing two of any lengths takes the same time. */
function digest(value: string): Buffer {
  return crypto.createHash("sha256").update(value, "utf8").digest();
}
