import type * as http2 from "node:http2";
import type { connectNodeAdapter } from "@connectrpc/connect-node";

type Fallback = NonNullable<Parameters<typeof connectNodeAdapter>[0]["fallback"]>;
type NodeServerRequest = Parameters<Fallback>[0];
type NodeServerResponse = Parameters<Fallback>[1];

/** Status codes from the gRPC spec used by the fallback (12 = UNIMPLEMENTED). */
const GRPC_UNIMPLEMENTED = "12";

/**
 * answerUnknownMethod is the fallback for any path no service claims. Each protocol gets its own
 * spelling of "unimplemented": gRPC a trailers-only response with grpc-status 12, gRPC-Web the
 * same in headers, Connect (and anything else) HTTP 404 with a Connect error body.
 */
export function answerUnknownMethod(req: NodeServerRequest, res: NodeServerResponse): void {
  const path = (req.url ?? "/").split("?")[0] ?? "/";
  const message = `unknown method ${path}: this server does not implement it`;
  const contentType = String(req.headers["content-type"] ?? "");
  req.resume();
  if (contentType.startsWith("application/grpc")) {
    const headers = {
      ":status": 200,
      "content-type": contentType.startsWith("application/grpc-web")
        ? contentType.split(";")[0]
        : "application/grpc",
      "grpc-status": GRPC_UNIMPLEMENTED,
      "grpc-message": percentEncodeGrpcMessage(message),
    };
    const stream = (res as Partial<http2.Http2ServerResponse>).stream;
    if (stream && !contentType.startsWith("application/grpc-web")) {
      // HTTP/2 gRPC: a trailers-only response is one HEADERS frame that ends the stream.
      stream.respond(headers, { endStream: true });
      return;
    }
    const { ":status": _status, ...plain } = headers;
    res.writeHead(200, plain);
    res.end();
    return;
  }
  const body = JSON.stringify({ code: "unimplemented", message });
  res.writeHead(404, {
    "content-type": "application/json",
    "content-length": Buffer.byteLength(body),
  });
  res.end(body);
}

/** percentEncodeGrpcMessage encodes what the gRPC spec asks: '%' and bytes outside 0x20–0x7E. */
export function percentEncodeGrpcMessage(message: string): string {
  let out = "";
  for (const byte of Buffer.from(message, "utf8")) {
    out +=
      byte < 0x20 || byte > 0x7e || byte === 0x25
        ? `%${byte.toString(16).toUpperCase().padStart(2, "0")}`
        : String.fromCharCode(byte);
  }
  return out;
}
