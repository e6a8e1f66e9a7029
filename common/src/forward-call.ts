import type * as http from "node:http";
import * as http2 from "node:http2";
import { CoveError } from "./errors.js";
import { deadlineMs, downstreamHeaders, upstreamRequestHeaders } from "./forward-headers.js";
import type { Logger } from "./logger.js";
import {
  type AnyRequest,
  type AnyResponse,
  type RpcProtocol,
  respondWithError,
} from "./rpc-errors.js";

const {
  NGHTTP2_CANCEL,
  NGHTTP2_INTERNAL_ERROR,
  NGHTTP2_NO_ERROR,
  NGHTTP2_REFUSED_STREAM,
  NGHTTP2_FLAG_END_STREAM,
  HTTP2_HEADER_STATUS,
} = http2.constants;

/** After a call's own deadline, how long the daemon gets to answer DEADLINE_EXCEEDED itself. */
const DEADLINE_GRACE_MS = 2_000;

/** One call to forward: the caller's request and response, and where it goes. */
export interface ForwardedCall {
  /** The caller's request (HTTP/2 compat or HTTP/1.1). */
  req: AnyRequest;
  /** The caller's response. */
  res: AnyResponse;
  /** The protocol the caller speaks, for errors the relay answers itself. */
  protocol: RpcProtocol;
  /** The path to call on the next hop (the sandbox prefix removed), with its query. */
  path: string;
  /** The sandbox, for messages and logs. */
  sandboxId: string;
  /** The HTTP/2 session to the next hop: the sandbox's daemon, or the runner's gateway. */
  session: http2.ClientHttp2Session;
  /** Called once when the daemon-side stream is gone (to release the session and slot). */
  onClose: () => void;
  /** Logger for this relay. */
  logger: Logger;
}

/**
 * forwardCall relays one call to the next hop (the runner's gateway relays to a daemon, the
 * proxy to a gateway; "daemon" below means that hop) as one HTTP/2 stream, without buffering messages:
 * request bytes are piped into the daemon stream and response bytes back out, each with
 * backpressure (a slow reader pauses the writer, and HTTP/2 flow control pushes back to the
 * far end). Response headers and trailers are copied (gRPC status lives in trailers; a
 * trailers-only answer stays one HEADERS frame). A cancel on either side resets the other:
 * the caller going away sends RST_STREAM(CANCEL) to the daemon, a daemon reset resets the
 * caller's stream (HTTP/2) or connection (HTTP/1.1). The call's deadline is passed on in its
 * headers, and the gateway also cuts a call that outlives it by more than a grace period.
 */
export function forwardCall(call: ForwardedCall): void {
  const { req, res, session } = call;
  const inbound = "stream" in req ? req.stream : undefined;
  const method = req.method ?? "POST";
  const headers = upstreamRequestHeaders(req.headers, method, call.path);
  // A request whose headers ended the stream (GET, or an HTTP/2 call with no body) has
  // nothing to pipe; the daemon must see the end at once.
  const noBody = inbound ? inbound.endAfterHeaders : method === "GET" || method === "HEAD";
  let up: http2.ClientHttp2Stream;
  try {
    up = session.request(headers, { endStream: noBody });
  } catch (err) {
    call.onClose();
    throw daemonUnavailable(call.sandboxId, err);
  }

  let responded = false;
  let upEnded = false;
  let trailers: Record<string, string | string[]> | undefined;
  let deadlineTimer: NodeJS.Timeout | undefined;

  const timeout = deadlineMs(req.headers);
  if (timeout !== undefined) {
    deadlineTimer = setTimeout(() => {
      call.logger.warn("call outlived its deadline; cut by the gateway", {
        sandboxId: call.sandboxId,
        path: call.path,
      });
      const err = new CoveError(
        "deadlineExceeded",
        "COMMAND_DEADLINE_EXCEEDED",
        `sandbox ${call.sandboxId}: the daemon did not answer within the call's deadline`,
        { sandboxId: call.sandboxId },
      );
      if (!responded) {
        responded = true;
        respondWithError(req, res, call.protocol, err);
      } else {
        cutCaller();
      }
      up.close(NGHTTP2_CANCEL);
    }, timeout + DEADLINE_GRACE_MS);
    deadlineTimer.unref();
  }

  const cutCaller = (code: number = NGHTTP2_CANCEL) => {
    if (inbound) {
      if (!inbound.closed) inbound.close(code);
    } else if (!res.writableFinished) {
      res.destroy();
    }
  };

  // Request body: caller → daemon. end() on the caller's half-close reaches the daemon as
  // END_STREAM, which client-streaming and bidi calls need.
  if (!noBody) (inbound ?? (req as http.IncomingMessage)).pipe(up);

  up.on("response", (upHeaders, flags) => {
    responded = true;
    const status = Number(upHeaders[HTTP2_HEADER_STATUS] ?? 200);
    const out = downstreamHeaders(upHeaders);
    const endStream = (flags & NGHTTP2_FLAG_END_STREAM) !== 0;
    if (inbound) {
      if (inbound.closed || inbound.destroyed) return;
      const contentType = String(upHeaders["content-type"] ?? "");
      const grpc = contentType.startsWith("application/grpc") && !contentType.includes("grpc-web");
      inbound.respond(
        { ":status": status, ...out },
        { endStream, waitForTrailers: grpc && !endStream },
      );
      if (endStream) return;
      // The compat response object answers wantTrailers with its own (empty) trailers; the
      // daemon's trailers are the ones to send, so take the event over.
      inbound.removeAllListeners("wantTrailers");
      inbound.on("wantTrailers", () => sendTrailersWhenKnown(inbound));
      up.pipe(inbound);
      return;
    }
    const h1 = res as http.ServerResponse;
    if (h1.destroyed) return;
    h1.writeHead(status, out);
    if (endStream) {
      h1.end();
      return;
    }
    up.pipe(h1);
  });

  up.on("trailers", (upTrailers) => {
    trailers = downstreamHeaders(upTrailers);
    // HTTP/1.1 carries trailers only with chunked encoding (gRPC-Web and Connect put their
    // status in the body, so this is for plain HTTP calls only).
    const h1 = inbound ? undefined : (res as http.ServerResponse);
    if (h1 && !h1.getHeader("content-length") && Object.keys(trailers).length > 0) {
      h1.addTrailers(trailers as Record<string, string>);
    }
  });

  const sendTrailersWhenKnown = (stream: http2.ServerHttp2Stream) => {
    let sent = false;
    const send = () => {
      if (sent || stream.closed || stream.destroyed) return;
      sent = true;
      stream.sendTrailers(
        trailers ?? {
          // The daemon ended a gRPC response without a status: a protocol violation.
          "grpc-status": "13",
          "grpc-message": "the daemon ended the call without a status",
        },
      );
    };
    if (trailers || up.closed) send();
    else up.once("trailers", () => process.nextTick(send)).once("close", send);
  };

  up.on("end", () => {
    upEnded = true;
  });
  up.on("error", (err) => {
    call.logger.debug("daemon stream failed", { sandboxId: call.sandboxId, err });
  });
  up.on("close", () => {
    if (deadlineTimer) clearTimeout(deadlineTimer);
    call.onClose();
    const normal = upEnded && up.rstCode === NGHTTP2_NO_ERROR;
    if (normal) return;
    const callerGone = inbound ? inbound.closed || inbound.destroyed : res.destroyed;
    if (!responded && !callerGone) {
      // Nothing reached the caller yet, so it can still be told why, in its protocol.
      responded = true;
      const refused = up.rstCode === NGHTTP2_REFUSED_STREAM;
      respondWithError(
        req,
        res,
        call.protocol,
        daemonUnavailable(
          call.sandboxId,
          refused ? "the daemon refused the call" : "the daemon connection closed",
        ),
      );
      return;
    }
    // The daemon's own reset code (INTERNAL_ERROR, CANCEL …) tells the caller what happened;
    // a connection that simply died becomes INTERNAL_ERROR, never a misleading CANCEL.
    const code =
      up.rstCode === NGHTTP2_NO_ERROR || up.rstCode === undefined
        ? NGHTTP2_INTERNAL_ERROR
        : up.rstCode;
    if (!upEnded && !callerGone) cutCaller(code);
  });

  // Caller → daemon cancellation: the caller resetting its stream or dropping its connection.
  const onCallerGone = () => {
    if (!up.closed && !up.destroyed) up.close(NGHTTP2_CANCEL);
  };
  if (inbound) {
    inbound.on("close", onCallerGone);
    inbound.on("error", () => {});
  } else {
    res.on("close", () => {
      if (!res.writableFinished) onCallerGone();
    });
    req.on("error", () => {});
  }
}

/** daemonUnavailable is the UNAVAILABLE error for a daemon that cannot be reached. */
export function daemonUnavailable(sandboxId: string, cause: unknown): CoveError {
  // Name the failure (ENOENT, ECONNREFUSED …) but never the host path of the socket.
  const code = (cause as NodeJS.ErrnoException | undefined)?.code;
  const detail = code ?? (cause instanceof Error ? cause.message : String(cause));
  return new CoveError(
    "unavailable",
    "DAEMON_UNAVAILABLE",
    `sandbox ${sandboxId}: DAEMON_UNAVAILABLE: its daemon does not answer (${detail})`,
    { sandboxId },
  );
}
