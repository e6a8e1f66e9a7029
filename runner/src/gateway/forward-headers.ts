import type * as http from "node:http";
import type * as http2 from "node:http2";

/** Connection-level headers that never cross a hop (RFC 9110 §7.6.1, RFC 9113 §8.2.2). */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authorization",
  "transfer-encoding",
  "upgrade",
  "http2-settings",
  "host",
  "te",
]);

/** Cove's own routing and credential headers: meant for the gateway, never for the daemon. */
export const GATEWAY_PRIVATE_HEADERS = new Set([
  "cove-gateway-token",
  "cove-sandbox-id",
  "authorization",
  "cove-preview-token",
  "cookie",
]);

/** The request header that names the sandbox a call is for. */
export const SANDBOX_ID_HEADER = "cove-sandbox-id";
/** The request header carrying the proxy's shared secret. */
export const GATEWAY_TOKEN_HEADER = "cove-gateway-token";

type HeaderValue = string | string[] | number | undefined;

/** connectionTokens lists the headers an HTTP/1.1 Connection header names as hop-by-hop. */
function connectionTokens(value: HeaderValue): Set<string> {
  const tokens = new Set<string>();
  if (value === undefined) return tokens;
  for (const part of String(value).split(",")) {
    const token = part.trim().toLowerCase();
    if (token) tokens.add(token);
  }
  return tokens;
}

/**
 * upstreamRequestHeaders builds the headers of the call to the daemon: the caller's headers
 * without pseudo-headers, hop-by-hop headers and Cove's credentials, plus the new path.
 * grpc-timeout and connect-timeout-ms pass through, so the daemon enforces the deadline.
 */
export function upstreamRequestHeaders(
  incoming: http.IncomingHttpHeaders | http2.IncomingHttpHeaders,
  method: string,
  path: string,
): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = { ":method": method, ":path": path, ":scheme": "http" };
  const named = connectionTokens(incoming.connection);
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || name.startsWith(":")) continue;
    if (HOP_BY_HOP.has(name) || GATEWAY_PRIVATE_HEADERS.has(name) || named.has(name)) continue;
    out[name] = value;
  }
  // gRPC over HTTP/2 requires "te: trailers"; it is the only TE value HTTP/2 allows.
  if (String(incoming["content-type"] ?? "").startsWith("application/grpc")) {
    if (!String(incoming["content-type"]).startsWith("application/grpc-web")) {
      out.te = "trailers";
    }
  }
  return out;
}

/** downstreamHeaders copies the daemon's response headers or trailers without pseudo and hop-by-hop ones. */
export function downstreamHeaders(
  incoming: http2.IncomingHttpHeaders,
): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(incoming)) {
    if (value === undefined || name.startsWith(":") || HOP_BY_HOP.has(name)) continue;
    out[name] = value;
  }
  return out;
}

const TIMEOUT_UNITS_MS: Record<string, number> = {
  H: 3_600_000,
  M: 60_000,
  S: 1_000,
  m: 1,
  u: 0.001,
  n: 0.000_001,
};

/** deadlineMs reads a call's timeout from grpc-timeout or connect-timeout-ms; undefined if none. */
export function deadlineMs(
  headers: http.IncomingHttpHeaders | http2.IncomingHttpHeaders,
): number | undefined {
  const grpc = headers["grpc-timeout"];
  if (typeof grpc === "string") {
    const match = /^(\d{1,8})([HMSmun])$/.exec(grpc);
    if (match) return Number(match[1]) * (TIMEOUT_UNITS_MS[match[2] ?? "S"] ?? 1_000);
  }
  const connect = headers["connect-timeout-ms"];
  if (typeof connect === "string" && /^\d{1,10}$/.test(connect)) return Number(connect);
  return undefined;
}
