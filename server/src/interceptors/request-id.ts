/**
 * The outermost interceptor: gives every call a request id (kRequestId, echoed in the
 * "x-request-id" response header and in the ErrorInfo of errors), records the caller's IP
 * (kClientIp), and logs how each call ended.
 */
import { Code, ConnectError, createContextKey, type Interceptor } from "@connectrpc/connect";
import type { Logger } from "@cove/common";
import { ErrorInfoSchema } from "@cove/gen-ts/google/rpc/error_details_pb.js";
import { randomId } from "../ids.js";
import { kPrincipal, kRequestId } from "../principal.js";

/** The header a request id arrives in and is returned in. */
export const REQUEST_ID_HEADER = "x-request-id";

/**
 * The header that carries the caller's IP from the listening socket to the interceptors (Connect
 * interceptors do not see the socket). Only trusted when the server stamps it itself: wrap the
 * node handler with stampClientIp, and pass trustClientIpHeader.
 */
export const CLIENT_IP_HEADER = "x-cove-client-ip";

/** kClientIp carries the caller's IP address ("" when unknown). */
export const kClientIp = createContextKey<string>("", { description: "client ip" });

const INBOUND_ID = /^[A-Za-z0-9._:-]{1,64}$/;

/**
 * stampClientIp overwrites CLIENT_IP_HEADER on a node request with the socket's peer address,
 * so that whatever a client sent in it is never believed. Call it in front of the Connect
 * handler: `(req, res) => { stampClientIp(req); handler(req, res); }`.
 */
export function stampClientIp(req: {
  headers: Record<string, string | string[] | undefined>;
  socket?: { remoteAddress?: string } | null;
}): void {
  req.headers[CLIENT_IP_HEADER] = req.socket?.remoteAddress ?? "";
}

/** The gRPC status code names, by number. */
export const CODE_NAMES: readonly string[] = [
  "OK",
  "CANCELLED",
  "UNKNOWN",
  "INVALID_ARGUMENT",
  "DEADLINE_EXCEEDED",
  "NOT_FOUND",
  "ALREADY_EXISTS",
  "PERMISSION_DENIED",
  "RESOURCE_EXHAUSTED",
  "FAILED_PRECONDITION",
  "ABORTED",
  "OUT_OF_RANGE",
  "UNIMPLEMENTED",
  "INTERNAL",
  "UNAVAILABLE",
  "DATA_LOSS",
  "UNAUTHENTICATED",
];

/** codeName returns the gRPC status code name of whatever a call failed with. */
export function codeName(err: unknown): string {
  const code = err instanceof ConnectError ? err.code : Code.Unknown;
  return CODE_NAMES[code] ?? "UNKNOWN";
}

/** Options of the request id interceptor. */
export interface RequestIdOptions {
  /** Where call outcomes are logged. */
  logger: Logger;
  /** Believe CLIENT_IP_HEADER (only when the server stamps it, see stampClientIp). */
  trustClientIpHeader?: boolean;
}

/** createRequestIdInterceptor builds the outermost interceptor (request id, client IP, logging). */
export function createRequestIdInterceptor(options: RequestIdOptions): Interceptor {
  const { logger } = options;
  return (next) => async (req) => {
    const inbound = req.header.get(REQUEST_ID_HEADER);
    const requestId = inbound && INBOUND_ID.test(inbound) ? inbound : `req_${randomId(16)}`;
    req.contextValues.set(kRequestId, requestId);
    if (options.trustClientIpHeader) {
      req.contextValues.set(kClientIp, req.header.get(CLIENT_IP_HEADER) ?? "");
    }
    const procedure = `${req.service.typeName}/${req.method.name}`;
    const started = Date.now();
    const done = (err: unknown) => {
      const principal = req.contextValues.get(kPrincipal);
      const fields = {
        requestId,
        procedure,
        code: err === undefined ? "OK" : codeName(err),
        ms: Date.now() - started,
        organizationId: principal?.kind === "apiKey" ? principal.organizationId : undefined,
      };
      if (err === undefined) logger.debug("call", fields);
      else logger.info("call failed", fields);
    };
    const tag = (err: unknown): unknown => {
      if (err instanceof ConnectError) {
        err.metadata.set(REQUEST_ID_HEADER, requestId);
        for (const detail of err.details) {
          if ("desc" in detail && detail.desc.typeName === ErrorInfoSchema.typeName) {
            const info = detail.value as { metadata?: Record<string, string> };
            info.metadata = { ...info.metadata, requestId };
          }
        }
      }
      done(err);
      return err;
    };
    let res: Awaited<ReturnType<typeof next>>;
    try {
      res = await next(req);
    } catch (err) {
      throw tag(err);
    }
    res.header.set(REQUEST_ID_HEADER, requestId);
    if (!res.stream) {
      done(undefined);
      return res;
    }
    const messages = res.message;
    return {
      ...res,
      message: (async function* () {
        try {
          yield* messages;
        } catch (err) {
          throw tag(err);
        }
        done(undefined);
      })(),
    };
  };
}
