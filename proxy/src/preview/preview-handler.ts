import * as http from "node:http";
import type * as http2 from "node:http2";
import type * as net from "node:net";
import type { Duplex } from "node:stream";
import { CoveError, type Logger } from "@cove/common";
import type { Route, RouteResolver } from "../domain/routes.js";
import type { TrackConnection } from "../toolbox/toolbox-forwarder.js";
import {
  clearedPreviewCookie,
  downstreamHeaders,
  type PreviewCredential,
  previewCookie,
  previewCredential,
  upstreamHeaders,
} from "./preview-headers.js";
import type { PreviewTarget } from "./preview-target.js";
import type { TunnelDialer } from "./tunnel-socket.js";

type AnyRequest = http.IncomingMessage | http2.Http2ServerRequest;
type AnyResponse = http.ServerResponse | http2.Http2ServerResponse;

/** Options for createPreviewHandler. */
export interface PreviewHandlerOptions {
  /** Answers who may reach which sandbox port, and where it runs. */
  edge: RouteResolver;
  /** Opens byte streams to sandbox ports through their daemons. */
  dialer: TunnelDialer;
  /** Registers open requests and WebSockets so that invalidations can cut them. */
  track: TrackConnection;
  /** Whether callers reach the proxy over TLS (cookies get Secure, X-Forwarded-Proto https). */
  secure: boolean;
  /** Tells whether an Origin is a preview host of a given sandbox. */
  previewHost: (authority: string) => { sandboxId: string; port: number } | undefined;
  /** Where the handler logs. */
  logger: Logger;
}

/** Serves preview traffic: plain HTTP requests and WebSocket upgrades. */
export interface PreviewHandler {
  /** handleRequest relays one HTTP request to the app (or refuses it with a clear page). */
  handleRequest(
    req: AnyRequest,
    res: AnyResponse,
    target: PreviewTarget,
    clientIp: string,
  ): Promise<void>;
  /** handleUpgrade relays a WebSocket handshake and then bytes both ways. */
  handleUpgrade(
    req: http.IncomingMessage,
    socket: Duplex,
    head: Buffer,
    target: PreviewTarget,
    clientIp: string,
  ): Promise<void>;
}

/** Methods that carry no body unless the caller framed one. */
const BODILESS_METHODS = new Set(["GET", "HEAD", "DELETE", "OPTIONS", "TRACE"]);

/** How often a busy WebSocket refreshes its sandbox's activity. */
const ACTIVITY_EVERY_MS = 1_000;

/**
 * createPreviewHandler builds the preview half of the proxy. Every request is authorized by
 * the edge (access PREVIEW: nothing for public sandboxes; otherwise a preview token in header
 * cove-preview-token or the proxy's cookie, a signed URL's token, or a Cove bearer secret). A
 * signed URL is answered with a redirect to the same URL without its token, setting a
 * host-only HttpOnly SameSite=Lax cookie. The request then travels as HTTP/1.1 bytes over a
 * PortService tunnel to the port inside the sandbox, without any Cove credential; the app's
 * response comes back the same way. Nothing here ever connects to an address a request names.
 */
export function createPreviewHandler(options: PreviewHandlerOptions): PreviewHandler {
  const { edge, dialer, logger } = options;
  const proto = options.secure ? "https" : "http";

  /** authorize runs the checks shared by requests and upgrades; it throws a CoveError. */
  const authorize = async (
    headers: AnyRequest["headers"],
    target: PreviewTarget,
    clientIp: string,
  ): Promise<{ route: Route; found: PreviewCredential }> => {
    const found = previewCredential(headers, target);
    if (found.source === "cookie") checkOrigin(headers, target, options.previewHost);
    const route = await edge.resolve({
      sandboxId: target.sandboxId,
      access: "preview",
      port: target.port,
      credential: found.credential,
      clientIp,
    });
    if (route.allowedPort !== 0 && route.allowedPort !== target.port) {
      throw new CoveError(
        "permissionDenied",
        "PERMISSION_DENIED",
        `this preview token opens port ${route.allowedPort} of sandbox ${target.sandboxId}, not port ${target.port}`,
        { port: String(target.port), allowedPort: String(route.allowedPort) },
      );
    }
    return { route, found };
  };

  const refuse = (
    req: AnyRequest,
    res: AnyResponse,
    target: PreviewTarget,
    err: unknown,
    source: PreviewCredential["source"] | undefined,
  ) => {
    const error = asPreviewError(err, target, logger);
    const page = errorPage(error, target, String(req.headers.accept ?? ""));
    const headers: http.OutgoingHttpHeaders = {
      "content-type": page.contentType,
      "content-length": page.body.length,
      "cache-control": "no-store",
    };
    if (source === "cookie" && error.code === "unauthenticated") {
      headers["set-cookie"] = clearedPreviewCookie(target, options.secure);
    }
    if (res.headersSent) {
      res.destroy();
      return;
    }
    req.resume();
    send(res, page.status, headers, req.method === "HEAD" ? undefined : page.body);
  };

  return {
    async handleRequest(req, res, target, clientIp) {
      // Known before authorizing, so a refused cookie can be cleared.
      const source = previewCredential(req.headers, target).source;
      try {
        const { route, found } = await authorize(req.headers, target, clientIp);
        if (found.source === "signedUrl" && (req.method === "GET" || req.method === "HEAD")) {
          // Trade the URL's token for a cookie on exactly this host, and drop it from the URL
          // so it stays out of history, logs and Referer headers.
          req.resume();
          send(res, 302, {
            location: `${target.mount}${found.path}` || "/",
            "set-cookie": previewCookie(
              (found.credential as { secret: string }).secret,
              target,
              options.secure,
            ),
            "cache-control": "no-store",
            "content-length": 0,
          });
          return;
        }
        const tunnel = await dialer.open(route, target.port);
        if (res.destroyed || res.writableEnded) {
          tunnel.destroy();
          return;
        }
        relayRequest(req, res, target, found.path, tunnel, route, clientIp);
      } catch (err) {
        refuse(req, res, target, err, source);
      }
    },

    async handleUpgrade(req, socket, head, target, clientIp) {
      socket.on("error", () => {});
      let tunnel: Duplex | undefined;
      try {
        if (String(req.headers.upgrade ?? "").toLowerCase() !== "websocket") {
          throw new CoveError(
            "invalidArgument",
            "INVALID_FIELD",
            "only WebSocket upgrades are supported",
            {
              field: "upgrade",
            },
          );
        }
        const { route, found } = await authorize(req.headers, target, clientIp);
        tunnel = await dialer.open(route, target.port);
        if (socket.destroyed) {
          tunnel.destroy();
          return;
        }
        const lines = [`${req.method ?? "GET"} ${found.path} HTTP/1.1`];
        for (const [name, value] of upstreamHeaders(req.headers, target, {
          clientIp,
          proto,
          websocket: true,
        })) {
          lines.push(`${name}: ${value}`);
        }
        tunnel.write(`${lines.join("\r\n")}\r\n\r\n`);
        if (head.length > 0) tunnel.write(head);
        const open = tunnel;
        edge.recordActivity(route.sandboxId);
        let last = Date.now();
        const touch = () => {
          const now = Date.now();
          if (now - last < ACTIVITY_EVERY_MS) return;
          last = now;
          edge.recordActivity(route.sandboxId);
        };
        const untrack = options.track({
          sandboxId: route.sandboxId,
          credentialId: route.credentialId,
          runnerId: route.runnerId,
          close: () => {
            open.destroy();
            socket.destroy();
          },
        });
        open.on("data", touch);
        socket.on("data", touch);
        const done = () => {
          untrack();
          open.destroy();
          socket.destroy();
        };
        open.on("error", done).on("close", done);
        socket.on("close", done);
        socket.pipe(open);
        open.pipe(socket);
      } catch (err) {
        tunnel?.destroy();
        const error = asPreviewError(err, target, logger);
        const page = errorPage(error, target, "application/json");
        if (!socket.destroyed) {
          socket.end(
            `HTTP/1.1 ${page.status} ${http.STATUS_CODES[page.status] ?? "Error"}\r\n` +
              `content-type: ${page.contentType}\r\ncontent-length: ${page.body.length}\r\n` +
              `cache-control: no-store\r\nconnection: close\r\n\r\n${page.body.toString()}`,
          );
        }
      }
    },
  };

  function relayRequest(
    req: AnyRequest,
    res: AnyResponse,
    target: PreviewTarget,
    path: string,
    tunnel: Duplex,
    route: Route,
    clientIp: string,
  ) {
    const headers = upstreamHeaders(req.headers, target, { clientIp, proto, websocket: false });
    // The body is framed afresh for the app: Content-Length when the caller sent one, else
    // chunked when there is a body at all (whatever framing the caller used, HTTP/1.1 or 2).
    const method = req.method ?? "GET";
    const hasLength = req.headers["content-length"] !== undefined;
    const chunked =
      !hasLength &&
      ("stream" in req
        ? !req.stream.endAfterHeaders
        : req.headers["transfer-encoding"] !== undefined);
    const noBody = !hasLength && !chunked;
    if (chunked) headers.push(["transfer-encoding", "chunked"]);
    if (noBody && !BODILESS_METHODS.has(method)) headers.push(["content-length", "0"]);
    const untrack = options.track({
      sandboxId: route.sandboxId,
      credentialId: route.credentialId,
      runnerId: route.runnerId,
      close: () => {
        tunnel.destroy();
        res.destroy();
      },
    });
    edge.recordActivity(route.sandboxId);
    const upstream = http.request({
      method,
      path,
      headers: headers.flat(),
      setHost: false,
      createConnection: () => tunnel as net.Socket,
    });
    upstream.on("response", (answer) => {
      if (res.destroyed) {
        answer.destroy();
        return;
      }
      res.writeHead(answer.statusCode ?? 502, downstreamHeaders(answer.headers));
      answer.pipe(res as http.ServerResponse);
      answer.on("error", () => res.destroy());
    });
    upstream.on("error", (err) => {
      if (!res.headersSent && !res.destroyed) {
        refuse(
          req,
          res,
          target,
          new CoveError(
            "unavailable",
            "PORT_CLOSED",
            `the app on port ${target.port} in sandbox ${target.sandboxId} closed the connection without answering`,
            { sandboxId: target.sandboxId, port: String(target.port) },
          ),
          undefined,
        );
      } else {
        res.destroy();
      }
      logger.debug("preview request failed", { sandboxId: target.sandboxId, err });
    });
    res.on("close", () => {
      untrack();
      edge.recordActivity(route.sandboxId);
      if (!res.writableFinished) {
        upstream.destroy();
        tunnel.destroy();
      }
    });
    if (noBody) {
      req.resume();
      upstream.end();
      return;
    }
    req.pipe(upstream);
  }
}

/** send writes a whole response on either HTTP version. */
function send(
  res: AnyResponse,
  status: number,
  headers: http.OutgoingHttpHeaders,
  body?: Buffer,
): void {
  const one = res as http.ServerResponse;
  one.writeHead(status, headers);
  one.end(body);
}

/**
 * checkOrigin refuses cookie-authorized requests that a page of another site (or another
 * sandbox) sent: when the browser names an Origin, it must be this host or a preview host of
 * the same sandbox (a front end on one port calling its API on another).
 */
function checkOrigin(
  headers: AnyRequest["headers"],
  target: PreviewTarget,
  previewHost: PreviewHandlerOptions["previewHost"],
): void {
  const origin = headers.origin;
  if (typeof origin !== "string") return;
  let host: string | undefined;
  try {
    host = new URL(origin).host;
  } catch {
    host = undefined;
  }
  if (host !== undefined) {
    if (host.toLowerCase() === target.authority.toLowerCase()) return;
    if (previewHost(host)?.sandboxId === target.sandboxId) return;
  }
  throw new CoveError(
    "permissionDenied",
    "PERMISSION_DENIED",
    `requests from origin ${origin} may not use this preview's cookie; send header cove-preview-token instead`,
    { sandboxId: target.sandboxId },
  );
}

function asPreviewError(err: unknown, target: PreviewTarget, logger: Logger): CoveError {
  if (err instanceof CoveError) {
    if (err.code === "unauthenticated" && err.reason === "CREDENTIALS_MISSING") {
      return new CoveError(
        "unauthenticated",
        "CREDENTIALS_MISSING",
        `sandbox ${target.sandboxId} is private: send its preview token in header cove-preview-token, or open a signed preview URL (SandboxService.CreatePreviewUrl)`,
        err.metadata,
      );
    }
    return err;
  }
  logger.error("preview request failed", { err, sandboxId: target.sandboxId });
  return new CoveError("unavailable", "INTERNAL", "internal error; the proxy logged the cause");
}

const statusOf: Record<string, number> = {
  invalidArgument: 400,
  unauthenticated: 401,
  permissionDenied: 403,
  notFound: 404,
  resourceExhausted: 429,
  failedPrecondition: 503,
  unavailable: 503,
};

/** errorPage renders a refusal as JSON, or as a small HTML page for browsers. */
function errorPage(
  err: CoveError,
  target: PreviewTarget,
  accept: string,
): { status: number; contentType: string; body: Buffer } {
  const status = err.reason === "PORT_CLOSED" ? 502 : (statusOf[err.code] ?? 502);
  const json = {
    code: err.code,
    reason: err.reason,
    message: err.message,
    sandboxId: target.sandboxId,
    port: target.port,
  };
  if (!accept.includes("text/html")) {
    return {
      status,
      contentType: "application/json",
      body: Buffer.from(JSON.stringify(json)),
    };
  }
  const title =
    err.reason === "PORT_CLOSED" ? "Nothing is listening on this port" : "Preview unavailable";
  const html =
    `<!doctype html><html><head><meta charset="utf-8"><title>${escapeHtml(title)}</title></head>` +
    `<body style="font-family:system-ui,sans-serif;max-width:40rem;margin:4rem auto">` +
    `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(err.message)}</p>` +
    `<p><small>${status} · ${escapeHtml(err.reason)} · sandbox ${escapeHtml(target.sandboxId)} · port ${target.port}</small></p>` +
    `</body></html>`;
  return { status, contentType: "text/html; charset=utf-8", body: Buffer.from(html) };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
