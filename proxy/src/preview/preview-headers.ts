import type * as http from "node:http";
import type * as http2 from "node:http2";
import { HOP_BY_HOP_HEADERS } from "@cove/common";
import type { Credential } from "../domain/routes.js";
import { bearerCredential } from "../toolbox/bearer-credential.js";
import type { PreviewTarget } from "./preview-target.js";

/** The header a preview token travels in. */
export const PREVIEW_TOKEN_HEADER = "cove-preview-token";
/** The cookie the proxy sets from a signed URL, scoped to exactly one preview host. */
export const PREVIEW_COOKIE = "cove_preview_token";
/** The query parameter of a signed preview URL. */
export const SIGNED_URL_PARAM = "cove_token";

/** Where a preview request's credential came from. */
export type CredentialSource = "header" | "signedUrl" | "cookie" | "authorization" | "none";

/** A preview request's credential, and the path with any signed-URL token removed. */
export interface PreviewCredential {
  /** What to show the edge. */
  credential: Credential;
  /** Where it was found. */
  source: CredentialSource;
  /** target.path without the cove_token parameter. */
  path: string;
}

type AnyHeaders = http.IncomingHttpHeaders | http2.IncomingHttpHeaders;

/** Headers that belong to one hop (RFC 9110 §7.6.1) or that only the proxy may set. */
const DROPPED = new Set([
  ...HOP_BY_HOP_HEADERS,
  "forwarded",
  "x-forwarded-for",
  "x-forwarded-host",
  "x-forwarded-proto",
  "x-forwarded-prefix",
  "x-real-ip",
]);

/** Response headers that must not cross (hop-by-hop; HTTP/2 forbids them). */
const DROPPED_RESPONSE = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "transfer-encoding",
  "upgrade",
  "http2-settings",
]);

/**
 * previewCredential finds the caller's credential, in this order: a signed URL's cove_token
 * (it replaces an older cookie), header cove-preview-token, "authorization: Bearer" with a
 * Cove secret (API key or sandbox token), then the proxy's cookie. None is fine: the sandbox
 * may be public.
 */
export function previewCredential(headers: AnyHeaders, target: PreviewTarget): PreviewCredential {
  const { path, token } = takeQueryParam(target.path, SIGNED_URL_PARAM);
  if (token)
    return { credential: { kind: "signedUrlToken", secret: token }, source: "signedUrl", path };
  const header = headers[PREVIEW_TOKEN_HEADER];
  if (typeof header === "string" && header !== "") {
    return { credential: { kind: "previewToken", secret: header.trim() }, source: "header", path };
  }
  const bearer = bearerCredential(headers.authorization, false);
  if (bearer) return { credential: bearer, source: "authorization", path };
  const cookie = readCookie(headers.cookie, PREVIEW_COOKIE);
  if (cookie)
    return { credential: { kind: "previewToken", secret: cookie }, source: "cookie", path };
  return { credential: { kind: "none" }, source: "none", path };
}

/**
 * upstreamHeaders is what the app in the sandbox receives: the caller's headers without
 * hop-by-hop ones, without every Cove credential (cove-* headers, an authorization header
 * holding a Cove secret, the proxy's cookie) and without forwarding headers the caller could
 * forge; then Host and X-Forwarded-For/-Host/-Proto (and -Prefix for the path form) as the
 * proxy saw them. With `websocket`, Connection and Upgrade are kept for the handshake.
 */
export function upstreamHeaders(
  headers: AnyHeaders,
  target: PreviewTarget,
  info: { clientIp: string; proto: "http" | "https"; websocket: boolean },
): [string, string][] {
  const named = new Set(
    String(headers.connection ?? "")
      .split(",")
      .map((token) => token.trim().toLowerCase())
      .filter(Boolean),
  );
  const out: [string, string][] = [["host", target.authority]];
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || name.startsWith(":") || name.startsWith("cove-")) continue;
    if (DROPPED.has(name) || named.has(name)) continue;
    if (name === "authorization" && bearerCredential(value, false)) continue;
    if (name === "cookie") {
      const kept = withoutCookie(value, PREVIEW_COOKIE);
      if (kept) out.push(["cookie", kept]);
      continue;
    }
    for (const one of Array.isArray(value) ? value : [value]) out.push([name, String(one)]);
  }
  if (info.websocket) {
    out.push(["connection", "Upgrade"], ["upgrade", String(headers.upgrade ?? "websocket")]);
  }
  out.push(
    ["x-forwarded-for", info.clientIp],
    ["x-forwarded-host", target.authority],
    ["x-forwarded-proto", info.proto],
  );
  if (target.mount) out.push(["x-forwarded-prefix", target.mount]);
  return out;
}

/** downstreamHeaders copies the app's response headers without hop-by-hop ones. */
export function downstreamHeaders(headers: http.IncomingHttpHeaders): http.OutgoingHttpHeaders {
  const named = new Set(
    String(headers.connection ?? "")
      .split(",")
      .map((token) => token.trim().toLowerCase()),
  );
  const out: http.OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || DROPPED_RESPONSE.has(name) || named.has(name)) continue;
    out[name] = value;
  }
  return out;
}

/** previewCookie builds the Set-Cookie for a signed URL's token: host-only, HttpOnly, Lax. */
export function previewCookie(token: string, target: PreviewTarget, secure: boolean): string {
  const path = target.mount || "/";
  return `${PREVIEW_COOKIE}=${encodeURIComponent(token)}; Path=${path}; HttpOnly; SameSite=Lax${secure ? "; Secure" : ""}`;
}

/** clearedPreviewCookie expires the proxy's cookie (after the server refused it). */
export function clearedPreviewCookie(target: PreviewTarget, secure: boolean): string {
  const path = target.mount || "/";
  return `${PREVIEW_COOKIE}=; Path=${path}; Max-Age=0; HttpOnly; SameSite=Lax${secure ? "; Secure" : ""}`;
}

/** takeQueryParam removes one parameter from a path's query, keeping the rest byte for byte. */
function takeQueryParam(path: string, name: string): { path: string; token: string | undefined } {
  const q = path.indexOf("?");
  if (q < 0) return { path, token: undefined };
  let token: string | undefined;
  const kept: string[] = [];
  for (const part of path.slice(q + 1).split("&")) {
    const eq = part.indexOf("=");
    const key = safeDecode(eq < 0 ? part : part.slice(0, eq));
    if (key === name) {
      token = safeDecode(eq < 0 ? "" : part.slice(eq + 1)) || token;
      continue;
    }
    kept.push(part);
  }
  const rest = kept.join("&");
  return { path: rest ? `${path.slice(0, q)}?${rest}` : path.slice(0, q), token };
}

function cookiePairs(header: string | string[] | undefined): string[] {
  if (header === undefined) return [];
  return (Array.isArray(header) ? header : [header])
    .flatMap((line) => line.split(";"))
    .map((pair) => pair.trim())
    .filter(Boolean);
}

function readCookie(header: string | string[] | undefined, name: string): string | undefined {
  for (const pair of cookiePairs(header)) {
    const eq = pair.indexOf("=");
    if (eq > 0 && pair.slice(0, eq).trim() === name) {
      const value = safeDecode(pair.slice(eq + 1).trim());
      if (value) return value;
    }
  }
  return undefined;
}

function withoutCookie(header: string | string[], name: string): string {
  return cookiePairs(header)
    .filter((pair) => {
      const eq = pair.indexOf("=");
      return (eq < 0 ? pair : pair.slice(0, eq)).trim() !== name;
    })
    .join("; ");
}

function safeDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, " "));
  } catch {
    return value;
  }
}
