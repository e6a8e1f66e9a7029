import { cors } from "@connectrpc/connect";

/** Which browser origins may call a Cove server. */
export interface CorsPolicy {
  /** Allowed origins; "*" allows any (safe: Cove credentials are headers, never cookies). */
  allowedOrigins: readonly string[] | "*";
}

/** Headers a browser may send to Cove besides Connect's own. */
const COVE_HEADERS = ["Authorization", "Cove-Sandbox-Id", "Cove-Preview-Token", "X-Request-Id"];

type HeaderRequest = { method?: string; headers: Record<string, string | string[] | undefined> };
type HeaderResponse = {
  setHeader(name: string, value: string | string[]): unknown;
  writeHead(status: number, headers?: Record<string, string>): unknown;
  end(): unknown;
};

/**
 * applyCors answers CORS preflights and marks responses readable by allowed origins, so the
 * Connect-Web and gRPC-Web clients in a page on another origin can call Connect and gRPC-Web
 * endpoints. Returns true when it answered the request itself (a preflight).
 */
export function applyCors(policy: CorsPolicy, req: HeaderRequest, res: HeaderResponse): boolean {
  const origin = req.headers.origin;
  if (typeof origin !== "string") return false;
  const allowed = policy.allowedOrigins === "*" || policy.allowedOrigins.includes(origin);
  if (!allowed) return false;
  res.setHeader("access-control-allow-origin", policy.allowedOrigins === "*" ? "*" : origin);
  res.setHeader("vary", "Origin");
  res.setHeader(
    "access-control-expose-headers",
    [...cors.exposedHeaders, "Cove-Request-Id"].join(", "),
  );
  if (req.method !== "OPTIONS" || !req.headers["access-control-request-method"]) return false;
  res.writeHead(204, {
    "access-control-allow-methods": cors.allowedMethods.join(", "),
    "access-control-allow-headers": [...cors.allowedHeaders, ...COVE_HEADERS].join(", "),
    "access-control-max-age": "7200",
  });
  res.end();
  return true;
}
