import type * as http from "node:http";
import * as http2 from "node:http2";
import { create } from "@bufbuild/protobuf";
import { Code, ConnectError } from "@connectrpc/connect";
import { encodeEnvelope } from "@connectrpc/connect/protocol";
import {
  codeToHttpStatus,
  endStreamFlag,
  endStreamToJson,
  errorToJson,
} from "@connectrpc/connect/protocol-connect";
import { setTrailerStatus } from "@connectrpc/connect/protocol-grpc";
import { ErrorInfoSchema } from "@cove/gen-ts/google/rpc/error_details_pb.js";
import { connectErrorOf, ERROR_DOMAIN } from "./error-interceptor.js";
import { CoveError } from "./errors.js";

/** The RPC protocols a relay tells apart, by content type and method. */
export type RpcProtocol = "grpc" | "grpc-web" | "connect-unary" | "connect-stream";

/** A request as either HTTP/2 (compat API) or HTTP/1.1 object. */
export type AnyRequest = http.IncomingMessage | http2.Http2ServerRequest;
/** The response half of AnyRequest. */
export type AnyResponse = http.ServerResponse | http2.Http2ServerResponse;

/** detectProtocol tells which RPC protocol a request speaks from its method and content type. */
export function detectProtocol(method: string | undefined, contentType: string): RpcProtocol {
  if (contentType.startsWith("application/grpc-web")) return "grpc-web";
  if (contentType.startsWith("application/grpc")) return "grpc";
  if (method === "POST" && contentType.startsWith("application/connect+")) return "connect-stream";
  return "connect-unary";
}

/**
 * internalRpcError is the INTERNAL answer (reason INTERNAL) for a failure a relay cannot
 * explain; the message says where the cause was logged.
 */
export function internalRpcError(message: string): ConnectError {
  return new ConnectError(message, Code.Internal, undefined, [
    {
      desc: ErrorInfoSchema,
      value: create(ErrorInfoSchema, { reason: "INTERNAL", domain: ERROR_DOMAIN }),
    },
  ]);
}

/** Options for respondWithError. */
export interface RespondOptions {
  /** The HTTP status of a Connect unary error instead of the code's own (e.g. 404 for an unknown method). */
  httpStatus?: number;
}

/**
 * connectHttpStatus is the HTTP status a unary Connect error travels with: Connect's table,
 * except FAILED_PRECONDITION, which is 412 (Connect says 400; 412 names the situation better
 * and every Connect client reads the code from the JSON body).
 */
function connectHttpStatus(code: Code): number {
  return code === Code.FailedPrecondition ? 412 : codeToHttpStatus(code);
}

/**
 * respondWithError answers a call in its own protocol, spelled by Connect-ES's own protocol
 * helpers: gRPC gets a trailers-only response (one HEADERS frame ending the stream), gRPC-Web
 * the status in the headers, Connect unary an HTTP error status with a JSON body {code,
 * message, details}, and Connect streaming HTTP 200 with one end-stream message carrying the
 * error. A CoveError carries its google.rpc.ErrorInfo (and BadRequest). The request body is
 * drained, not read; a call whose response has begun is cut instead.
 */
export function respondWithError(
  req: AnyRequest,
  res: AnyResponse,
  protocol: RpcProtocol,
  err: CoveError | ConnectError,
  options: RespondOptions = {},
): void {
  req.resume();
  const error = err instanceof CoveError ? connectErrorOf(err) : err;
  const contentType = String(req.headers["content-type"] ?? "");
  const stream = "stream" in res ? res.stream : undefined;
  if (stream && (stream.destroyed || stream.headersSent)) {
    stream.close(http2.constants.NGHTTP2_CANCEL);
    return;
  }
  if (!stream && res.headersSent) {
    res.destroy();
    return;
  }
  let status = 200;
  const headers: Record<string, string | number> = {};
  let body: Uint8Array | undefined;
  switch (protocol) {
    case "grpc":
    case "grpc-web": {
      headers["content-type"] =
        protocol === "grpc" ? "application/grpc" : (contentType.split(";")[0] ?? "");
      setTrailerStatus(new Headers(), error).forEach((value, name) => {
        headers[name] = value;
      });
      // Connect-ES spells grpc-message with encodeURIComponent; grpc-js decodes with decodeURI,
      // which leaves "/" and ":" encoded. The gRPC spec's own encoding reads right in both.
      headers["grpc-message"] = percentEncodeGrpcMessage(error.rawMessage);
      break;
    }
    case "connect-stream": {
      const json = JSON.stringify(endStreamToJson(new Headers(), error, undefined));
      body = encodeEnvelope(endStreamFlag, new TextEncoder().encode(json));
      headers["content-type"] = contentType.split(";")[0] ?? "application/connect+proto";
      break;
    }
    case "connect-unary":
      status = options.httpStatus ?? connectHttpStatus(error.code);
      body = new TextEncoder().encode(JSON.stringify(errorToJson(error, undefined)));
      headers["content-type"] = "application/json";
      break;
  }
  if (body) headers["content-length"] = body.length;
  if (stream) {
    // HTTP/2: answer on the stream directly, so a bodiless answer is exactly one HEADERS frame.
    stream.respond({ ":status": status, ...headers }, { endStream: body === undefined });
    if (body) stream.end(body);
    return;
  }
  (res as http.ServerResponse).writeHead(status, headers);
  (res as http.ServerResponse).end(body);
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
