import * as os from "node:os";
import { type ListenOptions, listenTimeoutsFromEnv } from "@cove/common";
import type { SshGatewayLimits } from "./ssh/ssh-gateway.js";

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
  /** Headers and idle timeouts of the HTTP listener; unset fields keep the defaults. */
  listenTimeouts: Pick<ListenOptions, "headersTimeoutMs" | "idleTimeoutMs">;
  /** The SSH listener's authentication and idle timeouts; unset fields keep the defaults. */
  sshTimeouts: Partial<Pick<SshGatewayLimits, "authTimeoutMs" | "idleTimeoutMs">>;
}

/**
 * loadProxyConfig reads COVE_PROXY_* variables: HOST/PORT (default 127.0.0.1:4000),
 * SERVER_URL (default http://127.0.0.1:3000), TOKEN (required), GATEWAY_TOKEN (required),
 * PREVIEW_DOMAIN (default preview.localhost), PATH_PREVIEWS (default true; "false" turns the
 * /preview/<id>/<port>/ form off), SECURE (default false), ID (default <host>-<pid>),
 * and the listeners' timeouts: COVE_HEADERS_TIMEOUT_MS and COVE_IDLE_TIMEOUT_MS (HTTP, see
 * listenTimeoutsFromEnv), COVE_PROXY_SSH_AUTH_TIMEOUT_MS and COVE_PROXY_SSH_IDLE_TIMEOUT_MS.
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
    listenTimeouts: listenTimeoutsFromEnv(env),
    sshTimeouts: sshTimeoutsFromEnv(env),
  };
}

/**
 * sshTimeoutsFromEnv reads COVE_PROXY_SSH_AUTH_TIMEOUT_MS (a connection must authenticate
 * within it, default 30 s) and COVE_PROXY_SSH_IDLE_TIMEOUT_MS (default 30 min).
 */
export function sshTimeoutsFromEnv(
  env: NodeJS.ProcessEnv,
): Partial<Pick<SshGatewayLimits, "authTimeoutMs" | "idleTimeoutMs">> {
  const out: Partial<Pick<SshGatewayLimits, "authTimeoutMs" | "idleTimeoutMs">> = {};
  const read = (name: string): number | undefined => {
    const raw = env[name];
    if (raw === undefined || raw === "") return undefined;
    const value = Number(raw);
    if (!Number.isInteger(value) || value <= 0) {
      throw new Error(`${name} must be a positive number of milliseconds, not "${raw}"`);
    }
    return value;
  };
  const auth = read("COVE_PROXY_SSH_AUTH_TIMEOUT_MS");
  const idle = read("COVE_PROXY_SSH_IDLE_TIMEOUT_MS");
  if (auth !== undefined) out.authTimeoutMs = auth;
  if (idle !== undefined) out.idleTimeoutMs = idle;
  return out;
}
