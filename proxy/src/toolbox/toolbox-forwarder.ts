import * as http2 from "node:http2";
import {
  type AnyRequest,
  type AnyResponse,
  answerUnknownMethod,
  CoveError,
  detectProtocol,
  forwardCall,
  GATEWAY_TOKEN_HEADER,
  internalRpcError,
  type Logger,
  missingSandboxId,
  respondWithError,
  SANDBOX_ID_HEADER,
  sandboxRouteOf,
} from "@cove/common";
import type { RouteResolver } from "../domain/routes.js";
import { bearerCredential } from "./bearer-credential.js";
import type { GatewaySessionPool } from "./gateway-sessions.js";

/** A connection the proxy authorized, closed when WatchRoutes invalidates its route. */
export interface OpenConnection {
  /** The sandbox it reaches. */
  sandboxId: string;
  /** The credential that was accepted ("" for a public preview). */
  credentialId: string;
  /** The runner it goes through. */
  runnerId: string;
  /** close cuts the connection. */
  close(): void;
}

/** TrackConnection registers an open connection and returns the function that forgets it. */
export type TrackConnection = (connection: OpenConnection) => () => void;

/** Options for createToolboxForwarder. */
export interface ToolboxForwarderOptions {
  /** Answers who may reach which sandbox, and where it runs. */
  edge: RouteResolver;
  /** The runners' shared gateway secret (header cove-gateway-token). */
  gatewayToken: string;
  /** HTTP/2 sessions to the runners' gateways. */
  sessions: GatewaySessionPool;
  /** Registers calls so that invalidations can cut them. */
  track: TrackConnection;
  /** Answers calls that name no sandbox: the proxy's own health and reflection. */
  local: (req: AnyRequest, res: AnyResponse) => void;
  /** Where the forwarder logs. */
  logger: Logger;
}

/** A toolbox forwarder: handle() answers one Connect, gRPC or gRPC-Web request. */
export interface ToolboxForwarder {
  /** handle authorizes one call with the edge and relays it to the sandbox's runner. */
  handle(req: AnyRequest, res: AnyResponse, clientIp: string): Promise<void>;
}

/** The only procedures the proxy forwards: cove.toolbox.v1 services (Connect GET keeps its query). */
const TOOLBOX_PATH = /^\/cove\.toolbox\.v1\.[A-Za-z][A-Za-z0-9]*\/[A-Za-z][A-Za-z0-9]*(\?.*)?$/;

/**
 * createToolboxForwarder builds the toolbox half of the proxy. A call names its sandbox with
 * header cove-sandbox-id or a /sandbox/<id>/ path prefix and carries
 * "authorization: Bearer <API key or sandbox token>"; the edge authorizes it (access TOOLBOX)
 * and names the runner, and the call is relayed byte for byte to that runner's gateway with
 * the gateway token and the sandbox id, without the caller's credentials, cookies or any other
 * cove-* header. Only cove.toolbox.v1 procedures are forwarded; calls that name no sandbox go
 * to `local`. Streams flow both ways with backpressure, deadlines and cancellation pass
 * through (the runner's forwardCall), and errors reach the caller in its own protocol.
 */
export function createToolboxForwarder(options: ToolboxForwarderOptions): ToolboxForwarder {
  const { edge, sessions, logger } = options;

  return {
    async handle(req, res, clientIp) {
      const protocol = detectProtocol(req.method, String(req.headers["content-type"] ?? ""));
      try {
        const target = targetOf(req);
        if (target.sandboxId === undefined) {
          if (target.toolbox) throw missingSandboxId();
          options.local(req, res);
          return;
        }
        if (!target.toolbox) {
          // Never forwarded: only the toolbox lives behind the runners' gateways.
          answerUnknownMethod(req, res);
          return;
        }
        const credential = bearerCredential(req.headers.authorization, true);
        if (!credential) {
          throw new CoveError(
            "unauthenticated",
            "CREDENTIALS_MISSING",
            'send "authorization: Bearer <API key or sandbox token>" with toolbox calls',
          );
        }
        const route = await edge.resolve({
          sandboxId: target.sandboxId,
          access: "toolbox",
          port: 0,
          credential,
          clientIp,
        });
        stripCredentials(req.headers);
        let lease: Awaited<ReturnType<GatewaySessionPool["acquire"]>>;
        try {
          lease = await sessions.acquire(route.gatewayUrl);
        } catch (err) {
          logger.warn("runner gateway unreachable", {
            sandboxId: route.sandboxId,
            runnerId: route.runnerId,
            err,
          });
          throw new CoveError(
            "unavailable",
            "RUNNER_UNAVAILABLE",
            `sandbox ${route.sandboxId}: the runner that holds it does not answer; try again`,
            { sandboxId: route.sandboxId, runnerId: route.runnerId },
          );
        }
        if (callerGone(req, res)) {
          lease.release();
          return;
        }
        edge.recordActivity(route.sandboxId);
        let upstream: http2.ClientHttp2Stream | undefined;
        let untrack = () => {};
        let closed = false;
        const onClose = () => {
          if (closed) return;
          closed = true;
          lease.release();
          untrack();
          edge.recordActivity(route.sandboxId);
        };
        untrack = options.track({
          sandboxId: route.sandboxId,
          credentialId: route.credentialId,
          runnerId: route.runnerId,
          close: () => {
            if (upstream && !upstream.closed) upstream.close(http2.constants.NGHTTP2_CANCEL);
          },
        });
        const session = sessionWithHeaders(
          lease.session,
          {
            [GATEWAY_TOKEN_HEADER]: options.gatewayToken,
            [SANDBOX_ID_HEADER]: route.sandboxId,
          },
          (stream) => {
            upstream = stream;
          },
        );
        forwardCall({
          req,
          res,
          protocol,
          path: target.path,
          sandboxId: route.sandboxId,
          session,
          onClose,
          logger,
        });
      } catch (err) {
        if (err instanceof CoveError) {
          respondWithError(req, res, protocol, err);
          return;
        }
        logger.error("toolbox call failed", { err, path: req.url });
        respondWithError(
          req,
          res,
          protocol,
          internalRpcError("internal error; the proxy logged the cause"),
        );
      }
    },
  };
}

/** targetOf is where a call goes (sandboxRouteOf) and whether its path is a toolbox procedure. */
function targetOf(req: AnyRequest): {
  sandboxId: string | undefined;
  path: string;
  toolbox: boolean;
} {
  const route = sandboxRouteOf(req.url ?? "/", req.headers);
  return { ...route, toolbox: TOOLBOX_PATH.test(route.path) };
}

/** stripCredentials removes what only the proxy may see: credentials, cookies, cove-* headers. */
function stripCredentials(headers: AnyRequest["headers"]): void {
  for (const name of Object.keys(headers)) {
    if (name === "authorization" || name === "cookie" || name.startsWith("cove-")) {
      delete headers[name];
    }
  }
}

function callerGone(req: AnyRequest, res: AnyResponse): boolean {
  return "stream" in req ? req.stream.closed || req.stream.destroyed : res.destroyed;
}

/**
 * sessionWithHeaders gives forwardCall a session whose request() adds the proxy's headers to
 * the gateway (forwardCall builds the upstream headers itself and strips cove-* credentials)
 * and reports the stream it opened, so that an invalidation can cancel it. forwardCall only
 * ever calls request() on the session it is given.
 */
function sessionWithHeaders(
  session: http2.ClientHttp2Session,
  extra: Record<string, string>,
  opened: (stream: http2.ClientHttp2Stream) => void,
): http2.ClientHttp2Session {
  const facade = {
    request(headers: http2.OutgoingHttpHeaders, options?: http2.ClientSessionRequestOptions) {
      const stream = session.request({ ...headers, ...extra }, options);
      opened(stream);
      return stream;
    },
  };
  return facade as unknown as http2.ClientHttp2Session;
}
