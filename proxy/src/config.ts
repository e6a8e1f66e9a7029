import * as os from "node:os";

/** Everything the proxy needs to know at start-up. */
export interface ProxyConfig {
  /** Where the proxy listens for toolbox calls and previews. */
  listen: { host: string; port: number };
  /** The API server's URL, where EdgeService answers, e.g. http://127.0.0.1:3000. */
  serverUrl: string;
  /** The proxy's service token for EdgeService (authorization: Bearer). */
  proxyToken: string;
  /** The runners' shared gateway secret (header cove-gateway-token). */
  gatewayToken: string;
  /** Preview hosts are <port>-<sandboxId>.<previewDomain>. */
  previewDomain: string;
  /** Whether /preview/<sandboxId>/<port>/ paths reach previews too. */
  pathPreviews: boolean;
  /** Whether callers reach the proxy over TLS (a terminating load balancer in front). */
  secure: boolean;
  /** Names this process in the server's logs. */
  proxyId: string;
}

/**
 * loadProxyConfig reads COVE_PROXY_* variables: HOST/PORT (default 127.0.0.1:4000),
 * SERVER_URL (default http://127.0.0.1:3000), TOKEN (required), GATEWAY_TOKEN (required),
 * PREVIEW_DOMAIN (default preview.localhost), PATH_PREVIEWS (default true; "false" turns the
 * /preview/<id>/<port>/ form off), SECURE (default false), ID (default <host>-<pid>).
 */
export function loadProxyConfig(env: NodeJS.ProcessEnv): ProxyConfig {
  const required = (name: string) => {
    const value = env[name];
    if (!value) throw new Error(`${name} must be set`);
    return value;
  };
  const flag = (name: string, fallback: boolean) => {
    const value = env[name]?.toLowerCase();
    if (value === undefined || value === "") return fallback;
    return value === "1" || value === "true" || value === "yes";
  };
  const port = Number(env.COVE_PROXY_PORT ?? 4000);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new Error("COVE_PROXY_PORT must be a port number");
  }
  return {
    listen: { host: env.COVE_PROXY_HOST ?? "127.0.0.1", port },
    serverUrl: env.COVE_PROXY_SERVER_URL ?? "http://127.0.0.1:3000",
    proxyToken: required("COVE_PROXY_TOKEN"),
    gatewayToken: required("COVE_PROXY_GATEWAY_TOKEN"),
    previewDomain: env.COVE_PROXY_PREVIEW_DOMAIN ?? "preview.localhost",
    pathPreviews: flag("COVE_PROXY_PATH_PREVIEWS", true),
    secure: flag("COVE_PROXY_SECURE", false),
    proxyId: env.COVE_PROXY_ID ?? `${os.hostname()}-${process.pid}`,
  };
}
