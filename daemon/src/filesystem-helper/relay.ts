/**
 * relayToHelper passes one HTTP/2 call byte for byte to a filesystem helper and its answer back:
 * headers, body both ways with backpressure (HTTP/2 flow control reaches the far end), and
 * trailers (gRPC status). A reset on either side resets the other. Whatever protocol the caller
 * speaks (gRPC, gRPC-Web, Connect), the helper's own Connect handler answers it.
 */
import * as http2 from "node:http2";

const { NGHTTP2_CANCEL, NGHTTP2_INTERNAL_ERROR, NGHTTP2_NO_ERROR, NGHTTP2_FLAG_END_STREAM } =
  http2.constants;

/** Response headers that belong to one hop only. */
const HOP_HEADERS = new Set([":status", "date", "connection", "keep-alive", "transfer-encoding"]);

/** relayToHelper forwards `req` (an HTTP/2 call to the daemon) over `session`; `done` runs once when it ends. */
export function relayToHelper(
  req: http2.Http2ServerRequest,
  session: http2.ClientHttp2Session,
  done: () => void = () => {},
): void {
  const inbound = req.stream;
  const headers: http2.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value === undefined || name === ":authority" || name === ":scheme") continue;
    headers[name] = value;
  }
  let up: http2.ClientHttp2Stream;
  try {
    up = session.request(headers, { endStream: inbound.endAfterHeaders });
  } catch {
    inbound.close(NGHTTP2_INTERNAL_ERROR);
    done();
    return;
  }
  let trailers: http2.OutgoingHttpHeaders | undefined;
  let ended = false;

  if (!inbound.endAfterHeaders) inbound.pipe(up);

  up.on("response", (upHeaders, flags) => {
    if (inbound.closed || inbound.destroyed) return;
    const out: http2.OutgoingHttpHeaders = { ":status": Number(upHeaders[":status"] ?? 200) };
    for (const [name, value] of Object.entries(upHeaders)) {
      if (!HOP_HEADERS.has(name) && !name.startsWith(":")) out[name] = value;
    }
    const endStream = (flags & NGHTTP2_FLAG_END_STREAM) !== 0;
    const contentType = String(upHeaders["content-type"] ?? "");
    const grpc = contentType.startsWith("application/grpc") && !contentType.includes("grpc-web");
    inbound.respond(out, { endStream, waitForTrailers: grpc && !endStream });
    if (endStream) return;
    // The compat response answers wantTrailers with its own (empty) trailers; the helper's
    // are the ones to send.
    inbound.removeAllListeners("wantTrailers");
    inbound.on("wantTrailers", () => {
      const send = () => {
        if (inbound.closed || inbound.destroyed) return;
        inbound.sendTrailers(
          trailers ?? {
            "grpc-status": "13",
            "grpc-message": "the filesystem helper ended the call without a status",
          },
        );
      };
      if (trailers || up.closed) send();
      else up.once("trailers", () => process.nextTick(send)).once("close", send);
    });
    up.pipe(inbound);
  });

  up.on("trailers", (upTrailers) => {
    trailers = {};
    for (const [name, value] of Object.entries(upTrailers)) {
      if (!name.startsWith(":")) trailers[name] = value as string | string[];
    }
  });
  up.on("end", () => {
    ended = true;
  });
  up.on("error", () => {});
  inbound.on("error", () => {});

  up.on("close", () => {
    done();
    if (ended && up.rstCode === NGHTTP2_NO_ERROR) return;
    // The helper reset the call or died: the caller learns it from its own stream's reset.
    if (!inbound.closed && !inbound.destroyed) {
      const code =
        up.rstCode === undefined || up.rstCode === NGHTTP2_NO_ERROR
          ? NGHTTP2_INTERNAL_ERROR
          : up.rstCode;
      inbound.close(code);
    }
  });
  inbound.on("close", () => {
    if (!up.closed && !up.destroyed) up.close(NGHTTP2_CANCEL);
  });
}
