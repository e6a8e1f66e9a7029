import type * as http from "node:http";
import { create, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import { CoveError, ERROR_DOMAIN, type ErrorCode, percentEncodeGrpcMessage } from "@cove/common";
import { ErrorInfoSchema } from "@cove/gen-ts/google/rpc/error_details_pb.js";
import { StatusSchema } from "@cove/gen-ts/google/rpc/status_pb.js";
import {
  type AnyRequest,
  type AnyResponse,
  type GatewayCode,
  GatewayError,
  GrpcCode,
  type RpcProtocol,
  respondWithError,
} from "@cove/runner/gateway/gateway-errors.js";

/**
 * Codes the runner's respondWithError cannot spell yet (its table holds only the gateway's own
 * codes), with their gRPC number, Connect name and HTTP status. PERMISSION_DENIED is the one the
 * proxy relays from the edge; the rest are here so no CoveError is ever mis-spelled.
 */
const extraCodes: Partial<Record<ErrorCode, { grpc: number; connect: string; status: number }>> = {
  permissionDenied: { grpc: 7, connect: "permission_denied", status: 403 },
  alreadyExists: { grpc: 6, connect: "already_exists", status: 409 },
  aborted: { grpc: 10, connect: "aborted", status: 409 },
  outOfRange: { grpc: 11, connect: "out_of_range", status: 400 },
  unimplemented: { grpc: 12, connect: "unimplemented", status: 501 },
};

/**
 * respondWithCoveError answers an RPC with a CoveError in the caller's own protocol, with a
 * google.rpc.ErrorInfo (reason, domain cove.dev, metadata). It hands every code the runner's
 * respondWithError knows to it, and spells the others (PERMISSION_DENIED …) the same way here.
 */
export function respondWithCoveError(
  req: AnyRequest,
  res: AnyResponse,
  protocol: RpcProtocol,
  err: CoveError,
): void {
  if (err.code in GrpcCode) {
    respondWithError(
      req,
      res,
      protocol,
      new GatewayError(err.code as GatewayCode, err.reason, err.message, err.metadata),
    );
    return;
  }
  const spelling = extraCodes[err.code];
  if (!spelling) {
    respondWithError(req, res, protocol, new GatewayError("internal", "INTERNAL", err.message));
    return;
  }
  req.resume();
  const info = create(ErrorInfoSchema, {
    reason: err.reason,
    domain: ERROR_DOMAIN,
    metadata: err.metadata,
  });
  const stream = "stream" in res ? res.stream : undefined;
  if (stream ? stream.destroyed || stream.headersSent : res.headersSent) {
    res.destroy();
    return;
  }
  let status = 200;
  let headers: Record<string, string | number>;
  let body: Buffer | undefined;
  const contentType = String(req.headers["content-type"] ?? "");
  if (protocol === "grpc" || protocol === "grpc-web") {
    const details = create(StatusSchema, {
      code: spelling.grpc,
      message: err.message,
      details: [anyPack(ErrorInfoSchema, info)],
    });
    headers = {
      "content-type": protocol === "grpc" ? "application/grpc" : "application/grpc-web+proto",
      "grpc-status": String(spelling.grpc),
      "grpc-message": percentEncodeGrpcMessage(err.message),
      "grpc-status-details-bin": Buffer.from(toBinary(StatusSchema, details)).toString("base64"),
    };
  } else {
    const json = {
      code: spelling.connect,
      message: err.message,
      details: [
        {
          type: ErrorInfoSchema.typeName,
          value: Buffer.from(toBinary(ErrorInfoSchema, info)).toString("base64").replace(/=+$/, ""),
        },
      ],
    };
    if (protocol === "connect-stream") {
      const payload = Buffer.from(JSON.stringify({ error: json }));
      body = Buffer.alloc(5 + payload.length);
      body[0] = 0b10;
      body.writeUInt32BE(payload.length, 1);
      payload.copy(body, 5);
      headers = { "content-type": contentType.split(";")[0] ?? "application/connect+proto" };
    } else {
      status = spelling.status;
      body = Buffer.from(JSON.stringify(json));
      headers = { "content-type": "application/json" };
    }
  }
  if (body) headers["content-length"] = body.length;
  if (stream) {
    stream.respond({ ":status": status, ...headers }, { endStream: body === undefined });
    if (body) stream.end(body);
    return;
  }
  (res as http.ServerResponse).writeHead(status, headers);
  (res as http.ServerResponse).end(body);
}

/** asCoveError keeps a CoveError and hides anything else behind INTERNAL. */
export function asCoveError(err: unknown): CoveError {
  return err instanceof CoveError
    ? err
    : new CoveError("unavailable", "INTERNAL", "internal error; the proxy logged the cause");
}
