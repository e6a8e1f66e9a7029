import type * as http from "node:http";
import type * as http2 from "node:http2";
import { type CoveError, invalidArgument } from "./errors.js";

/** Connection-level headers that never cross a hop (RFC 9110 §7.6.1, RFC 9113 §8.2.2). */
export const HOP_BY_HOP_HEADERS: ReadonlySet<string> = new Set([
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

/** Path prefix for callers that cannot set headers: /sandbox/<id>/<service>/<method>. */
export const SANDBOX_PATH_PREFIX = "/sandbox/";
/** Sandbox ids: what the server issues, and nothing that could escape a path or a header. */
const SANDBOX_ID = /^[A-Za-z0-9][A-Za-z0-9_-]{0,127}$/;

/** Where a relayed call goes: the sandbox it names (if any) and the path for the next hop. */
export interface SandboxRoute {
  /** The sandbox from header cove-sandbox-id or the /sandbox/<id>/ prefix; undefined if neither. */
  sandboxId: string | undefined;
  /** The request's path (and query) without the sandbox prefix. */
  path: string;
}

/**
 * sandboxRouteOf finds the sandbox a call names (header, or path prefix which is then removed)
 * and the path to call next. A malformed id, or a header and a prefix that disagree, is
 * INVALID_ARGUMENT.
 */
export function sandboxRouteOf(
  url: string,
  headers: http.IncomingHttpHeaders | http2.IncomingHttpHeaders,
): SandboxRoute {
  const header = headers[SANDBOX_ID_HEADER];
  let sandboxId: string | undefined;
  if (header !== undefined) {
    if (typeof header !== "string" || !SANDBOX_ID.test(header)) throw invalidSandboxId();
    sandboxId = header;
  }
  if (!url.startsWith(SANDBOX_PATH_PREFIX)) return { sandboxId, path: url };
  const end = url.indexOf("/", SANDBOX_PATH_PREFIX.length);
  const fromPath = url.slice(SANDBOX_PATH_PREFIX.length, end < 0 ? undefined : end);
  if (end < 0 || !SANDBOX_ID.test(fromPath)) throw invalidSandboxId();
  if (sandboxId !== undefined && sandboxId !== fromPath) {
    throw invalidArgument(
      SANDBOX_ID_HEADER,
      `the header names sandbox ${sandboxId} but the path names ${fromPath}`,
    );
  }
  return { sandboxId: fromPath, path: url.slice(end) };
}

/** missingSandboxId is the INVALID_ARGUMENT for a call that names no sandbox. */
export function missingSandboxId(): CoveError {
  return invalidArgument(
    SANDBOX_ID_HEADER,
    "name the sandbox in this header or as a /sandbox/<id>/ path prefix",
  );
}

function invalidSandboxId(): CoveError {
  return invalidArgument(SANDBOX_ID_HEADER, 'not a sandbox id (1-128 letters, digits, "_" or "-")');
}

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
    if (HOP_BY_HOP_HEADERS.has(name) || GATEWAY_PRIVATE_HEADERS.has(name) || named.has(name))
      continue;
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
    if (value === undefined || name.startsWith(":") || HOP_BY_HOP_HEADERS.has(name)) continue;
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
