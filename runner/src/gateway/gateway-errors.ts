import type * as http from "node:http";
import * as http2 from "node:http2";
import { create, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import type { ErrorReasonName } from "@cove/common";
import { ERROR_DOMAIN, percentEncodeGrpcMessage } from "@cove/common";
import { ErrorInfoSchema } from "@cove/gen-ts/google/rpc/error_details_pb.js";
import { StatusSchema } from "@cove/gen-ts/google/rpc/status_pb.js";

/** The RPC protocols the gateway tells apart, by content type and method. */
export type RpcProtocol = "grpc" | "grpc-web" | "connect-unary" | "connect-stream";

/** gRPC status codes the gateway answers with itself (the rest come from the daemon). */
export const GrpcCode = {
  invalidArgument: 3,
  deadlineExceeded: 4,
  notFound: 5,
  resourceExhausted: 8,
  failedPrecondition: 9,
  internal: 13,
  unavailable: 14,
  unauthenticated: 16,
} as const;

/** The name of one of the codes in GrpcCode, which is also its Connect spelling in camel case. */
export type GatewayCode = keyof typeof GrpcCode;

/** Connect's wire names of the codes and the HTTP status a unary Connect error travels with. */
const connectSpelling: Record<GatewayCode, { name: string; status: number }> = {
  invalidArgument: { name: "invalid_argument", status: 400 },
  deadlineExceeded: { name: "deadline_exceeded", status: 504 },
  notFound: { name: "not_found", status: 404 },
  resourceExhausted: { name: "resource_exhausted", status: 429 },
  // Connect's own table says 400; 412 names the situation better and every Connect client
  // reads the code from the JSON body, so the status is only a hint for plain HTTP tools.
  failedPrecondition: { name: "failed_precondition", status: 412 },
  internal: { name: "internal", status: 500 },
  unavailable: { name: "unavailable", status: 503 },
  unauthenticated: { name: "unauthenticated", status: 401 },
};

/** GatewayError is an error the gateway answers itself, before or instead of the daemon. */
export class GatewayError extends Error {
  constructor(
    /** The status code the caller sees. */
    readonly code: GatewayCode,
    /** The ErrorReason carried in google.rpc.ErrorInfo (domain cove.dev). */
    readonly reason: ErrorReasonName,
    message: string,
    /** ErrorInfo metadata, e.g. { sandboxId }. */
    readonly metadata: Record<string, string> = {},
  ) {
    super(message);
    this.name = "GatewayError";
  }
}

/** detectProtocol tells which RPC protocol a request speaks from its method and content type. */
export function detectProtocol(method: string | undefined, contentType: string): RpcProtocol {
  if (contentType.startsWith("application/grpc-web")) return "grpc-web";
  if (contentType.startsWith("application/grpc")) return "grpc";
  if (method === "POST" && contentType.startsWith("application/connect+")) return "connect-stream";
  return "connect-unary";
}

function errorInfo(err: GatewayError) {
  return create(ErrorInfoSchema, {
    reason: err.reason,
    domain: ERROR_DOMAIN,
    metadata: err.metadata,
  });
}

/** grpcErrorHeaders spells an error as gRPC status fields, details included. */
export function grpcErrorHeaders(err: GatewayError): Record<string, string> {
  const status = create(StatusSchema, {
    code: GrpcCode[err.code],
    message: err.message,
    details: [anyPack(ErrorInfoSchema, errorInfo(err))],
  });
  return {
    "grpc-status": String(GrpcCode[err.code]),
    "grpc-message": percentEncodeGrpcMessage(err.message),
    "grpc-status-details-bin": Buffer.from(toBinary(StatusSchema, status)).toString("base64"),
  };
}

/** connectErrorJson spells an error as a Connect error object (unary body, end-stream error). */
export function connectErrorJson(err: GatewayError) {
  return {
    code: connectSpelling[err.code].name,
    message: err.message,
    details: [
      {
        type: ErrorInfoSchema.typeName,
        value: Buffer.from(toBinary(ErrorInfoSchema, errorInfo(err)))
          .toString("base64")
          .replace(/=+$/, ""),
      },
    ],
  };
}

/** A request and its response as either HTTP/2 (compat API) or HTTP/1.1 objects. */
export type AnyRequest = http.IncomingMessage | http2.Http2ServerRequest;
/** The response half of AnyRequest. */
export type AnyResponse = http.ServerResponse | http2.Http2ServerResponse;

/**
 * respondWithError answers a call in its own protocol: gRPC gets a trailers-only response
 * (one HEADERS frame ending the stream), gRPC-Web the status in the headers, Connect unary an
 * HTTP error status with a JSON body {code, message, details}, and Connect streaming HTTP 200
 * with one end-stream message carrying the error. The request body is drained, not read.
 */
export function respondWithError(
  req: AnyRequest,
  res: AnyResponse,
  protocol: RpcProtocol,
  err: GatewayError,
): void {
  req.resume();
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
  let headers: Record<string, string | number>;
  let body: Buffer | undefined;
  switch (protocol) {
    case "grpc":
    case "grpc-web":
      headers = {
        "content-type": protocol === "grpc" ? "application/grpc" : "application/grpc-web+proto",
        ...grpcErrorHeaders(err),
      };
      break;
    case "connect-stream": {
      const json = Buffer.from(JSON.stringify({ error: connectErrorJson(err) }));
      body = Buffer.alloc(5 + json.length);
      body[0] = 0b10; // end-stream flag
      body.writeUInt32BE(json.length, 1);
      json.copy(body, 5);
      headers = { "content-type": contentType.split(";")[0] ?? "application/connect+proto" };
      break;
    }
    case "connect-unary":
      status = connectSpelling[err.code].status;
      body = Buffer.from(JSON.stringify(connectErrorJson(err)));
      headers = { "content-type": "application/json" };
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
