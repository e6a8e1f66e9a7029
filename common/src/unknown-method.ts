import { Code, ConnectError } from "@connectrpc/connect";
import type { connectNodeAdapter } from "@connectrpc/connect-node";
import { type AnyResponse, detectProtocol, respondWithError } from "./rpc-errors.js";

type Fallback = NonNullable<Parameters<typeof connectNodeAdapter>[0]["fallback"]>;
type NodeServerRequest = Parameters<Fallback>[0];
type NodeServerResponse = Parameters<Fallback>[1];

/**
 * answerUnknownMethod is the fallback for any path no service claims. Each protocol gets its own
 * spelling of "unimplemented" (respondWithError): gRPC a trailers-only response with
 * grpc-status 12, gRPC-Web the same in headers, Connect (and anything else) HTTP 404 with a
 * Connect error body.
 */
export function answerUnknownMethod(req: NodeServerRequest, res: NodeServerResponse): void {
  const path = (req.url ?? "/").split("?")[0] ?? "/";
  const error = new ConnectError(
    `unknown method ${path}: this server does not implement it`,
    Code.Unimplemented,
  );
  const protocol = detectProtocol(req.method, String(req.headers["content-type"] ?? ""));
  const grpc = protocol === "grpc" || protocol === "grpc-web";
  // connect-node's response type differs from node's only in write()'s callback type.
  const response = res as unknown as AnyResponse;
  respondWithError(req, response, grpc ? protocol : "connect-unary", error, { httpStatus: 404 });
}
