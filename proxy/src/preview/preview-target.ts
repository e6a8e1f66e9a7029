import type * as http from "node:http";
import type * as http2 from "node:http2";

/** A preview request's destination: a port in a sandbox, and the path to ask it for. */
export interface PreviewTarget {
  /** The sandbox (lowercase, as host names are). */
  sandboxId: string;
  /** The TCP port inside the sandbox, 1-65535. */
  port: number;
  /** The path and query to send to the app (the path-form prefix removed). */
  path: string;
  /** "" for the host form; "/preview/<id>/<port>" for the path form (cookie path, redirects). */
  mount: string;
  /** The host the caller addressed (Host, :authority, or the absolute-form URI's authority). */
  authority: string;
}

/** What the proxy makes of a request's host and target. */
export type RequestKind =
  | { kind: "preview"; target: PreviewTarget }
  | { kind: "toolbox" }
  | { kind: "bad"; message: string };

/** The preview host's first label: <port>-<sandbox id>. */
const PREVIEW_LABEL = /^([1-9][0-9]{0,4})-([a-z0-9][a-z0-9_-]{0,127})$/;
/** The path form: /preview/<sandbox id>/<port>[/rest][?query]. */
const PREVIEW_PATH = /^\/preview\/([a-z0-9][a-z0-9_-]{0,127})\/([1-9][0-9]{0,4})(?=$|[/?])/;

/** Options for createRequestClassifier. */
export interface ClassifierOptions {
  /** The preview domain, e.g. "preview.localhost": hosts are <port>-<id>.<domain>. */
  previewDomain: string;
  /** Whether /preview/<id>/<port>/ paths on any host are previews too. */
  pathPreviews: boolean;
}

/**
 * createRequestClassifier tells previews from toolbox calls by host only, never by resolving
 * it: a host <port>-<sandboxId>.<previewDomain> is a preview (and, if allowed, a
 * /preview/<id>/<port>/ path on any host); everything else is a toolbox call. CONNECT is
 * refused, and so is an absolute-form request target unless its authority is a preview host.
 */
export function createRequestClassifier(options: ClassifierOptions) {
  const domain = options.previewDomain.toLowerCase().replace(/^\.+|\.+$/g, "");

  const previewHost = (authority: string): { sandboxId: string; port: number } | undefined => {
    const hostname = hostnameOf(authority);
    if (!hostname.endsWith(`.${domain}`)) return undefined;
    const label = hostname.slice(0, -(domain.length + 1));
    const match = PREVIEW_LABEL.exec(label);
    if (!match) return undefined;
    const port = Number(match[1]);
    if (port > 65535) return undefined;
    return { sandboxId: match[2] ?? "", port };
  };

  return {
    /** previewHost parses <port>-<id>.<domain> (with or without :port); undefined otherwise. */
    previewHost,

    /** classify decides what a request is. */
    classify(req: http.IncomingMessage | http2.Http2ServerRequest): RequestKind {
      if (req.method === "CONNECT") {
        return { kind: "bad", message: "CONNECT is not supported: this is not a forward proxy" };
      }
      let authority = String(req.headers[":authority"] ?? req.headers.host ?? "");
      let path = req.url ?? "/";
      if (!path.startsWith("/")) {
        // Absolute form (RFC 9112 §3.2.2): accepted only for preview hosts, never fetched.
        let url: URL;
        try {
          url = new URL(path);
        } catch {
          return { kind: "bad", message: "the request target must be a path" };
        }
        if ((url.protocol !== "http:" && url.protocol !== "https:") || !previewHost(url.host)) {
          return {
            kind: "bad",
            message: "absolute-form request targets are not supported: this is not a forward proxy",
          };
        }
        authority = url.host;
        path = `${url.pathname}${url.search}`;
      }
      const host = previewHost(authority);
      if (host) return { kind: "preview", target: { ...host, path, mount: "", authority } };
      if (options.pathPreviews && path.startsWith("/preview/")) {
        const match = PREVIEW_PATH.exec(path);
        const port = Number(match?.[2]);
        if (!match || port > 65535) {
          return { kind: "bad", message: "preview paths look like /preview/<sandboxId>/<port>/" };
        }
        const rest = path.slice(match[0].length);
        return {
          kind: "preview",
          target: {
            sandboxId: match[1] ?? "",
            port,
            path: rest.startsWith("/") ? rest : `/${rest}`,
            mount: match[0],
            authority,
          },
        };
      }
      return { kind: "toolbox" };
    },
  };
}

/** hostnameOf strips the port from a host[:port] authority and lowercases it. */
function hostnameOf(authority: string): string {
  const lower = authority.trim().toLowerCase();
  if (lower.startsWith("[")) return lower.slice(0, lower.indexOf("]") + 1);
  const colon = lower.lastIndexOf(":");
  return (colon < 0 ? lower : lower.slice(0, colon)).replace(/\.$/, "");
}
